"""Local signing speed: the official SDK's `auth.mint()` in sign mode against our signer, on the
same RSA-2048 key, in one run; prints both medians and the ratio.

Usage (from the workspace root):
    cargo build --release -p behest-desktop-tests --bin sign_bench
    .venv/bin/python tests/sdk/bench_sign.py [N]   # N signs per side, default 2000

The key is generated with openssl into a temp dir. Our side runs `target/release/sign_bench`
(override with SIGN_BENCH=/path); each side parses the key once and warms up before timing.
"""

import base64
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time


def sdk_medians(pem, n):
    os.environ.update({
        "BEHEST_KEY": base64.b64encode(pem.encode()).decode(),
        "BEHEST_KID": "kid_bench",
        "BEHEST_TENANT_ID": "ten_bench",
        "BEHEST_PROJECT_ID": "prj_bench",
    })
    from behest import v1_5

    client = v1_5.Behest()
    assert client.mode == "sign"
    for _ in range(50):  # parse and cache the key, warm up
        client.auth.mint(user_id="alice", session_id="sess-bench")
    samples = []
    for _ in range(n):
        t0 = time.perf_counter_ns()
        client.auth.mint(user_id="alice", session_id="sess-bench")
        samples.append((time.perf_counter_ns() - t0) / 1000.0)
    return statistics.median(samples), statistics.mean(samples)


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(root, "target"))
    rust = os.environ.get("SIGN_BENCH", os.path.join(target, "release", "sign_bench"))
    if not os.path.isfile(rust):
        sys.exit("missing %s: run `cargo build --release -p behest-desktop-tests --bin sign_bench`" % rust)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "key.pem")
        subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", path],
                       check=True, capture_output=True)
        pem = open(path).read()
        sdk_median, sdk_mean = sdk_medians(pem, n)
        out = subprocess.run([rust, path, str(n)], check=True, capture_output=True, text=True).stdout
    ours = json.loads(out)
    print(json.dumps({
        "signs_per_side": n,
        "sdk_median_us": round(sdk_median, 1),
        "sdk_mean_us": round(sdk_mean, 1),
        "ours_median_us": round(ours["median_us"], 1),
        "ours_mean_us": round(ours["mean_us"], 1),
        "sdk_over_ours_median": round(sdk_median / ours["median_us"], 2),
    }))


if __name__ == "__main__":
    main()

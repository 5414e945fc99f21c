"""Signs one token with the official SDK's `auth.mint()` in sign mode, for the compatibility
test (tests/tests/auth_sdk_compat.rs).

Reads BEHEST_KEY (a bare base64 PEM), BEHEST_KID, BEHEST_TENANT_ID, BEHEST_PROJECT_ID from the
environment (the SDK's own configuration) and the mint options as JSON on argv[1]
(`{"user_id":…,"tier":…,"ttl":…,"session_id":…}`); prints `{"token": …}`.
"""

import json
import sys

from behest import v1_5


def main():
    opts = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
    client = v1_5.Behest()
    assert client.mode == "sign", "expected sign mode, got %r" % client.mode
    result = client.auth.mint(**{k: v for k, v in opts.items() if v is not None})
    print(json.dumps({"token": result.token, "session_id": result.session_id, "ttl": result.ttl}))


if __name__ == "__main__":
    main()

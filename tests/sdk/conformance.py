"""Runs the official Behest Python SDK (behest-ai 1.5.0b1) against a local gateway.

Input: the gateway's announcement JSON in the BEHEST_GATEWAY environment variable (the line
`behest-desktop gateway --port 0 --faults` prints). Output: one JSON object per case on stdout,
`{"case": name, "ok": true|false, ...observations}`; the Rust test (tests/tests/sdk_conformance.rs)
asserts on them. A case never prints a token or key, only what it observed about them.
"""

import base64
import json
import os
import sys
import traceback

import httpx

import behest
from behest.v1_5 import (
    Behest,
    BehestAuthError,
    BehestError,
    BehestQuotaError,
    BehestRateLimitError,
    BehestServerError,
    decode_token,
)

from helpers import error_facts, script_fault, clear_faults

GW = json.loads(os.environ["BEHEST_GATEWAY"])
BASE = GW["base_url"]
MESSAGES = [{"role": "user", "content": "Hello from the SDK"}]


def emit(case, **facts):
    print(json.dumps({"case": case, **facts}), flush=True)


def api_client(**extra):
    return Behest(key=GW["api_key"], base_url=BASE, **extra)


def sign_client(key):
    return Behest(
        key=key,
        base_url=BASE,
        kid=GW["kid"],
        tenant_id=GW["tenant_id"],
        project_id=GW["project_id"],
    )


def case_apikey_mint():
    b = api_client()
    assert b.mode == "apiKey", b.mode
    r = b.auth.mint(user_id="alice", tier=2, session_id="sess-sdk-1", ttl=900)
    claims = decode_token(r.token)
    return {
        "ok": True,
        "claims": claims,
        "claim_order": list(claims.keys()),
        "session_id": r.session_id,
        "ttl": r.ttl,
        "last_session_id": b.auth.last_session_id,
    }


def case_chat_non_streaming():
    b = api_client()
    c = b.chat.completions.create(messages=MESSAGES, user_id="alice")
    return {
        "ok": True,
        "object": c["object"],
        "content": c["choices"][0]["message"]["content"],
        "finish_reason": c["choices"][0]["finish_reason"],
        "usage": c["usage"],
    }


def case_chat_streaming():
    b = api_client()
    chunks = list(b.chat.completions.create(messages=MESSAGES, stream=True, user_id="alice",
                                            stream_options={"include_usage": True}))
    content = [c for c in chunks if c.get("choices")]
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in content)
    return {
        "ok": True,
        "chunks": len(chunks),
        "first_role": content[0]["choices"][0]["delta"].get("role"),
        "last_finish_reason": content[-1]["choices"][0].get("finish_reason"),
        "usage": chunks[-1].get("usage"),
        "text": text,
    }


def case_sign_mode_raw_pem():
    b = sign_client("behest_pk_" + GW["signing_key_pem"])
    assert b.mode == "sign", b.mode
    claims = decode_token(b.auth.mint(user_id="bob").token)
    c = b.chat.completions.create(messages=MESSAGES, user_id="bob")
    return {"ok": True, "mode": b.mode, "claims": claims, "content": c["choices"][0]["message"]["content"]}


def case_sign_mode_base64_pem():
    key = base64.b64encode(GW["signing_key_pem"].encode()).decode()
    b = sign_client(key)
    text = "".join(
        (ch["choices"][0]["delta"].get("content") or "") if ch.get("choices") else ""
        for ch in b.chat.completions.create(messages=MESSAGES, stream=True, user_id="carol")
    )
    return {"ok": True, "mode": b.mode, "text": text}


def case_threads():
    b = api_client()
    token = b.auth.mint(user_id="dora").token
    r = httpx.post(
        BASE + "/v1/chat/completions",
        headers={"Authorization": "Bearer " + token, "X-Thread-Id": "thread_sdk_1"},
        json={"messages": [{"role": "user", "content": "remember me"}]},
    )
    assert r.status_code == 200, r.status_code
    listed = b.threads.list(user_id="dora")
    one = b.threads.get("thread_sdk_1", user_id="dora")
    messages = b.threads.messages("thread_sdk_1", user_id="dora")
    others = b.threads.list(user_id="eve")
    deleted = b.threads.delete("thread_sdk_1", user_id="dora")
    after = b.threads.list(user_id="dora")
    return {
        "ok": True,
        "listed": [t["id"] for t in listed],
        "get_id": one["id"],
        "roles": [m["role"] for m in messages],
        "others": others,
        "deleted": deleted,
        "after": after,
    }


def case_usage():
    b = api_client(default_user_id="frank")
    b.chat.completions.create(messages=MESSAGES)
    u = b.usage.get(granularity="day")
    return {"ok": True, "tokens": u["totals"]["tokens"], "breakdown": len(u["breakdown"])}


def case_error_401_bad_key():
    b = Behest(key="behest_sk_live_" + "0" * 32, base_url=BASE)
    try:
        b.auth.mint(user_id="alice")
    except BehestError as e:
        return {"ok": True, **error_facts(e)}
    return {"ok": False}


def case_error_401_bad_token():
    b = api_client()
    try:
        b.chat.completions.create(messages=MESSAGES, token="not.a.jwt")
    except BehestError as e:
        return {"ok": True, **error_facts(e)}
    return {"ok": False}


def case_error_403_wrong_project():
    b = Behest(key="behest_pk_" + GW["signing_key_pem"], base_url=BASE, kid=GW["kid"],
               tenant_id=GW["tenant_id"], project_id="prj_someone_else")
    try:
        b.chat.completions.create(messages=MESSAGES)
    except BehestError as e:
        return {"ok": True, **error_facts(e)}
    return {"ok": False}


def scripted_chat_error(route, fault, stream=False):
    script_fault(BASE, route, fault)
    b = api_client()
    try:
        result = b.chat.completions.create(messages=MESSAGES, stream=stream)
        if stream:
            list(result)
    except BehestError as e:
        return {"ok": True, **error_facts(e)}
    finally:
        clear_faults(BASE)
    return {"ok": False}


def case_error_402():
    body = json.dumps({"error": {"code": "quota_exceeded", "message": "daily token cap reached",
                                 "details": {"tier": "free", "limit": {"tokens_per_day": 50000},
                                             "usage": {"tokens_today": 50123}}}})
    return scripted_chat_error("chat", {"status": 402, "body": body})


def case_error_429():
    return scripted_chat_error("chat", {"status": 429, "retry_after": 3})


def case_error_503():
    return scripted_chat_error("chat", {"status": 503})


def case_error_500_streaming():
    return scripted_chat_error("chat", {"status": 500}, stream=True)


def case_mid_stream_malformed():
    return scripted_chat_error("chat", {"malformed_after": 2}, stream=True)


def case_real_quota_402():
    """Tier 3 is configured with one request a day: the second chat hits the real limiter."""
    b = api_client(tier=3, default_user_id="quota-user")
    b.chat.completions.create(messages=MESSAGES)
    try:
        b.chat.completions.create(messages=MESSAGES)
    except BehestError as e:
        return {"ok": True, **error_facts(e)}
    return {"ok": False}


def case_real_rate_limit_429():
    """Tier 2 is configured with one request a minute: the second chat is rate limited."""
    b = api_client(tier=2, default_user_id="rate-user")
    b.chat.completions.create(messages=MESSAGES)
    try:
        b.chat.completions.create(messages=MESSAGES)
    except BehestError as e:
        return {"ok": True, **error_facts(e)}
    return {"ok": False}


def case_usage_not_supported():
    script_fault(BASE, "usage", {"status": 404})
    try:
        api_client().usage.get()
    except BehestError as e:
        return {"ok": True, **error_facts(e)}
    finally:
        clear_faults(BASE)
    return {"ok": False}


CASES = [
    case_apikey_mint,
    case_chat_non_streaming,
    case_chat_streaming,
    case_sign_mode_raw_pem,
    case_sign_mode_base64_pem,
    case_threads,
    case_usage,
    case_error_401_bad_key,
    case_error_401_bad_token,
    case_error_403_wrong_project,
    case_error_402,
    case_error_429,
    case_error_503,
    case_error_500_streaming,
    case_mid_stream_malformed,
    case_usage_not_supported,
    case_real_quota_402,
    case_real_rate_limit_429,
]


def main():
    emit("sdk", ok=True, version=getattr(behest, "__version__", None))
    for case in CASES:
        name = case.__name__[len("case_"):]
        try:
            emit(name, **case())
        except Exception as exc:  # report, never crash: the Rust side names the failing case
            emit(name, ok=False, exception=type(exc).__name__, where=traceback.format_exc(limit=3)[-600:])
    return 0


if __name__ == "__main__":
    sys.exit(main())

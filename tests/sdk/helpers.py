"""Helpers for conformance.py: fault scripting through the gateway's admin route, and the
observable facts of an SDK error (class, status, code, retry_after, trace id presence)."""

import httpx


def script_fault(base, route, fault, times=1):
    r = httpx.post(base + "/__behest/faults", json={"route": route, "fault": fault, "times": times})
    if r.status_code != 204:
        raise RuntimeError("fault scripting failed: HTTP %d (is the gateway run with --faults?)" % r.status_code)


def clear_faults(base):
    httpx.delete(base + "/__behest/faults")


def error_facts(e):
    return {
        "class": type(e).__name__,
        "status": getattr(e, "status", None),
        "code": getattr(e, "code", None),
        "retry_after": getattr(e, "retry_after", None),
        "has_trace_id": bool(getattr(e, "trace_id", None)),
        "details": (e.raw or {}).get("error", {}).get("details") if isinstance(getattr(e, "raw", None), dict) else None,
    }

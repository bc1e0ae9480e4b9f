"""The auth check: every RPC expected to need a token, called without one, with a malformed one and
with an expired one, must be refused with UNAUTHENTICATED. Seed 004 found a service that was not.

A pure function over the history: the probe's calls are ops with scenario `auth:<case>`
(none / malformed / expired), `f` the RPC, `args.expected` "protected" or "public" (older
histories have no `expected`: protected). Each protected call that answered anything else is an
anomaly naming the RPC; a call that got no answer (info) cannot be judged and makes the section
UNKNOWN. What the service does is reported as discovered: `needs_token` (refused without a token)
and `answers_without_token`, whatever was expected.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

PREFIX = "auth:"
UNAUTHENTICATED = 16
CODE_NAMES = ("OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS",
              "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE",
              "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED")
CASE_TEXT = {"none": "without a token", "malformed": "with a malformed token", "expired": "with an expired token"}


def code_name(status: int | None) -> str:
    return CODE_NAMES[status] if status is not None and 0 <= status < len(CODE_NAMES) else f"status {status}"


def check_auth(ops: Iterable[dict[str, Any]], not_probed: Iterable[str] = ()) -> dict[str, Any]:
    """The `auth` verdict section. `not_probed`: sentences saying which case could not be probed
    and why (no expired token could be had in time)."""
    anomalies: list[dict[str, Any]] = []
    unknown = list(not_probed)
    probed: dict[str, dict[str, str]] = {}
    needs_token, answers_without, public = set(), set(), set()
    for op in ops:
        scenario = op.get("scenario") or ""
        if not scenario.startswith(PREFIX):
            continue
        case, rpc = scenario[len(PREFIX):], op["f"]
        expected = (op.get("args") or {}).get("expected", "protected")
        got = code_name(op.get("status"))
        probed.setdefault(rpc, {})[case] = got
        if expected == "public":
            public.add(rpc)
        if op["type"] == "info":
            unknown.append(f"the auth probe of {rpc} {CASE_TEXT.get(case, case)} got no answer ({op.get('error')}); "
                           f"run again when the service is reachable")
            continue
        if case == "none":
            (needs_token if op.get("status") == UNAUTHENTICATED else answers_without).add(rpc)
        if expected != "public" and op.get("status") != UNAUTHENTICATED:
            anomalies.append({"type": "auth_not_enforced", "rpc": rpc, "case": case, "got": got,
                              "message": f"{rpc} called {CASE_TEXT.get(case, case)} answered {got}, "
                                         f"not UNAUTHENTICATED: the service does not check tokens on it"})
    if not probed:
        unknown.append("the auth probe made no calls: the service declares no RPC besides the sign-in")
    elif not set(probed) - public:
        unknown.append("the auth probe had no RPC expected to need a token: every RPC was named --public")
    section: dict[str, Any] = {"valid": not anomalies, "probed": probed, "anomalies": anomalies,
                               "needs_token": sorted(needs_token), "answers_without_token": sorted(answers_without),
                               "expected_public": sorted(public)}
    if unknown:
        section["unknown_reasons"] = unknown
    return section

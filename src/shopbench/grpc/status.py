"""gRPC status -> history outcome (ok / fail / info): the one mapping, used by every gRPC call.

  OK                                                      ok
  INVALID_ARGUMENT, NOT_FOUND, ALREADY_EXISTS,
  PERMISSION_DENIED, UNAUTHENTICATED, FAILED_PRECONDITION fail  (the server refused: nothing happened)
  UNAVAILABLE before the request was sent                 fail  (no connection: the server never saw it)
  DEADLINE_EXCEEDED, UNAVAILABLE after sending,
  INTERNAL, UNKNOWN, and anything else                    info  (it may or may not have happened)

"Before it was sent" is read from grpcio's error text: a call that failed because no connection
could be made says so ("failed to connect", "connection refused", …); a connection lost mid-call
("socket closed", "connection reset", "GOAWAY") is after sending.
"""

from __future__ import annotations

import grpc

from shopbench.history import FAIL, INFO, OK

REFUSALS = frozenset({
    grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND, grpc.StatusCode.ALREADY_EXISTS,
    grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.FAILED_PRECONDITION,
})
NOT_CONNECTED = ("failed to connect", "connection refused", "connect failed", "name resolution",
                 "dns resolution failed", "no route to host", "network is unreachable", "connection timed out")


def never_sent(text: str | None) -> bool:
    """The error text of an UNAVAILABLE says no connection was ever made for this call."""
    low = (text or "").lower()
    return any(marker in low for marker in NOT_CONNECTED)


def outcome(code: grpc.StatusCode, text: str | None = None) -> str:
    """The history `type` of a call that ended with `code`; `text` is the error's details and debug
    string (only UNAVAILABLE reads it)."""
    if code == grpc.StatusCode.OK:
        return OK
    if code in REFUSALS:
        return FAIL
    if code == grpc.StatusCode.UNAVAILABLE and never_sent(text):
        return FAIL
    return INFO

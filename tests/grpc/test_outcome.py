"""The one status mapping, and its "never sent" branch on a real refused connection."""

from __future__ import annotations

import grpc
import pytest

from shopbench.grpc.client import GrpcClient
from shopbench.grpc.outcome import outcome
from shopbench.grpc.protos import compile_dir
from shopbench.grpc.service import reference_protos
from shopbench.history import MemoryHistory
from shopbench.processes import free_port

S = grpc.StatusCode


@pytest.mark.parametrize("code,text,kind", [
    (S.OK, None, "ok"),
    (S.INVALID_ARGUMENT, "", "fail"),
    (S.NOT_FOUND, "", "fail"),
    (S.ALREADY_EXISTS, "", "fail"),
    (S.PERMISSION_DENIED, "", "fail"),
    (S.UNAUTHENTICATED, "", "fail"),
    (S.FAILED_PRECONDITION, "", "fail"),
    (S.UNAVAILABLE, "failed to connect to all addresses; last error: UNKNOWN: ipv4:127.0.0.1:1: "
                    "Failed to connect to remote host: Connection refused", "fail"),
    (S.UNAVAILABLE, "Socket closed", "info"),
    (S.UNAVAILABLE, "Connection reset by peer", "info"),
    (S.UNAVAILABLE, None, "info"),
    (S.DEADLINE_EXCEEDED, "Deadline Exceeded", "info"),
    (S.INTERNAL, "", "info"),
    (S.UNKNOWN, "Exception calling application", "info"),
    (S.RESOURCE_EXHAUSTED, "", "info"),
])
def test_status_mapping(code: grpc.StatusCode, text: str | None, kind: str) -> None:
    assert outcome(code, text) == kind


def test_refused_connection_is_a_definite_fail() -> None:
    history = MemoryHistory()
    client = GrpcClient(f"127.0.0.1:{free_port()}", compile_dir(reference_protos()), history, "t", deadline=2)
    try:
        result = client.call("GetVacancy", {"Id": "x"}, args={"id": "x"})
    finally:
        client.close()
    assert (result.kind, result.code) == ("fail", "UNAVAILABLE")
    op = history.ops[0]
    assert (op.f, op.type, op.status, op.args) == ("GetVacancy", "fail", 14, {"id": "x"})


def test_deadline_is_indeterminate(make_service) -> None:
    """A deadline too short to answer in: the call may have run, so it is info."""
    service = make_service()
    history = MemoryHistory()
    client = GrpcClient(service.target, compile_dir(reference_protos()), history, "t")
    try:
        result = client.call("SignInUser", {"email": "a", "password": "b"}, token=None, deadline=0.000001)
    finally:
        client.close()
    assert (result.kind, result.code) == ("info", "DEADLINE_EXCEEDED")

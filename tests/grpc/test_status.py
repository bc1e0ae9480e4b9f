"""The one status mapping, and its "never sent" branch on a real refused connection."""

from __future__ import annotations

import grpc
import pytest

from shopbench.grpc.client import GrpcClient
from shopbench.grpc.protos import compile_dir
from shopbench.grpc.service import reference_protos
from shopbench.grpc.status import outcome
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


def test_deadline_is_indeterminate(blocking_server) -> None:
    """A server that cannot answer in time (its handler blocks until the test releases it): the
    call may have run, so it is info."""
    target, release = blocking_server
    history = MemoryHistory()
    client = GrpcClient(target, compile_dir(reference_protos()), history, "t")
    try:
        grpc.channel_ready_future(client.channel).result(timeout=10)
        result = client.call("GetVacancy", {"Id": "x"}, args={"id": "x"}, deadline=1.0)
    finally:
        release.set()
        client.close()
    assert (result.kind, result.code) == ("info", "DEADLINE_EXCEEDED")
    assert (history.ops[0].type, history.ops[0].status) == ("info", 4)

"""A server stream is one operation: its message count and the times to its first and last
message in the history and in Locust's request event; cut off midway it is indeterminate."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent import futures
from pathlib import Path

import grpc
import pytest

from shopbench.grpc.client import GrpcClient
from shopbench.grpc.protos import compile_dir
from shopbench.history import MemoryHistory

CATALOG = compile_dir(Path(__file__).resolve().parent / "seed_repo" / "proto")
VACANCY = CATALOG.message("pb.Vacancy")


@pytest.fixture
def stream_server() -> Iterator[tuple[str, dict]]:
    """(target, plan): `pb.VacancyService/GetVacancies` sends plan["send"] vacancies, then ends
    with plan["end"] (a status code, or None for OK)."""
    plan: dict = {"send": 0, "end": None}

    def listing(request: bytes, context: grpc.ServicerContext) -> Iterator[bytes]:
        for i in range(plan["send"]):
            yield VACANCY(Id=f"v{i}", Title="t").SerializeToString()
        if plan["end"] is not None:
            context.abort(plan["end"], "gone midway")

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(
        "pb.VacancyService", {"GetVacancies": grpc.unary_stream_rpc_method_handler(listing)}),))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield f"127.0.0.1:{port}", plan
    server.stop(0)


def call(target: str) -> tuple:
    history, fired = MemoryHistory(), []
    client = GrpcClient(target, CATALOG, history, "t", fire=lambda **kw: fired.append(kw))
    try:
        result = client.call("GetVacancies", {"page": 1, "limit": 3}, args={"page": 1},
                             value=lambda msgs: {"ids": [m.Id for m in msgs]})
    finally:
        client.close()
    [op] = history.ops
    [event] = fired
    return result, op, event


def test_a_complete_stream_is_one_ok_operation_with_its_figures(stream_server) -> None:
    target, plan = stream_server
    plan["send"] = 3
    result, op, event = call(target)
    assert result.ok and [m.Id for m in result.response] == ["v0", "v1", "v2"]
    stream = op.value["stream"]
    assert op.type == "ok" and stream["messages"] == 3 and op.value["ids"] == ["v0", "v1", "v2"]
    assert 0 <= stream["first_ms"] <= stream["last_ms"] <= (op.t1 - op.t0) * 1000
    assert event["context"] == stream and event["exception"] is None
    assert event["response_length"] == sum(VACANCY(Id=f"v{i}", Title="t").ByteSize() for i in range(3))


def test_an_empty_stream_has_no_first_message(stream_server) -> None:
    target, _ = stream_server
    result, op, _ = call(target)
    assert result.ok and op.value["stream"] == {"messages": 0, "first_ms": None, "last_ms": None}


@pytest.mark.parametrize("code", [grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.NOT_FOUND])
def test_a_stream_cut_off_midway_is_indeterminate_whatever_the_status(stream_server, code) -> None:
    target, plan = stream_server
    plan.update(send=2, end=code)
    result, op, event = call(target)
    assert (result.kind, op.type, op.status) == ("info", "info", code.value[0])
    assert "after 2 messages" in op.error and op.value["stream"]["messages"] == 2
    assert event["context"]["messages"] == 2 and event["exception"] is not None


def test_a_stream_refused_before_its_first_message_is_a_definite_fail(stream_server) -> None:
    target, plan = stream_server
    plan["end"] = grpc.StatusCode.UNAUTHENTICATED
    result, op, _ = call(target)
    assert (result.kind, result.code, op.type) == ("fail", "UNAUTHENTICATED", "fail")
    assert op.value["stream"]["messages"] == 0


def test_a_client_stream_sends_its_list_of_requests() -> None:
    """Client streams where cheap: the request is a list; the server sees each message."""
    from google.protobuf import descriptor_pb2

    from shopbench.grpc.protos import catalog_of

    fd = descriptor_pb2.FileDescriptorProto(name="up.proto", package="up", syntax="proto3")
    msg = fd.message_type.add(name="Item")
    msg.field.add(name="n", number=1, type=descriptor_pb2.FieldDescriptorProto.TYPE_INT32,
                  label=descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL)
    fd.service.add(name="Up").method.add(name="Push", input_type=".up.Item", output_type=".up.Item",
                                         client_streaming=True)
    catalog = catalog_of(descriptor_pb2.FileDescriptorSet(file=[fd]).SerializeToString())
    item = catalog.message("up.Item")

    def push(requests: Iterator[bytes], context: grpc.ServicerContext) -> bytes:
        return item(n=sum(item.FromString(r).n for r in requests)).SerializeToString()

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(
        "up.Up", {"Push": grpc.stream_unary_rpc_method_handler(push)}),))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    client = GrpcClient(f"127.0.0.1:{port}", catalog, MemoryHistory(), "t")
    try:
        result = client.call("Push", [{"n": 1}, {"n": 2}, item(n=4)])
    finally:
        client.close()
        server.stop(0)
    assert catalog.method("Push").kind == "stream_unary" and result.ok and result.response.n == 7


def test_listing_all_pages_through_a_service_that_caps_the_page_size() -> None:
    """A service that answers at most 7 vacancies per page, whatever `limit` asks: every one of its
    23 vacancies is read (a short first page is not taken for the end)."""
    from shopbench.workload.seed004 import list_all

    request_cls = CATALOG.method("GetVacancies").request

    def listing(request: bytes, context: grpc.ServicerContext) -> Iterator[bytes]:
        req = request_cls.FromString(request)
        size = min(req.limit, 7)
        for i in range((req.page - 1) * size, min(req.page * size, 23)):
            yield VACANCY(Id=f"v{i}").SerializeToString()

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(
        "pb.VacancyService", {"GetVacancies": grpc.unary_stream_rpc_method_handler(listing)}),))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    history = MemoryHistory()
    client = GrpcClient(f"127.0.0.1:{port}", CATALOG, history, "state")
    try:
        assert list_all(client, "baseline")
    finally:
        client.close()
        server.stop(0)
    seen = [vid for op in history.ops for vid in op.value["vacancies"]]
    assert sorted(seen, key=lambda v: int(v[1:])) == [f"v{i}" for i in range(23)]

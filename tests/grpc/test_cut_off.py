"""A gRPC call is in the history however it ends, as a REST request is (driver/inflight.py): killed
with its greenlet, swept at the end of the load, or never sent because its user was stopping."""

from __future__ import annotations

import gevent
import pytest

from shopbench.driver.inflight import IN_FLIGHT
from shopbench.grpc.client import GrpcClient
from shopbench.history import INFO, OK, MemoryHistory


class Answer:
    def ByteSize(self) -> int:  # noqa: N802 - protobuf's name
        return 3


def slow_rpc(seconds: float):
    def call(request, timeout=None, metadata=None):
        gevent.sleep(seconds)
        return Answer()

    return call


@pytest.fixture
def client():
    history, fired = MemoryHistory(), []
    c = GrpcClient("127.0.0.1:1", None, history, "l-g0", fire=lambda **kw: fired.append(kw))
    c._calls["GetVacancy"] = (slow_rpc(0.3), dict)  # no channel used: the RPC is a local stand-in
    c.history, c.fired = history, fired
    IN_FLIGHT.ending = None
    yield c
    IN_FLIGHT.ending = None
    c.close()


def test_a_call_killed_in_flight_is_recorded_once_as_info_with_the_reason(client) -> None:
    IN_FLIGHT.ending = "user stopped by --stop-timeout (2 s) with the request in flight"
    g = gevent.spawn(client.call, "GetVacancy", {}, args={"id": "v1"}, scenario="crud", intended=1.0)
    gevent.sleep(0.05)
    g.kill(block=True)
    [op] = client.history.ops
    assert (op.type, op.f, op.args, op.scenario, op.intended) == (INFO, "GetVacancy", {"id": "v1"}, "crud", 1.0)
    assert op.error == "cut off: user stopped by --stop-timeout (2 s) with the request in flight"
    [event] = client.fired  # Locust counts it too, as a failure naming the reason
    assert event["name"] == "GetVacancy" and str(event["exception"]).startswith("cut off:")
    assert not IN_FLIGHT.pending


def test_a_call_swept_in_flight_is_written_once_and_its_late_answer_only_returned(client) -> None:
    g = gevent.spawn(client.call, "GetVacancy", {}, args={"id": "v2"})
    gevent.sleep(0.05)
    assert IN_FLIGHT.sweep("cut off: the worker is ending") == 1
    result = g.get(timeout=5)
    assert result.kind == OK  # the caller still gets its answer
    [op] = client.history.ops
    assert op.type == INFO and op.error == "cut off: the worker is ending"
    assert len(client.fired) == 1


def test_a_halted_client_sends_nothing(client) -> None:
    client.halted = True
    with pytest.raises(gevent.GreenletExit):
        client.call("GetVacancy", {})
    assert client.history.ops == [] and client.fired == [] and not IN_FLIGHT.pending

"""driver/operation.py to the letter: how an HTTP answer is classified, how an operation's steps
decide its type, and the sentences its history records (found by mutation testing,
docs/mutation.md). The transport here is a custom one (the `Transport` protocol a user may plug
in) that answers from a script; tests/core/test_driver.py runs the same rules over real sockets."""

from __future__ import annotations

import logging
import time

import orjson
import pytest
from gevent import GreenletExit

from shopbench.driver import MaybeSent, NotSent, RestDriver, TransportError
from shopbench.driver.inflight import IN_FLIGHT
from shopbench.driver.operation import classify
from shopbench.driver.transport import Response
from shopbench.history import MemoryHistory


class Scripted:
    """Answers each request with the next scripted Response (or raises the scripted error)."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.requests: list[tuple] = []

    def request(self, service, method, path, *, body=None, headers=None):
        self.requests.append((service, method, path, body, headers))
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    def close(self):
        pass


def driver(*answers, **kw):
    history = MemoryHistory()
    return RestDriver(Scripted(*answers), history, **kw), history


# -- classify ---------------------------------------------------------------------------------
@pytest.mark.parametrize(("status", "kind"), [(199, "info"), (200, "ok"), (299, "ok"), (300, "info"),
                                              (399, "info"), (400, "fail"), (499, "fail"), (500, "info")])
def test_the_status_decides_the_type(status, kind):
    assert classify(None, Response(status, b""))[0] == kind


def test_what_classify_says_about_each_answer():
    assert classify(None, Response(204, b"")) == ("ok", None, None)
    assert classify(None, Response(200, b'{"a": 1}')) == ("ok", {"a": 1}, None)
    assert classify(None, Response(409, b"out of stock")) == ("fail", None, "out of stock")
    assert classify(None, Response(302, b"moved")) == ("info", None, "HTTP 302: moved")
    assert classify(None, Response(503, b"x" * 300)) == ("info", None, "HTTP 503: " + "x" * 200)
    assert classify(None, Response(400, b"y" * 300)) == ("fail", None, "y" * 200)
    assert classify(None, Response(400, b"\xffno")) == ("fail", None, "\ufffdno")
    assert classify(None, Response(500, b"\xff")) == ("info", None, "HTTP 500: \ufffd")


def test_an_unclear_2xx_answer_is_info_with_one_sentence_naming_the_request():
    body = b'{"credit": 1.5}'
    assert classify("find_user", Response(200, body), "GET /users/u1") == (
        "info", None, "find_user (GET /users/u1) answered 200, but credit is 1.5; it must be a whole number "
        "(amounts, prices and quantities are integers: 12, \"12\" and 12.0 are read as 12).")
    assert classify("find_user", Response(201, body))[2].startswith("find_user (its request) answered 201, but ")


def test_classify_reads_the_answer_as_the_operation_shape_through_the_mapping():
    body = b'{"data": {"balance": "3"}}'
    assert classify("find_user", Response(200, body), "GET /u", {"credit": "data.balance"}) == (
        "ok", {"data": {"balance": "3"}, "credit": 3}, None)
    assert classify(None, Response(200, b'{"credit": 1.5}')) == ("ok", {"credit": 1.5}, None)  # no shape asked


# -- one step -----------------------------------------------------------------------------------
def test_a_step_sends_query_body_and_headers():
    d, _ = driver(*[Response(200, b"")] * 4)
    with d.operation("pay", {}) as op:
        op.send("payment", "POST", "/pay", query={"a": "x y", "b": [1, 2]}, json={"n": 1})
        op.send("payment", "POST", "/pay?z=1", query={"a": 1}, headers={"Content-Type": "text/plain", "X": "1"},
                json=None)
        op.send("stock", "GET", "/find", headers={"X": "2"})
        op.send("stock", "GET", "/find", query={})
    sent = d.transport.requests
    assert sent[0] == ("payment", "POST", "/pay?a=x+y&b=1&b=2", orjson.dumps({"n": 1}),
                       {"Content-Type": "application/json"})
    assert sent[1] == ("payment", "POST", "/pay?z=1&a=1", b"null", {"Content-Type": "text/plain", "X": "1"})
    assert sent[2] == ("stock", "GET", "/find", None, {"X": "2"})
    assert sent[3] == ("stock", "GET", "/find", None, None)
    assert d.sent == "POST+POST+GET+GET"


@pytest.mark.parametrize(("error", "kind"), [(NotSent("not sent: refused"), "fail"), (MaybeSent("reset"), "info"),
                                             (TransportError("custom"), "info")])
def test_a_step_without_an_answer(error, kind):
    d, history = driver(error)
    with d.operation("checkout", {"order_id": "o1"}) as op:
        step = op.send("order", "POST", "/checkout/o1", answer=True)
    assert (step.kind, step.status, step.data, step.error) == (kind, None, None, str(error))
    out = op.outcome
    assert (out.kind, out.status, out.data, out.error) == (kind, None, None, str(error))
    assert (history.ops[0].type, history.ops[0].status, history.ops[0].error) == (kind, None, str(error))


def test_a_step_keeps_its_status_and_its_own_answer_unless_it_is_the_operation_answer():
    d, history = driver(Response(201, b'{"order_id": 7}'), Response(200, b'{"order_id": 7}'))
    started = time.monotonic()
    with d.operation("create_order", {"user_id": "u"}) as op:
        step = op.send("order", "POST", "/a")
        answer = op.send("order", "POST", "/b", answer=True)
    took = time.monotonic() - started
    assert (step.kind, step.status, step.data) == ("ok", 201, {"order_id": 7})  # as sent
    assert (answer.status, answer.data) == (200, {"order_id": "7"})  # read as create_order's shape
    # latencies are durations within the operation (not clock readings)
    assert 0 <= step.latency <= took and 0 <= answer.latency <= took and 0 <= op.outcome.latency <= took
    assert op.answer is answer and op.outcome.data == {"order_id": "7"} and op.outcome.status == 200


# -- the operation's type from its steps ----------------------------------------------------------
def test_a_single_step_that_is_not_ok_gives_its_own_error():
    d, history = driver(Response(409, b"no stock"))
    out = d.call("subtract_stock", "stock", "POST", "/subtract/i/1")
    assert (out.kind, out.status, out.error) == ("fail", 409, "no stock")
    op = history.ops[0]
    assert (op.type, op.status, op.value, op.error) == ("fail", 409, None, "no stock")


def test_a_first_step_that_says_no_is_a_fail_naming_the_step():
    d, history = driver(Response(404, b"no order"), Response(200, b""))
    with d.operation("checkout", {"order_id": "o"}) as op:
        op.send("order", "POST", "/a")
        op.send("order", "POST", "/b")
    assert (op.outcome.kind, op.outcome.status, op.outcome.data) == ("fail", 404, None)
    assert op.outcome.error == "step 1 (POST /a): no order"
    assert history.ops[0].error == "step 1 (POST /a): no order"


def test_a_no_after_an_effect_and_an_indeterminate_step_are_info_naming_the_step():
    d, _ = driver(Response(200, b"{}"), Response(409, b"declined"))
    with d.operation("checkout", {}) as op:
        op.send("order", "POST", "/a")
        op.send("payment", "POST", "/b", answer=True)
    assert (op.outcome.kind, op.outcome.status, op.outcome.data) == ("info", 409, None)
    assert op.outcome.error == "step 2 (POST /b), after earlier steps had taken effect: declined"

    d, _ = driver(Response(200, b"{}"), Response(502, b"gateway"))
    with d.operation("checkout", {}) as op:
        op.send("order", "POST", "/a", effect=False)
        op.send("payment", "POST", "/b")
    assert (op.outcome.kind, op.outcome.status) == ("info", 502)
    assert op.outcome.error == "step 2 (POST /b), no definite answer: HTTP 502: gateway"

    d, _ = driver(MaybeSent("reset"), Response(200, b""))
    with d.operation("checkout", {}) as op:
        op.send("order", "POST", "/a", effect=False)
        op.send("payment", "POST", "/b")
    assert (op.outcome.kind, op.outcome.status) == ("info", None)
    assert op.outcome.error == "step 1 (POST /a), no definite answer: reset"


def test_a_no_after_steps_without_effect_is_still_a_fail():
    d, _ = driver(Response(200, b""), Response(200, b""), Response(409, b"declined"))
    with d.operation("checkout", {}) as op:
        op.send("order", "POST", "/a", effect=False)
        op.send("order", "GET", "/b", effect=False)
        op.send("payment", "POST", "/c")
    assert (op.outcome.kind, op.outcome.error) == ("fail", "step 3 (POST /c): declined")


def test_without_an_answer_step_the_last_step_decides():
    d, history = driver(Response(200, b'{"first": 1}'), Response(201, b'{"second": 1}'), Response(202, b'{"last": 2}'))
    with d.operation("checkout", {}) as op:
        op.send("order", "POST", "/a")
        op.send("order", "POST", "/b")
        op.send("order", "POST", "/c")
    assert (op.outcome.kind, op.outcome.status, op.outcome.data, op.outcome.error) == ("ok", 202, {"last": 2}, None)
    assert history.ops[0].value == {"last": 2}


def test_an_operation_without_requests():
    d, history = driver()
    with d.operation("checkout", {"order_id": "o"}) as op:
        pass
    assert (op.outcome.kind, op.outcome.status, op.outcome.data) == ("info", None, None)
    assert op.outcome.error == "checkout: the driver sent no request and gave no result"
    assert history.ops[0].error == op.outcome.error and d.sent == ""

    d, history = driver()
    with d.operation("checkout", {"order_id": "o"}) as op:
        op.refuse("the order is empty: nothing to check out")
    assert (op.outcome.kind, op.outcome.status, op.outcome.error) == ("fail", None,
                                                                      "the order is empty: nothing to check out")
    assert op.answer.latency == 0.0 and op.answer.data is None

    d, history = driver()
    with d.operation("find_user", {}) as op:
        op.result({"credit": "4"})
    assert (op.answer.kind, op.answer.status, op.answer.data, op.answer.error, op.answer.latency) == (
        "ok", None, {"credit": 4}, None, 0.0)


# -- what the history gets --------------------------------------------------------------------------
def test_the_recorded_operation_carries_everything_the_driver_knows():
    ids = iter([41, 42])
    history = MemoryHistory()
    d = RestDriver(Scripted(Response(200, b'{"stock": 1, "price": 2}')), history, process="w3",
                   next_id=lambda: next(ids))
    d.intended, d.scenario = 12.5, "browse"
    out = d.find_item("i1", expect="ok")
    op = history.ops[0]
    assert (op.id, op.process, op.f, op.args, op.expect) == (41, "w3", "find_item", {"item_id": "i1"}, "ok")
    assert (op.type, op.status, op.value, op.error) == ("ok", 200, {"stock": 1, "price": 2}, None)
    assert (op.intended, op.scenario) == (12.5, "browse")
    assert op.t0 <= op.t1 and op.wall > 1e9 and out.latency >= 0
    assert d.sent == "GET"


def test_a_driver_without_a_listener_still_answers():
    d = RestDriver(Scripted(Response(200, b'{"stock": 1, "price": 2}')))
    assert d.find_item("i1").data == {"stock": 1, "price": 2}
    assert d.sent == "GET"


def test_a_halted_driver_sends_nothing_and_records_nothing():
    d, history = driver(Response(200, b""))
    d.halted = True
    with pytest.raises(GreenletExit) as err:
        d.pay("u1", 1)
    assert str(err.value) == "halted before sending: the user was stopped"
    assert d.transport.requests == [] and history.ops == [] and not IN_FLIGHT.pending


@pytest.mark.parametrize("cut_off", [None, "cut off: open-model request cancelled at the end of the load"])
def test_an_operation_ended_by_an_exception_is_recorded_once_as_cut_off(cut_off):
    d, history = driver(Response(200, b""))
    d.cut_off = cut_off
    with pytest.raises(KeyError), d.operation("pay", {"user_id": "u"}, "ok") as op:
        op.send("payment", "POST", "/pay")
        raise KeyError("boom")
    assert len(history.ops) == 1 and op.outcome is None
    rec = history.ops[0]
    assert (rec.f, rec.args, rec.expect, rec.type, rec.status, rec.value) == ("pay", {"user_id": "u"}, "ok", "info",
                                                                               None, None)
    assert rec.error == (cut_off or "cut off: KeyError ended the request before its answer")
    assert not IN_FLIGHT.pending


def test_an_operation_swept_in_flight_is_written_once_and_its_answer_goes_to_the_workload_only():
    d, history = driver(Response(200, b'{"credit": 3}'))
    with d.operation("find_user", {"user_id": "u"}) as op:
        op.send("payment", "GET", "/find", answer=True)
        assert IN_FLIGHT.sweep("cut off: worker shutting down") == 1
    assert [(o.type, o.error) for o in history.ops] == [("info", "cut off: worker shutting down")]
    assert op.outcome.kind == "ok" and op.outcome.data == {"credit": 3}

    d, history = driver(Response(200, b""))
    with pytest.raises(ValueError), d.operation("pay", {}) as op:
        IN_FLIGHT.sweep("cut off: swept")
        raise ValueError
    assert [o.error for o in history.ops] == ["cut off: swept"]


def test_a_cut_off_the_history_cannot_take_is_logged_not_raised(caplog):
    def closed(op):
        raise RuntimeError("history closed")

    d = RestDriver(Scripted(), closed)
    caplog.set_level(logging.ERROR, logger="shopbench.driver")
    with d.operation("pay", {"user_id": "u"}):
        assert IN_FLIGHT.sweep("cut off: x") == 1
    assert [r.getMessage() for r in caplog.records] == [
        "could not record an operation cut off (pay {'user_id': 'u'})"]
    assert caplog.records[0].exc_info is not None

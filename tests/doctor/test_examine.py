"""The doctor's endpoint findings from the driver contract's probe: ok, missing (404/405/501),
broken (an answer the contract cannot read), no answer, and not tried (what it acts on failed)."""

from __future__ import annotations

from typing import Any

from shopbench.doctor.examine import BATCH, endpoints
from shopbench.driver.outcome import Outcome


class Shop:
    """A driver whose answers each test sets per operation; everything else says yes."""

    scenario = None
    process = "doctor"

    def __init__(self, answers: dict[str, Outcome]):
        self.answers = answers
        self.n = 0

    def __getattr__(self, op: str) -> Any:
        def call(*args: Any, **kw: Any) -> Outcome:
            self.n += 1
            if op in self.answers:
                return self.answers[op]
            return Outcome("ok", 200, {"item_id": f"i{self.n}", "user_id": f"u{self.n}", "order_id": f"o{self.n}"},
                           None, 0.001)

        return call


def states(answers: dict[str, Outcome]) -> dict[str, str]:
    return {e.op: e.state for e in endpoints(Shop(answers))}


def test_each_endpoint_is_classified_on_its_own() -> None:
    found = states({"remove_item": Outcome("fail", 404, None, "Not Found", 0.001),
                    "pay": Outcome("fail", 405, None, "Method Not Allowed", 0.001),
                    "find_user": Outcome("info", 200, None, "find_user: credit is '1.5', not a whole number",
                                         0.001),
                    "subtract_stock": Outcome("fail", None, None, "connection refused", 0.001)})
    assert found["remove_item"] == "missing" and found["pay"] == "missing"
    assert found["find_user"] == "broken" and found["subtract_stock"] == "unreachable"
    assert found["checkout"] == "ok" and found["find_order"] == "ok"
    assert all(found[op] == "not tried" for op in BATCH)


def test_what_acts_on_a_missing_entity_is_not_tried_and_says_why() -> None:
    found = {e.op: e for e in endpoints(Shop({"create_order": Outcome("fail", 404, None, "nope", 0.001)}))}
    assert found["create_order"].state == "missing" and found["create_order"].why == "answered 404: no such route"
    for op in ("add_item", "remove_item", "find_order", "checkout"):
        assert found[op].state == "not tried" and found[op].why == "needs create_order, which failed", op
    assert found["create_item"].state == "ok"

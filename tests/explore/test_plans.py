"""The pure parts of explore: random plans are valid kill_config.json plans drawn from the seed,
shrinking only ever simplifies and keeps the failure, budgets and request faults parse, and the
request space is what the recording saw minus kills with no victim."""

from __future__ import annotations

import random

import pytest

from shopbench.errors import UsageError
from shopbench.explore.hit import RequestFault, killable
from shopbench.explore.requests import Point, pairs, space
from shopbench.explore.schedule import Space, draw_plan, size, smaller
from shopbench.explore.search import Exploration, parse_budget, random_search, shrink
from shopbench.explore.trial import Load, Trial
from shopbench.nemesis.config import parse_fault_plan

SPACE = Space(("order", "stock", "payment"), ("client->order", "order->stock", "order->payment"))


def test_random_plans_are_valid_kill_configs_and_follow_the_seed():
    load = Load(orders=100)
    plans = [draw_plan(random.Random(7), SPACE, load) for _ in range(2)]
    assert plans[0] == plans[1]
    rng = random.Random(3)
    for _ in range(200):
        plan = draw_plan(rng, SPACE, load)
        parsed = parse_fault_plan(plan, "explore plan")
        assert 1 <= len(parsed.triggers) <= SPACE.max_faults
        assert all(t.type == "checkouts" and 1 <= t.threshold <= 80 and t.hold_time() for t in parsed.triggers)


def test_every_smaller_candidate_is_smaller_and_valid():
    load = Load(orders=100, concurrency=8)
    plan = draw_plan(random.Random(5), Space(SPACE.services, SPACE.links, max_faults=3), load)
    cands = list(smaller(plan, load))
    assert cands
    for cand in cands:
        parse_fault_plan(cand.plan, "candidate")
        assert size(cand.plan, cand.load) < size(plan, load), cand.what
        assert all(t["threshold"] <= cand.load.orders for t in cand.plan["kill_triggers"])


class ScriptedRunner:
    """Trials judged by a rule instead of a shop: INVALID exactly when the plan kills order."""

    def __init__(self):
        self.count = 0

    def run(self, plan, load, label, **_):
        self.count += 1
        bad = any(t["action"] == "kill" and "order" in t.get("services", []) for t in plan["kill_triggers"])
        return Trial(self.count, label, plan, load, "invalid" if bad else "valid", 0.0)


def test_shrink_keeps_only_the_fault_that_matters():
    load = Load(orders=160, concurrency=8)
    plan = {"kill_triggers": [
        {"type": "checkouts", "threshold": 10, "action": "pause", "services": ["stock"], "duration": 2.0},
        {"type": "checkouts", "threshold": 90, "action": "kill", "services": ["order"], "recovery_time": 1.6},
        {"type": "checkouts", "threshold": 40, "action": "delay", "links": ["order->payment"], "ms": 200,
         "duration": 1.0}]}
    runner = ScriptedRunner()
    failing = runner.run(plan, load, "random")
    trials: list[Trial] = []
    failure = shrink(runner, failing, need=2, tries=3, confirm=4, max_trials=200, into=trials)
    (only,) = failure.plan["kill_triggers"]
    assert (only["action"], only["services"]) == ("kill", ["order"])
    assert only["recovery_time"] < 0.2 and only["threshold"] == 1
    assert failure.load.orders < load.orders and failure.load.concurrency == 1
    assert (failure.hits, failure.tries) == (4, 4)
    assert failure.steps and failure.steps[0].startswith("drop fault")


def test_random_search_stops_at_the_first_failure_and_shrinks_it():
    class FailsFromTheFifth(ScriptedRunner):
        def run(self, plan, load, label, **kw):
            trial = super().run(plan, load, label)
            trial.result = "invalid" if label != "baseline" and self.count >= 5 else "valid"
            return trial

    found = random_search(FailsFromTheFifth(), SPACE, Load(), seed=1, budget=parse_budget("50"), confirm=2,
                          shrink_trials=6)
    assert isinstance(found, Exploration) and len(found.failures) == 1
    assert found.space["plans_drawn"] == 4 and found.failures[0].found_by == 5


def test_a_budget_of_trials_that_all_pass_is_covered():
    found = random_search(ScriptedRunner(), Space(("stock",), ()), Load(), seed=1, budget=parse_budget("4"))
    assert not found.failures and found.covered and found.space["plans_drawn"] == 3


@pytest.mark.parametrize(("text", "seconds", "trials"), [("90s", 90, None), ("5m", 300, None), ("1h", 3600, None),
                                                         ("40", None, 40)])
def test_budgets(text, seconds, trials):
    budget = parse_budget(text)
    assert (budget.seconds, budget.trials) == (seconds, trials)


@pytest.mark.parametrize("text", ["", "0", "-3", "5 minutes", "0m", "x"])
def test_bad_budgets_are_usage_errors(text):
    with pytest.raises(UsageError, match="--budget"):
        parse_budget(text)


def test_request_faults_parse_and_print_the_same():
    fault = RequestFault.parse("order->payment#2:lose-answer")
    assert fault == RequestFault("order->payment", 2, "lose-answer") and fault.key() == "order->payment#2:lose-answer"
    assert fault.victim() is None and RequestFault("order->stock", 1, "kill-source").victim() == "order"
    for bad in ("order->payment#0:refuse", "order->payment:refuse", "order->payment#1:explode"):
        with pytest.raises(UsageError, match="LINK#N:MODE"):
            RequestFault.parse(bad)


def test_the_space_is_what_was_recorded_minus_kills_without_a_victim():
    services = {"order", "stock", "payment"}
    assert not killable("client->order", "kill-source", services) and killable("client->order", "kill-target", services)
    points = space({"alone": {"client->order": 1, "order->payment": 1, "client->stock": 0}}, services)
    keys = {p.key() for p in points}
    assert len(points) == 5 + 6  # the client cannot be killed; client->stock saw nothing
    assert "alone/order->payment#1:kill-source" in keys and "alone/client->order#1:kill-source" not in keys
    together = space({"together": {"order->stock": 3}}, services)
    assert {p.faults[0].n for p in together} == {1, 2, 3}


def test_pairs_are_bounded_and_hit_two_different_requests_of_one_workload():
    singles = [Point(w, (RequestFault(link, n, m),)) for w in ("alone", "together")
               for link in ("order->stock", "order->payment") for n in (1, 2) for m in ("refuse", "lose-answer")]
    drawn = pairs(singles, 10, random.Random(1))
    assert len(drawn) == 10
    for p in drawn:
        a, b = p.faults
        assert (a.link, a.n) != (b.link, b.n)
    assert pairs(singles, 1000, random.Random(1)) and len(pairs(singles, 1000, random.Random(1))) < 1000


def test_a_plan_without_a_verdict_leaves_the_budget_uncovered():
    class OneUnknown(ScriptedRunner):
        def run(self, plan, load, label, **kw):
            trial = super().run(plan, load, label)
            trial.result = "unknown" if self.count == 3 else "valid"
            return trial

    found = random_search(OneUnknown(), Space(("stock",), ()), Load(), seed=1, budget=parse_budget("4"))
    assert not found.failures and not found.covered and found.space["plans_judged"] == 2
    assert any("without a verdict" in note for note in found.notes)


def test_a_smallest_plan_that_no_longer_reproduces_steps_back():
    class FlakyWhenShort(ScriptedRunner):
        """A short kill of order fails the first two times only (luck while shrinking)."""

        def __init__(self):
            super().__init__()
            self.short_seen = 0

        def run(self, plan, load, label, **kw):
            trial = super().run(plan, load, label)
            if trial.result == "invalid" and any(t.get("recovery_time", 9) < 0.5 for t in plan["kill_triggers"]):
                self.short_seen += 1
                trial.result = "invalid" if self.short_seen <= 2 else "valid"
            return trial

    plan = {"kill_triggers": [{"type": "checkouts", "threshold": 1, "action": "kill", "services": ["order"],
                               "recovery_time": 1.6}]}
    runner = FlakyWhenShort()
    failing = runner.run(plan, Load(orders=10, concurrency=1), "random")
    failure = shrink(runner, failing, need=2, tries=3, confirm=4, max_trials=50, into=[])
    assert failure.plan["kill_triggers"][0]["recovery_time"] >= 0.5 and (failure.hits, failure.tries) == (4, 4)
    assert not any(step.startswith("shorten fault 0 to 0.1") for step in failure.steps)

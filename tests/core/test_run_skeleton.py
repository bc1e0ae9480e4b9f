"""The one run order (runner/skeleton.py) with its companions, on the embedded reference shop: the
Companion protocol is called in order (bind, during around the load, sections into the verdict),
and every way a run ends is recorded the same way in run.json."""

import json
from contextlib import contextmanager

import pytest

from shopbench.errors import EXIT_UNKNOWN
from shopbench.runner.companion import Companion
from shopbench.runner.consistency import run_consistency
from shopbench.workload.consistency import ConsistencyConfig

pytestmark = pytest.mark.slow


def small():
    return ConsistencyConfig(items=2, stock=1, users=4, credit=1, orders=6, concurrency=3, seed=1, settle_timeout=5)


class Watcher:
    name = "watcher"

    def __init__(self, fail_in_load=False, reason=None):
        self.calls = []
        self.fail_in_load, self.reason = fail_in_load, reason

    def bind(self, run, supervisor):
        self.calls.append(("bind", supervisor is not None, run.file("ops.jsonl").exists()))

    @contextmanager
    def during(self, monitor):
        self.calls.append(("enter", monitor.checkouts["ok"] + monitor.checkouts["fail"]))
        if self.fail_in_load:
            raise RuntimeError("sampler broke")
        yield self
        self.calls.append(("exit", monitor.checkouts["ok"] + monitor.checkouts["fail"] + monitor.checkouts["info"]))

    def active(self):
        return []

    def sections(self, inputs):
        self.calls.append(("sections", inputs.ops_path.exists()))
        return {"watcher": {"unknown_reasons": [self.reason]}} if self.reason else {"watcher": {"seen": True}}


def test_companions_are_called_in_order_and_their_sections_join_the_verdict(tmp_path):
    w = Watcher(reason="the watcher lost samples: re-run with fewer services")
    assert isinstance(w, Companion)
    result = run_consistency(small(), out=str(tmp_path / "run"), companions=[w])
    assert w.calls == [("bind", True, False), ("enter", 0), ("exit", 6), ("sections", True)]
    assert result.verdict["watcher"] == {"unknown_reasons": [w.reason]}
    assert result.verdict["result"] == "unknown" and result.exit_code == EXIT_UNKNOWN
    manifest = json.loads((result.run.path / "run.json").read_text())
    assert manifest["status"] == "unknown"


def test_a_companion_that_breaks_the_load_is_recorded_as_crashed_with_the_error(tmp_path):
    out = tmp_path / "run"
    with pytest.raises(RuntimeError):
        run_consistency(small(), out=str(out), companions=[Watcher(fail_in_load=True)])
    manifest = json.loads((out / "run.json").read_text())
    assert manifest["status"] == "crashed" and manifest["error"] == "RuntimeError: sampler broke"
    assert (out / "report.html").exists()  # the partial report is still written


# -- a runner's own target (the gRPC runner's reference service) ----------------------------------
class OwnTarget:
    def as_dict(self):
        return {"grpc": "127.0.0.1:1"}


class OwnService:
    target = OwnTarget()
    supervisor = object()


class OwnSteps:
    """Steps whose `own_target` replaces the reference shop; nothing is started for real."""

    def __init__(self, fail=False):
        self.events, self.fail = [], fail

    @contextmanager
    def own_target(self, run, links):
        self.events.append(("start", links, run.manifest["phases"][-1]["name"]))
        try:
            yield OwnService()
        finally:
            self.events.append(("stop",))

    def populate(self, ctx):
        self.events.append(("populate", ctx.target is OwnService.target, ctx.shop is not None))
        if self.fail:
            raise RuntimeError("populate broke")

    def load(self, ctx):
        self.events.append(("load",))

    def check(self, ctx):
        self.events.append(("check",))
        return {"valid": True, **ctx.sections()}


class Bound:
    name, wants_links = "bound", False

    def __init__(self):
        self.supervisor = None

    def bind(self, run, supervisor):
        self.supervisor = supervisor

    @contextmanager
    def during(self, monitor):
        yield self

    def sections(self, inputs):
        return {}


@pytest.mark.parametrize("fail", [False, True])
def test_steps_own_target_replaces_the_reference_shop_and_is_stopped_whatever_happens(tmp_path, fail):
    from shopbench.runner.skeleton import execute

    steps, bound, out = OwnSteps(fail=fail), Bound(), tmp_path / "run"
    if fail:
        with pytest.raises(RuntimeError):
            execute("own", out, {"target": "embedded"}, steps, target=None, flaw=None, companions=[bound])
    else:
        assert execute("own", out, {"target": "embedded"}, steps, target=None, flaw=None,
                       companions=[bound]).exit_code == 0
    assert bound.supervisor is OwnService.supervisor  # the companions see the own service's supervisor
    assert steps.events[:2] == [("start", False, "setup"), ("populate", True, True)]
    assert steps.events[-1] == ("stop",)
    manifest = json.loads((out / "run.json").read_text())
    assert manifest["target"] == manifest["config"]["target"] == {"grpc": "127.0.0.1:1"}
    assert manifest["status"] == ("crashed" if fail else "valid")

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

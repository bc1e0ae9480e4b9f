"""`--processes 2`: every request Locust counted is in the history, and the fault hook on the
master sees the whole load through its monitor."""

import json

import pytest

pytestmark = pytest.mark.slow

SCRIPT = """
import json, sys
from contextlib import contextmanager
from shopbench.runner.stress import run_stress
from shopbench.stress.config import build_config

seen = []

def nemesis(monitor):
    @contextmanager
    def hook():
        import threading, time
        stop = threading.Event()
        def watch():
            while not stop.is_set():
                seen.append(monitor.snapshot())
                time.sleep(0.2)
        seen.append("entered")
        t = threading.Thread(target=watch, daemon=True)
        t.start()
        yield
        stop.set()
        t.join(2)
        seen.append("exited")
    return hook()

code = run_stress(build_config(mix="seed000", wait="0-0.05"), out={out!r},
                  locust_args=["--headless", "-u", "6", "-r", "6", "-t", "4s", "--processes", "2"], nemesis=nemesis)
with open({out!r} + ".hook.json", "w") as f:
    json.dump(seen, f)
sys.exit(code)
"""


def test_processes_2_history_is_complete_and_the_master_monitor_sees_it(python_script, tmp_path):
    out = tmp_path / "run"
    run = python_script(SCRIPT.format(out=str(out)), out, timeout=180)
    assert run.code == 0, run.output[-3000:]
    totals = run.manifest["locust"]
    load_ops = run.ops()
    assert totals["requests"] > 0
    assert totals["requests"] == len(load_ops)  # every request Locust counted is in the history
    ids = [o["id"] for o in run.ops(load_only=False)]
    assert len(ids) == len(set(ids))  # ids stay unique across workers
    workers = {o["process"].split("-")[0] for o in load_ops}
    assert workers == {"w0", "w1"}
    hook = json.loads((tmp_path / "run.hook.json").read_text())
    assert hook[0] == "entered" and hook[-1] == "exited"
    snaps = [s for s in hook if isinstance(s, dict)]
    assert max(s["users"] for s in snaps) == 6
    assert max(s["total"] for s in snaps) > 0 and max(s["rps"] for s in snaps) > 0
    assert run.verdict["valid"] is True

"""End to end: a shop that lacks `DELETE /orders/removeItem` under load (here the reference shop seen
through a driver whose remove_item goes to a path it does not have once the load starts; the driver
contract's door probe, process "probe", still finds it) answers 404 to every remove_item. That run
must not end in a quiet VALID: `shopbench stress` exits 4 (UNKNOWN) and says what to do; the
summary shows the operations with exact percentiles and the 404s grouped as one cause. (A shop that
lacks it at the door too is stopped there, with the same flag: tests/doctor/test_new_user_path.py.)"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]

DRIVER = textwrap.dedent("""
    from shopbench.driver import RestDriver

    class NoRemoveItem(RestDriver):
        def remove_item(self, order_id, item_id, expect=None):
            if self.process == "probe":  # the door check passes; the load meets the missing route
                return super().remove_item(order_id, item_id, expect)
            return self.call("remove_item", "order", "DELETE", f"/orders/noSuchRoute/{order_id}/{item_id}",
                             {"order_id": order_id, "item_id": item_id}, expect)
""")


def test_an_endpoint_missing_everywhere_is_unknown_with_the_reason(tmp_path):
    (tmp_path / "noremove.py").write_text(DRIVER)
    out = tmp_path / "run"
    cmd = [str(Path(sys.executable).parent / "shopbench"), "stress", "--headless", "-t", "5s", "--mix", "seed000",
           "-u", "6", "-r", "6", "--wait", "0-0.05", "--seed", "3", "--out", str(out),
           "--driver", f"{tmp_path / 'noremove.py'}:NoRemoveItem"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True, env={**os.environ, "COLUMNS": "200"})
    try:
        output, _ = proc.communicate(timeout=180)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        output, _ = proc.communicate()
        pytest.fail(output[-3000:])
    assert proc.returncode == 4, output[-3000:]
    verdict = json.loads((out / "verdict.json").read_text())
    assert verdict["result"] == "unknown" and verdict["valid"] is False
    with open(out / "ops.jsonl") as f:
        removes = [op for op in map(json.loads, f) if op["f"] == "remove_item"]
    assert removes and {op["status"] for op in removes} == {404}
    reason = (f"remove_item answered 404 to all {len(removes):,} calls: your shop has no "
              "DELETE /orders/removeItem/{order_id}/{item_id}; run stress with --without remove_item (leaves out "
              "seed000's add-remove-add-checkout scenario), or plug in a --driver that maps remove_item to your route")
    assert verdict["unknown_reasons"] == [reason]
    flat = " ".join(output.split())
    assert "UNKNOWN" in flat and reason in flat
    # The summary: remove_item's failures as one grouped cause, exact percentiles per operation.
    assert "failures by cause" in flat and "p95 ms" in flat
    ours = output[output.index("failures by cause"):]  # (Locust's own error table is above, its own matter)
    cause_rows = [line for line in ours.splitlines() if line.startswith("│ remove_item") and "404" in line]
    assert len(cause_rows) == 1 and f"{len(removes):,}" in cause_rows[0], ours

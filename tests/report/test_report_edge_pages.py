"""Pages at the edges draw in a browser too: one operation (one point on every time axis), a fault
never restored, a service that could not be read, a compare page of one run."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest
from test_report_pages import assert_rendered, figures_of, load_in_chromium, needs_chromium

from shopbench.report.compare import build_compare
from shopbench.report.html import build_report

ORIGIN = 1_750_000_000.0


def tiny_run(path: Path) -> Path:
    path.mkdir(parents=True)
    (path / "run.json").write_text(json.dumps({"run_id": "tiny", "kind": "consistency", "started": ORIGIN,
                                               "ended": ORIGIN + 1, "config": {}, "phases": [], "versions": {}}))
    op = {"id": 0, "process": "p", "f": "checkout", "args": {"order_id": "0"}, "expect": None, "type": "info",
          "status": None, "value": None, "error": "timeout", "wall": ORIGIN + 0.2, "t0": 0.2, "t1": 0.25}
    (path / "ops.jsonl").write_bytes(orjson.dumps(op) + b"\n")
    (path / "verdict.json").write_text(json.dumps({"valid": True, "anomaly_count": 0, "anomalies": []}))
    fault = {"fault": 0, "service": "stock", "action": "kill", "role": "fault", "start": ORIGIN + 0.1,
             "end": ORIGIN + 0.1, "result": "ok"}  # never restored: shaded to the end of the run
    (path / "faults.jsonl").write_text(json.dumps(fault) + "\n")
    samples = [{"wall": ORIGIN + 0.1, "kind": "service", "name": "stock", "up": True, "cpu": 5.0, "rss": 2**20},
               {"wall": ORIGIN + 0.6, "kind": "service", "name": "stock", "up": False, "cpu": None, "rss": None,
                "error": "no such process"}]
    (path / "resources.jsonl").write_text("".join(json.dumps(s) + "\n" for s in samples))
    return path


@pytest.mark.browser
@needs_chromium
def test_one_operation_an_unrestored_fault_and_a_dead_service_draw(tmp_path):
    run = tiny_run(tmp_path / "tiny")
    page = build_report(run)
    figures = figures_of(page.read_text())
    assert figures["chart-throughput"]["windows"][0]["label"] == "kill stock"
    assert "chart-resources-cpu" in figures
    assert assert_rendered(*load_in_chromium(page, tmp_path)) == len(figures)
    compare, _ = build_compare([run], tmp_path / "compare.html")
    assert assert_rendered(*load_in_chromium(compare, tmp_path)) >= 4

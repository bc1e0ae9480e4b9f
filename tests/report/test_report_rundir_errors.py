"""Missing, truncated and malformed run directories: one clear sentence naming the file, never a traceback."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import orjson
import pytest

from shopbench.cli.app import main
from shopbench.errors import UsageError
from shopbench.report.html import build_report
from shopbench.report.rundata import load_run

ORIGIN = 1_000_000.0


def small_run(path: Path, faults: list[dict] | None = None) -> Path:
    """A tiny but complete run directory made by hand."""
    path.mkdir(parents=True)
    (path / "run.json").write_text(json.dumps({"run_id": path.name, "kind": "consistency", "started": ORIGIN,
                                               "ended": ORIGIN + 2, "config": {}, "phases": [], "versions": {}}))
    ops = [{"id": i, "process": "p", "f": "checkout", "args": {"order_id": str(i)}, "expect": None,
            "type": "ok" if i % 3 else "fail", "status": 200, "value": None, "error": None,
            "wall": ORIGIN + i * 0.1, "t0": i * 0.1, "t1": i * 0.1 + 0.02} for i in range(15)]
    (path / "ops.jsonl").write_bytes(b"".join(orjson.dumps(o) + b"\n" for o in ops))
    (path / "verdict.json").write_text(json.dumps({"valid": True, "anomaly_count": 0, "anomalies": [],
                                                   "checkouts": {"ok": 10, "fail": 5, "info": 0}}))
    if faults is not None:
        (path / "faults.jsonl").write_text("".join(json.dumps(f) + "\n" for f in faults))
    return path


def cli(capsys, *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err


def test_a_complete_hand_made_run_builds(tmp_path):
    run = small_run(tmp_path / "r")
    page = build_report(run).read_text()
    assert "VALID" in page and "No <code>faults.jsonl</code>" in page


@pytest.mark.parametrize("damage, message", [
    (lambda p: (p / "run.json").unlink(), "not a run directory (no run.json)"),
    (lambda p: (p / "run.json").write_text('{"run_id": "x", "sta'), "run.json: truncated or not JSON"),
    (lambda p: (p / "ops.jsonl").unlink(), "ops.jsonl is missing"),
    (lambda p: (p / "verdict.json").unlink(), "verdict.json is missing"),
    (lambda p: (p / "verdict.json").write_text('{"valid": tr'), "verdict.json: truncated or not JSON"),
    (lambda p: (p / "verdict.json").write_text('{"anomalies": []}'), "verdict.json: field 'valid'"),
    (lambda p: (p / "verdict.json").write_text('{"valid": true, "anomalies": 3}'), "field 'anomalies' must be"),
    (lambda p: (p / "ops.jsonl").write_bytes(b'{"id": 0, "f"\n' + (p / "ops.jsonl").read_bytes()),
     "ops.jsonl: line 1 is not a JSON operation record"),
    (lambda p: (p / "faults.jsonl").write_text('{"service": "stock"\n{"service": "stock", "start": 1}\n'),
     "faults.jsonl: line 1 is not a JSON fault record"),
    (lambda p: (p / "faults.jsonl").write_text('{"service": "stock", "action": "kill", "start": "soon"}\n'),
     "faults.jsonl: line 1: field 'start'"),
])
def test_damaged_run_directories_are_named_in_one_sentence(tmp_path, capsys, damage, message):
    run = small_run(tmp_path / "r")
    damage(run)
    with pytest.raises(UsageError, match=message.replace("(", r"\(").replace(")", r"\)")):
        build_report(run)
    code, err = cli(capsys, "report", str(run))
    assert code == 2 and message.split(":")[0] in err and err.count("\n") <= 3


def test_truncated_tails_are_tolerated_with_a_note(tmp_path):
    fault = {"service": "stock", "action": "kill", "trigger": "time>1", "start": ORIGIN + 0.5, "end": ORIGIN + 1.0,
             "result": "ok"}
    run = small_run(tmp_path / "r", faults=[fault])
    with open(run / "faults.jsonl", "a") as f:
        f.write('{"service": "order", "act')  # the nemesis died mid-write
    with open(run / "ops.jsonl", "ab") as f:
        f.write(b'{"id": 99, "proc')
    data = load_run(run)
    assert len(data.faults) == 1 and any("cut short" in n for n in data.notes)
    page = build_report(run).read_text()
    assert "kill stock" in page and "cut short" in page


def test_missing_optional_files_leave_their_sections_out(tmp_path):
    run = small_run(tmp_path / "r")
    data = load_run(run)
    assert data.faults is None and data.locust_stats is None and data.locust_history is None
    assert any("faults.jsonl" in n for n in data.notes) and any("state.json" in n for n in data.notes)
    page = build_report(run).read_text()
    assert "no fault was injected" in page and "Locust's own figures" not in page


def test_partial_run_without_verdict(tmp_path, capsys):
    run = small_run(tmp_path / "r")
    (run / "verdict.json").unlink()
    page = build_report(run, partial=True).read_text()
    assert "NO VERDICT" in page
    code, _ = cli(capsys, "report", str(run), "--partial")
    assert code == 0 and (run / "report.html").is_file()


def test_compare_reports_the_broken_directory(tmp_path, capsys):
    good = small_run(tmp_path / "good")
    bad = shutil.copytree(good, tmp_path / "bad")
    (bad / "ops.jsonl").unlink()
    code, err = cli(capsys, "compare", str(good), str(bad), "--out", str(tmp_path / "c.html"))
    assert code == 2 and "bad: ops.jsonl is missing" in err

"""`shopbench consistency` end to end on the reference shop: real processes, real HTTP on loopback."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest
from rich.console import Console

from shopbench.cli.app import main
from shopbench.report.terminal import print_summary

SMALL = ["--items", "5", "--stock", "2", "--users", "40", "--credit", "2", "--orders", "40", "--concurrency", "40",
         "--settle-timeout", "10", "--seed", "1"]


def run(capsys, *args: str) -> tuple[int, dict | None, str]:
    code = main(["consistency", *args])
    captured = capsys.readouterr()
    verdict = json.loads(captured.out) if "--json" in args and captured.out.strip() else None
    return code, verdict, captured.err


def ops_of(run_dir: Path) -> list[dict]:
    return [orjson.loads(line) for line in (run_dir / "ops.jsonl").read_bytes().splitlines() if line.strip()]


@pytest.mark.slow
def test_reference_shop_passes_and_leaves_a_complete_run_directory(tmp_path, capsys):
    out = tmp_path / "run"
    code, verdict, err = run(capsys, *SMALL, "--out", str(out), "--json")
    assert code == 0, (err, verdict and verdict["anomalies"])
    assert verdict["valid"] and verdict["anomaly_count"] == 0
    assert verdict["checkouts"]["ok"] + verdict["checkouts"]["fail"] + verdict["checkouts"]["info"] == 40
    assert verdict["checkouts"]["ok"] <= 10  # 5 items x 2 units
    assert set(verdict["seed_metrics"]) == {"stock_log", "stock_db", "payment_log", "payment_db"}
    for name in ("run.json", "ops.jsonl", "state.json", "verdict.json"):
        assert (out / name).is_file(), name
    manifest = json.loads((out / "run.json").read_text())
    assert manifest["status"] == "valid" and manifest["exit_code"] == 0
    assert [p["name"] for p in manifest["phases"]] == ["setup", "populate", "orders", "burst", "settle", "verify"]
    state = json.loads((out / "state.json").read_text())
    assert state["settled"] and len(state["orders"]) == 40 and len(state["users"]) == 40
    processes = {op["process"].split("-")[0] for op in ops_of(out)}
    assert {"probe", "populate", "orders", "burst", "settle"} <= processes
    ids = [op["id"] for op in ops_of(out)]
    assert len(ids) == len(set(ids))
    # The shop started for the run is gone.
    assert json.loads((out / "shop" / "refshop.json").read_text())["ports"]


@pytest.mark.slow
def test_same_seed_same_orders(tmp_path, capsys):
    plans = []
    for n in range(2):
        out = tmp_path / f"run{n}"
        code, _, err = run(capsys, "--items", "4", "--users", "8", "--orders", "12", "--concurrency", "4",
                           "--seed", "42", "--out", str(out))
        assert code == 0, err
        plans.append(sorted((op["args"]["user_id"]) for op in ops_of(out) if op["f"] == "create_order"))
    assert plans[0] == plans[1]


@pytest.mark.slow
def test_populate_api_one_call_per_entity(tmp_path, capsys):
    out = tmp_path / "run"
    code, verdict, err = run(capsys, "--items", "3", "--stock", "2", "--users", "6", "--credit", "3", "--orders", "6",
                             "--concurrency", "6", "--populate", "api", "--out", str(out), "--json")
    assert code == 0, err
    ops = ops_of(out)
    assert sum(op["f"] == "create_item" for op in ops) == 3 and sum(op["f"] == "add_funds" for op in ops) == 6
    assert not any(op["f"].startswith("batch_init") for op in ops)
    assert verdict["totals"]["money"]["in"] == [18, 18] and verdict["totals"]["stock"]["in"] == [6, 6]
    assert json.loads((out / "run.json").read_text())["populate"] == {
        "items": "api", "users": "api", "items_created": 3, "users_created": 6}


@pytest.mark.slow
def test_lost_update_flaw_fails_with_stock_drift(tmp_path, capsys):
    # One hot item with stock for some but not all: concurrent checkouts race on it.
    code, verdict, err = run(capsys, "--items", "1", "--stock", "20", "--users", "200", "--credit", "10",
                             "--orders", "200", "--concurrency", "200", "--seed", "3", "--flaw", "lost-update",
                             "--out", str(tmp_path / "run"), "--json")
    assert code == 1, err
    assert not verdict["valid"]
    drift = [a for a in verdict["anomalies"] if a["type"] == "stock_drift"]
    assert drift and drift[0]["item_id"] == "0" and drift[0]["direction"] == "missing_stock_movement"
    assert drift[0]["oversold"]


@pytest.mark.slow
def test_no_compensation_flaw_fails_with_unbacked_stock_movement(tmp_path, capsys):
    # Users too poor to pay: every checkout reserves stock, then payment refuses.
    code, verdict, err = run(capsys, "--items", "4", "--stock", "3", "--users", "20", "--credit", "0",
                             "--orders", "20", "--concurrency", "20", "--seed", "5", "--flaw", "no-compensation",
                             "--out", str(tmp_path / "run"), "--json")
    assert code == 1, err
    assert verdict["checkouts"]["ok"] == 0
    drift = [a for a in verdict["anomalies"] if a["type"] == "stock_drift"]
    assert drift and all(a["direction"] == "unbacked_stock_movement" for a in drift)


@pytest.mark.slow
def test_terminal_summary(tmp_path, capsys):
    code, _, err = run(capsys, "--items", "2", "--users", "4", "--orders", "4", "--concurrency", "4",
                       "--out", str(tmp_path / "run"))
    assert code == 0, err
    # Render the summary again from the run's files, with more anomalies than the table shows.
    console = Console(record=True, width=120)
    verdict = json.loads((tmp_path / "run" / "verdict.json").read_text())
    verdict["anomalies"] = [{"type": "stock_drift", "message": f"item {i} drifted"} for i in range(25)]
    verdict["anomaly_count"] = 25
    verdict["valid"], verdict["result"] = False, "invalid"
    print_summary(console, verdict, json.loads((tmp_path / "run" / "run.json").read_text()), str(tmp_path / "run"))
    text = console.export_text()
    assert "burst" in text and "item 19 drifted" in text and "item 20 drifted" not in text
    assert "… and 5 more, see verdict.json" in text and "INVALID" in text and str(tmp_path / "run") in text


@pytest.mark.slow
def test_repeat_runs_each_seed_and_counts_the_invalid_ones(tmp_path, capsys):
    from shopbench.cli.app import main

    out = tmp_path / "rep"
    code = main(["consistency", "--items", "1", "--stock", "10", "--users", "60", "--credit", "5", "--orders", "60",
                 "--concurrency", "60", "--flaw", "lost-update", "--seed", "40", "--repeat", "3", "--out", str(out),
                 "--json"])
    summary = json.loads(capsys.readouterr().out)
    assert summary["runs"] == 3 and summary["invalid"] == 3 and code == 1
    seeds = [json.loads((out / f"run-{i}" / "run.json").read_text())["config"]["seed"] for i in (1, 2, 3)]
    assert seeds == [40, 41, 42]
    assert (out / "compare.html").exists()

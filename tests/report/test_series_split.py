"""A history tallied in byte ranges and merged (what a run's `series.tally` plus the rest of the file are)
gives exactly the Series of one pass."""

from __future__ import annotations

import random
from pathlib import Path

import orjson
import pytest

from shopbench.errors import UsageError
from shopbench.report import series as series_module
from shopbench.report.series import compute_series

ORIGIN = 1_000_000.0


def split_ranges(path: Path, size: int, parts: int) -> list[tuple[int, int]]:
    """`parts` byte ranges of about equal size, each starting at the beginning of a line."""
    cuts = [0]
    with open(path, "rb") as f:
        for k in range(1, parts):
            f.seek(max(k * size // parts - 1, cuts[-1]))
            f.readline()
            cuts.append(min(f.tell(), size))
    cuts.append(size)
    return [(a, b) for a, b in zip(cuts, cuts[1:], strict=False) if b > a]


def op(i: int, start: float, latency: float, f: str = "checkout", kind: str = "ok", expect: str | None = None,
       intended: float | None = None, process: str = "p", args: dict | None = None) -> dict:
    return {"id": i, "process": process, "f": f, "args": args or {}, "expect": expect, "type": kind,
            "status": {"ok": 200, "fail": 400, "info": None}[kind], "value": None, "error": None,
            "wall": ORIGIN + start, "t0": 50.0 + start, "t1": 50.0 + start + latency, "intended": intended,
            "scenario": None}


def history(n: int = 600, seed: int = 7) -> list[dict]:
    """Every kind of record the tally treats differently, in random order of lengths."""
    rng = random.Random(seed)
    ops = [op(0, -0.5, 0.2, f="batch_init_stock", process="populate")]  # setup, before x = 0
    for i in range(1, n):
        start = i * 0.013
        kind = rng.choice(["ok", "ok", "ok", "fail", "info"])
        ops.append(op(i, start, rng.choice([0.001, 0.03, 0.25, 1.7]), f=rng.choice(["checkout", "pay", "find_item"]),
                      kind=kind, expect=rng.choice([None, None, "ok", "fail"]),
                      intended=ORIGIN + start - 0.05 if i % 7 == 0 else None,
                      process=rng.choice(["w1", "w2", "settle", "orders"]),
                      args={"pad": "x" * rng.randrange(200)}))  # lines of many lengths: cuts land mid-line
    return ops


def write(path: Path, ops: list[dict], tail: bytes = b"") -> Path:
    path.write_bytes(b"".join(orjson.dumps(o) + b"\n" for o in ops) + tail)
    return path


def merged(path: Path, parts: int, origin: float = ORIGIN) -> series_module.Tally:
    """The parallel path without the processes: each range tallied on its own, then merged."""
    size = path.stat().st_size
    skip = frozenset(series_module.SETUP_PROCESSES)
    return series_module._merge([series_module.tally_range(path, a, b, size, origin, skip)
                                 for a, b in split_ranges(path, size, parts)], path)


def in_ranges(path: Path, parts: int, origin: float = ORIGIN) -> series_module.Series:
    return series_module.build_series(merged(path, parts, origin), origin)


def test_ranges_start_at_line_starts_and_cover_the_file(tmp_path):
    path = write(tmp_path / "ops.jsonl", history())
    data = path.read_bytes()
    size = len(data)
    ranges = split_ranges(path, size, 5)
    assert len(ranges) == 5 and ranges[0][0] == 0 and ranges[-1][1] == size
    assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:], strict=False))
    assert all(data[start - 1:start] == b"\n" for start, _ in ranges[1:])
    # The even cuts fall inside lines here, so the ranges really had to move to a line start.
    assert any(data[k * size // 5 - 1:k * size // 5] != b"\n" for k in range(1, 5))


@pytest.mark.parametrize("parts", [2, 3, 7])
def test_tallies_of_ranges_merge_into_the_one_pass_series(tmp_path, parts):
    path = write(tmp_path / "ops.jsonl", history())
    one = compute_series(path, origin=ORIGIN)
    split = in_ranges(path, parts)
    assert split == in_ranges(path, 1) == one
    assert merged(path, parts).lat == merged(path, 1).lat  # every bucket's latencies, in file order
    assert one.count == split.count == 600 - 1 - sum(1 for o in history() if o["process"] in ("settle", "orders"))
    assert one.skipped > 0 and one.from_intended > 0 and one.errors["unexpected"] and sum(one.checkouts["info"]) > 0


def test_small_blocks_split_lines_and_change_nothing(tmp_path, monkeypatch):
    path = write(tmp_path / "ops.jsonl", history())
    whole = compute_series(path, origin=ORIGIN)
    monkeypatch.setattr(series_module, "BLOCK", 97)  # shorter than any line: every line crosses blocks
    assert compute_series(path, origin=ORIGIN) == whole


def test_without_a_start_time_x0_is_the_first_counted_operation(tmp_path):
    ops = history()
    path = write(tmp_path / "ops.jsonl", ops)
    first = next(o for o in ops if o["process"] not in series_module.SETUP_PROCESSES)
    assert first["wall"] != ops[0]["wall"]  # a setup operation comes first and is not x = 0
    assert compute_series(path).origin == first["wall"]
    assert compute_series(path) == compute_series(path, origin=first["wall"])


def test_a_cut_short_last_line_is_left_out_in_every_split(tmp_path):
    ops = history()
    whole = write(tmp_path / "whole.jsonl", ops)
    cut = write(tmp_path / "cut.jsonl", ops, tail=orjson.dumps(op(999, 1.0, 0.1))[:40])
    expected = compute_series(whole, origin=ORIGIN)
    assert compute_series(cut, origin=ORIGIN) == expected
    for parts in (2, 4):
        assert merged(cut, parts).lines == len(ops) + 1  # read, and left out
        assert in_ranges(cut, parts) == in_ranges(whole, parts) == expected


def damaged_at(tmp_path: Path, line: int) -> Path:
    ops = history()
    lines = [orjson.dumps(o) for o in ops]
    lines[line - 1] = lines[line - 1][:30]  # a line cut short in the middle of the file
    path = tmp_path / "ops.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


@pytest.mark.parametrize("line", [3, 400, 599])
def test_a_damaged_line_inside_the_file_is_an_error_naming_it_in_every_split(tmp_path, line):
    path = damaged_at(tmp_path, line)
    message = rf"line {line} is not a JSON operation record"
    with pytest.raises(UsageError, match=message):
        compute_series(path, origin=ORIGIN)
    for parts in (2, 3, 7):  # the damaged line ends some range but never the file: still an error
        with pytest.raises(UsageError, match=message):
            in_ranges(path, parts)


def test_the_first_problem_in_the_file_is_the_one_reported(tmp_path):
    ops = history()
    del ops[100]["t1"]  # operation 101, early in the file
    lines = [orjson.dumps(o) for o in ops]
    lines[500] = b"{not json"  # a later damaged line, in another range
    path = tmp_path / "ops.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    for parts in (1, 2, 4):
        with pytest.raises(UsageError, match=r"operation 101 lacks the field 't1'"):
            in_ranges(path, parts)


def test_an_unknown_outcome_is_a_wrong_type_not_a_missing_field(tmp_path):
    path = write(tmp_path / "ops.jsonl", [{**op(0, 0.0, 0.1), "type": "maybe"}])
    with pytest.raises(UsageError, match="operation 1 has a field of the wrong type"):
        compute_series(path, origin=ORIGIN)


def test_a_damaged_line_that_ends_a_range_is_still_an_error(tmp_path):
    path = write(tmp_path / "ops.jsonl", history())
    data = path.read_bytes()
    (_, cut), _ = split_ranges(path, len(data), 2)
    start = data.rindex(b"\n", 0, cut - 1) + 1
    # Same length, so the ranges stay where they are: the damaged line is the first range's last.
    path.write_bytes(data[:start] + b"{" + b"x" * (cut - 2 - start) + data[cut - 1:])
    assert split_ranges(path, len(data), 2)[0][1] == cut
    line = data[:start].count(b"\n") + 1
    with pytest.raises(UsageError, match=rf"line {line} is not a JSON operation record"):
        in_ranges(path, 2)


def test_a_report_folds_the_fault_windows_while_it_reads_and_still_names_a_bad_record(tmp_path):
    import json

    from shopbench.report.html import build_report

    run = tmp_path / "run"
    run.mkdir()
    (run / "run.json").write_text(json.dumps({"run_id": "r", "kind": "stress", "started": ORIGIN, "ended": ORIGIN + 9,
                                              "config": {}, "phases": []}))
    write(run / "ops.jsonl", history())
    (run / "verdict.json").write_text(json.dumps({"valid": True, "anomalies": []}))
    fault = {"fault": 0, "service": "stock", "action": "kill", "role": "fault", "start": ORIGIN + 1,
             "end": ORIGIN + 2, "result": "ok"}
    (run / "faults.jsonl").write_text(json.dumps(fault) + "\n")
    assert "kill stock" in build_report(run).read_text()
    (run / "faults.jsonl").write_text(json.dumps({**fault, "fault": [1]}) + "\n")  # not a fault number
    with pytest.raises(UsageError, match=r"faults.jsonl: a fault record lacks a field or has a wrong type"):
        build_report(run)

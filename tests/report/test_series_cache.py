"""The series tallied while the history is written (`series.tally`) gives exactly the Series of
reading the history, and is never used when it does not describe the history in front of it."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from shopbench.errors import UsageError
from shopbench.history import HistoryWriter
from shopbench.report.series import compute_series
from shopbench.report.series_cache import FILE, SeriesRecorder, read_cached

from .test_series_split import ORIGIN, history, op


def written(run: Path, ops: list[dict], flush_every: int = 97) -> Path:
    """`ops` through a HistoryWriter with a recorder, as a run writes them (odd batch sizes, so the
    recorder's chunks and the writer's flushes fall everywhere)."""
    run.mkdir(exist_ok=True)
    recorder = SeriesRecorder(ORIGIN)
    with HistoryWriter(run / "ops.jsonl", flush_every=flush_every, on_lines=recorder, on_lines_every=13) as w:
        for i, o in enumerate(ops):
            if i % 3:
                w.write_raw([orjson.dumps(o)])  # a distributed worker's lines
            else:
                w._buffer.append(orjson.dumps(o))  # what __call__ does with an Op, for a dict
                w.count += 1
                w.flush() if len(w._buffer) >= flush_every else None
    recorder.save(run / "ops.jsonl")
    return run / "ops.jsonl"


def from_file_only(path: Path):
    (path.parent / FILE).rename(path.parent / "moved.tally")
    try:
        return compute_series(path, origin=ORIGIN)
    finally:
        (path.parent / "moved.tally").rename(path.parent / FILE)


def test_the_cached_tally_gives_the_series_of_reading_the_history(tmp_path):
    path = written(tmp_path / "run", history(3000))
    assert read_cached(path, path.stat().st_size, ORIGIN, {"orders", "populate", "probe", "settle", "state"})
    cached = compute_series(path, origin=ORIGIN)
    assert cached.count > 0 and cached == from_file_only(path)


def test_the_cached_tally_is_used_and_only_the_rest_is_read(tmp_path, monkeypatch):
    from shopbench.report import series as series_module

    ops = history(1200)
    path = written(tmp_path / "run", ops[:800])
    covered = path.stat().st_size
    with HistoryWriter(path) as settle:
        settle.write_raw([orjson.dumps(o) for o in ops[800:]])
    reads = []
    real = series_module.tally_range
    monkeypatch.setattr(series_module, "tally_range",
                        lambda p, a, b, *rest: reads.append((a, b)) or real(p, a, b, *rest))
    assert compute_series(path, origin=ORIGIN) == from_file_only(path)
    assert reads[0] == (covered, path.stat().st_size)  # with the tally: only the bytes after it
    assert reads[1] == (0, path.stat().st_size)  # without it (from_file_only): the whole file


def test_lines_another_writer_appended_are_read_from_the_file(tmp_path):
    ops = history(1200)
    path = written(tmp_path / "run", ops[:800])
    covered = path.stat().st_size
    with HistoryWriter(path) as settle:  # the settle reads of finish_run's own writer: no recorder
        settle.write_raw([orjson.dumps(o) for o in ops[800:]])
    tally, upto = read_cached(path, path.stat().st_size, ORIGIN, {"orders", "populate", "probe", "settle", "state"})
    assert upto == covered < path.stat().st_size
    assert compute_series(path, origin=ORIGIN) == from_file_only(path)
    full = compute_series(path, origin=ORIGIN)
    assert full.count > tally.count


def test_a_history_changed_after_its_tally_is_read_whole(tmp_path):
    path = written(tmp_path / "run", history(600))
    data = bytearray(path.read_bytes())
    at = data.index(b'"t1":') + 6
    data[at] = ord("9") if data[at] != ord("9") else ord("8")  # one latency changed, same size
    path.write_bytes(bytes(data))
    assert read_cached(path, len(data), ORIGIN, {"orders", "populate", "probe", "settle", "state"}) is None
    assert compute_series(path, origin=ORIGIN) == from_file_only(path)


@pytest.mark.parametrize("damage", ["origin", "skip", "truncated arrays", "not json", "longer than history"])
def test_a_tally_that_does_not_match_is_ignored(tmp_path, damage):
    path = written(tmp_path / "run", history(400))
    cache = path.parent / FILE
    header, _, body = cache.read_bytes().partition(b"\n")
    meta = orjson.loads(header)
    origin, skip = ORIGIN, {"orders", "populate", "probe", "settle", "state"}
    if damage == "origin":
        origin = ORIGIN + 0.5
    elif damage == "skip":
        skip = {"settle"}
    elif damage == "truncated arrays":
        cache.write_bytes(header + b"\n" + body[:-8])
    elif damage == "not json":
        cache.write_bytes(b"{" + cache.read_bytes())
    else:
        meta["bytes"] = path.stat().st_size + 1
        cache.write_bytes(orjson.dumps(meta) + b"\n" + body)
    assert read_cached(path, path.stat().st_size, origin, skip) is None
    assert compute_series(path, origin=ORIGIN) == from_file_only(path)


def test_a_damaged_line_leaves_no_tally_and_the_same_error(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    recorder = SeriesRecorder(ORIGIN)
    with HistoryWriter(run / "ops.jsonl", on_lines=recorder, on_lines_every=1) as w:
        w.write_raw([orjson.dumps(op(1, 0.1, 0.01)), b"not a record", orjson.dumps(op(2, 0.2, 0.01))])
    assert recorder.save(run / "ops.jsonl") is None and not (run / FILE).exists()
    with pytest.raises(UsageError, match="line 2"):
        compute_series(run / "ops.jsonl", origin=ORIGIN)


def test_a_consistency_run_writes_a_tally_its_report_can_trust(tmp_path):
    from shopbench.report.html import series_for
    from shopbench.report.rundata import load_run
    from shopbench.runner.consistency import run_consistency
    from shopbench.workload.consistency import ConsistencyConfig

    result = run_consistency(ConsistencyConfig(items=5, stock=2, users=20, credit=3, orders=20, concurrency=10,
                                               seed=3), out=str(tmp_path / "run"))
    run = load_run(result.run.path)
    ops = result.run.path / "ops.jsonl"
    assert (result.run.path / FILE).exists()
    assert read_cached(ops, ops.stat().st_size, result.run.manifest["started"],
                       {"orders", "populate", "probe", "settle", "state"})[1] == ops.stat().st_size
    with_cache = series_for(run)
    (result.run.path / FILE).unlink()
    assert with_cache.count > 0 and with_cache == series_for(run)

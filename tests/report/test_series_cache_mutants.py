"""report/series_cache.py at its edges: a history over 1 MiB, a tally with no counted operation,
the line numbers of an error after the cached part, a damaged last line, a writer that cannot
write, a big-endian machine's byte order (found by mutation testing, docs/mutation.md)."""

from __future__ import annotations

import math
import sys
import zlib
from array import array
from pathlib import Path

import orjson
import pytest

from shopbench.errors import UsageError
from shopbench.report import series_cache
from shopbench.report.series import compute_series
from shopbench.report.series_cache import FILE, SeriesRecorder, read_cached

from .test_series_split import ORIGIN, history, op

SKIP = {"orders", "populate", "probe", "settle", "state"}


def recorded(run: Path, lines: list[bytes], skip=series_cache.SETUP_PROCESSES) -> tuple[Path, Path | None]:
    """`lines` written as a HistoryWriter writes them, through a recorder; (ops.jsonl, the tally)."""
    run.mkdir(exist_ok=True)
    recorder = SeriesRecorder(ORIGIN, skip)
    recorder(lines)
    path = run / "ops.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path, recorder.save(path)


def test_the_crc_runs_over_every_chunk_of_a_history_over_one_mebibyte(tmp_path):
    path = tmp_path / "ops.jsonl"
    data = bytes(range(256)) * 4097 + b"x"  # 2**20 + 257 bytes: a second chunk of 257, then of 1
    path.write_bytes(data)
    for length in (len(data), 2**20 + 1, 2**20, 5):
        assert series_cache._crc32(path, length) == zlib.crc32(data[:length])
    with pytest.raises(ValueError, match="^history shorter than its tally$"):
        series_cache._crc32(path, len(data) + 1)


def test_a_tally_of_over_one_mebibyte_is_trusted(tmp_path):
    lines = [orjson.dumps(o) for o in history(3000)]
    lines += [orjson.dumps(op(4000 + i, 40 + i * 0.01, 0.01, args={"pad": "y" * 300})) for i in range(2000)]
    path, tally = recorded(tmp_path / "run", lines)
    assert path.stat().st_size > 2**20 and tally is not None
    cached, covered = read_cached(path, path.stat().st_size, ORIGIN, SKIP)
    assert covered == path.stat().st_size
    assert (cached.lines, cached.records) == (5000, 5000)


def test_a_tally_with_no_counted_operation_keeps_its_empty_span(tmp_path):
    lines = [orjson.dumps(op(i, i * 0.1, 0.01, process="populate")) for i in range(3)]
    path, tally = recorded(tmp_path / "run", lines)
    assert orjson.loads(tally.read_bytes().partition(b"\n")[0])["first"] is None
    cached, _ = read_cached(path, path.stat().st_size, ORIGIN, SKIP)
    assert (cached.first, cached.last, cached.count, cached.skipped) == (math.inf, -math.inf, 0, 3)
    assert (cached.lines, cached.records) == (3, 3)
    with_cache = compute_series(path, origin=ORIGIN)
    tally.unlink()
    assert with_cache == compute_series(path, origin=ORIGIN)


def test_an_error_after_the_cached_part_names_its_line_in_the_whole_history(tmp_path):
    path, _ = recorded(tmp_path / "run", [orjson.dumps(o) for o in history(50)])
    with open(path, "ab") as f:  # a later writer's line: not in the tally
        f.write(orjson.dumps(op(99, 5.0, 0.01)) + b"\nnot a record\n" + orjson.dumps(op(100, 5.1, 0.01)) + b"\n")
    assert read_cached(path, path.stat().st_size, ORIGIN, SKIP) is not None
    with pytest.raises(UsageError, match="line 52 is not a JSON operation record"):
        compute_series(path, origin=ORIGIN)


def test_a_damaged_last_line_of_a_block_leaves_no_tally(tmp_path):
    path, tally = recorded(tmp_path / "run", [orjson.dumps(op(1, 0.1, 0.01)), b"cut mid-wr"])
    assert tally is None and not (path.parent / FILE).exists()


def test_a_history_of_one_blank_line_has_a_tally_of_nothing(tmp_path):
    path, tally = recorded(tmp_path / "run", [b""])
    assert tally == path.parent / FILE and path.stat().st_size == 1
    cached, covered = read_cached(path, 1, ORIGIN, SKIP)
    assert covered == 1 and cached.count == 0


def test_a_recorder_that_breaks_never_breaks_the_run(tmp_path, monkeypatch):
    def broken(*args):
        raise MemoryError

    monkeypatch.setattr(series_cache, "tally_lines", broken)
    recorder = SeriesRecorder(ORIGIN)
    recorder([orjson.dumps(op(1, 0.1, 0.01))])
    assert recorder.ok is False and recorder.save(tmp_path / "ops.jsonl") is None
    assert not (tmp_path / FILE).exists()


def test_a_tally_that_cannot_be_written_is_skipped(tmp_path):
    recorder = SeriesRecorder(ORIGIN)
    recorder([orjson.dumps(op(1, 0.1, 0.01))])
    assert recorder.save(tmp_path / "gone" / "ops.jsonl") is None  # no directory to write it in
    assert not (tmp_path / "gone").exists()


@pytest.mark.parametrize("field", ["format", "version"])
def test_a_tally_of_another_format_or_version_is_ignored(tmp_path, field):
    path, tally = recorded(tmp_path / "run", [orjson.dumps(o) for o in history(40)])
    header, _, body = tally.read_bytes().partition(b"\n")
    meta = orjson.loads(header)
    meta[field] = {"format": "another tally", "version": series_cache.VERSION + 1}[field]
    tally.write_bytes(orjson.dumps(meta) + b"\n" + body)
    assert read_cached(path, path.stat().st_size, ORIGIN, SKIP) is None


def test_arrays_that_do_not_match_the_header_say_so():
    header = {"count": 0, "from_intended": 0, "skipped": 0, "lines": 0, "records": 0, "first": None, "last": None,
              "outcomes": {}, "checkouts": {}, "errors": {}, "lat": [["pay", 0, 2]], "busy": []}
    with pytest.raises(ValueError, match="^series.tally: the arrays do not match the header$"):
        series_cache._tally(header, b"\0" * 8)


def test_on_a_big_endian_machine_the_file_stays_little_endian(tmp_path, monkeypatch):
    values = array("d", [1.5, -2.0])
    assert series_cache._little(values) is values  # this machine: written as it is in memory
    path, _ = recorded(tmp_path / "run", [orjson.dumps(o) for o in history(60)])
    expected = read_cached(path, path.stat().st_size, ORIGIN, SKIP)
    monkeypatch.setattr(sys, "byteorder", "big")
    swapped = series_cache._little(values)
    assert swapped is not values and swapped.typecode == "d" and values.tolist() == [1.5, -2.0]
    assert swapped.tobytes() == b"".join(array("d", [v]).tobytes()[::-1] for v in values)
    # Read as a big-endian machine would: every value byte-swapped back on the way in.
    tally, _ = read_cached(path, path.stat().st_size, ORIGIN, SKIP)
    lat = [v for buckets in tally.lat.values() for b in buckets.values() for v in b]
    want = [v for buckets in expected[0].lat.values() for b in buckets.values() for v in b]
    assert lat != want and len(lat) == len(want)
    assert [array("d", [v]).tobytes()[::-1] for v in lat] == [array("d", [v]).tobytes() for v in want]

"""The report's series, tallied while the history is written.

Parsing a long `ops.jsonl` is most of a large report's time. So the run's `HistoryWriter` hands each
line it writes to a `SeriesRecorder` (its `on_lines`), which feeds the very `Tally` the report's own
reader fills (`series.tally_lines`), a few dozen lines at a time, spread over the run. When the
writer has closed, the tally is saved beside the history as `series.tally`, stamped with the number
of bytes and the CRC-32 of the lines it covers, the origin its buckets count from and the processes
it left out.

A report trusts it only when the history's first bytes still have that CRC and the origin and the
left-out processes are the ones the report asks for; whatever follows those bytes (lines another
writer appended) is read from the file as before. A run directory without the file, or with one that
does not match or does not parse, has its whole history read: the cache can make a report faster,
never different. Format: docs/formats.md.
"""

from __future__ import annotations

import math
import sys
import zlib
from array import array
from collections.abc import Collection
from pathlib import Path
from typing import Any

import orjson

from shopbench.history import SETUP_PROCESSES
from shopbench.report.series import Tally, tally_lines

FILE = "series.tally"
FORMAT = "shopbench series tally"
VERSION = 2  # 2: errors counted by history.unexpected (1 counted only wrong definite answers)
_CHUNK = 2**20


class SeriesRecorder:
    """`on_lines` of a `HistoryWriter` that opened an empty file; `save` once the writer has closed."""

    def __init__(self, origin: float, skip: Collection[str] = SETUP_PROCESSES):
        self.origin, self.skip = float(origin), frozenset(skip)
        self.tally = Tally()
        self.size = self.crc = 0
        self.ok = True

    def __call__(self, lines: list[bytes]) -> None:
        if not self.ok:
            return
        data = b"\n".join(lines) + b"\n"  # the bytes the writer puts in the file for these lines
        self.crc = zlib.crc32(data, self.crc)
        self.size += len(data)
        try:
            self.ok = tally_lines(lines, self.tally, self.origin, self.skip, False)
        except Exception:  # a cache must never break the run writing the history: no file, that's all
            self.ok = False

    def save(self, ops_path: str | Path) -> Path | None:
        """Write `series.tally` beside `ops_path`; None (and no file) when nothing or something
        unreadable was written, or the file cannot be written: the report then reads the history."""
        target = Path(ops_path).parent / FILE
        if not self.ok or self.size == 0:
            target.unlink(missing_ok=True)
            return None
        t = self.tally
        lat = [(f, idx, values) for f, buckets in t.lat.items() for idx, values in buckets.items()]
        busy = list(t.busy.items())
        header = {
            "format": FORMAT, "version": VERSION, "bytes": self.size, "crc32": self.crc, "origin": self.origin,
            "skip": sorted(self.skip), "count": t.count, "from_intended": t.from_intended, "skipped": t.skipped,
            "lines": t.lines, "records": t.records,
            "first": t.first if math.isfinite(t.first) else None, "last": t.last if math.isfinite(t.last) else None,
            "outcomes": t.outcomes,
            "checkouts": {k: list(v.items()) for k, v in t.checkouts.items()},
            "errors": {k: list(v.items()) for k, v in t.errors.items()},
            "lat": [[f, idx, len(values)] for f, idx, values in lat], "busy": [[idx, len(v)] for idx, v in busy],
        }
        tmp = target.with_suffix(".tmp")
        try:
            with open(tmp, "wb") as out:
                out.write(orjson.dumps(header) + b"\n")
                for values in [v for _, _, v in lat] + [v for _, v in busy]:
                    out.write(_little(values).tobytes())
            tmp.replace(target)
        except OSError:
            tmp.unlink(missing_ok=True)
            return None
        return target


def read_cached(ops_path: Path, size: int, origin: float, skip: Collection[str]) -> tuple[Tally, int] | None:
    """(the tally of the history's first bytes, how many bytes it covers), or None when the run
    directory has no `series.tally` that provably describes this history for this origin and skip."""
    try:
        with open(Path(ops_path).parent / FILE, "rb") as f:
            header = orjson.loads(f.readline())
            if (header.get("format") != FORMAT or header.get("version") != VERSION
                    or header.get("origin") != float(origin) or set(header.get("skip", ())) != set(skip)):
                return None
            covered = header["bytes"]
            if not 0 < covered <= size or _crc32(ops_path, covered) != header["crc32"]:
                return None
            return _tally(header, f.read()), covered
    except (OSError, ValueError, KeyError, TypeError, orjson.JSONDecodeError):
        return None


def _tally(header: dict[str, Any], data: bytes) -> Tally:
    t = Tally(count=header["count"], from_intended=header["from_intended"], skipped=header["skipped"],
              lines=header["lines"], records=header["records"])
    t.first = math.inf if header["first"] is None else float(header["first"])
    t.last = -math.inf if header["last"] is None else float(header["last"])
    t.outcomes = {f: list(counts) for f, counts in header["outcomes"].items()}
    t.checkouts = {k: {int(i): n for i, n in pairs} for k, pairs in header["checkouts"].items()}
    t.errors = {k: {int(i): n for i, n in pairs} for k, pairs in header["errors"].items()}
    sizes = [n for *_, n in header["lat"]] + [n for _, n in header["busy"]]
    if sum(sizes) * 8 != len(data):
        raise ValueError("series.tally: the arrays do not match the header")
    values = array("d")
    values.frombytes(data)
    if sys.byteorder != "little":
        values.byteswap()
    pos = 0
    for f, idx, n in header["lat"]:
        t.lat.setdefault(f, {})[int(idx)] = values[pos:pos + n]
        pos += n
    for idx, n in header["busy"]:
        t.busy[int(idx)] = values[pos:pos + n]
        pos += n
    return t


def _crc32(path: Path, length: int) -> int:
    crc = 0
    with open(path, "rb") as f:
        while length > 0:
            chunk = f.read(min(_CHUNK, length))
            if not chunk:
                raise ValueError("history shorter than its tally")
            crc = zlib.crc32(chunk, crc)
            length -= len(chunk)
    return crc


def _little(values: array) -> array:
    if sys.byteorder == "little":
        return values
    swapped = array("d", values)
    swapped.byteswap()
    return swapped

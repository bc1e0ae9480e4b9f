"""A run directory: the unit of result. Everything a report or a comparison needs is a file here.

  run.json      manifest: kind, command line, config, target, versions, phases, status, exit code;
                `ended` is written once, when the run ends cleanly (its history writer closed),
                so a directory whose run was killed says so (`end_section`)
  ops.jsonl     the history (see `history`)
  faults.jsonl  the fault timeline (see `nemesis`)
  state.json    the final state read after settling (see `checker`)
  verdict.json  the checker's verdict, a contract other tools read
  locust_*.csv  Locust's CSV output (stress runs), locust.html its own report
  report.html   shopbench's self-contained report
  series.tally  the report's series, tallied while ops.jsonl was written (a cache; see report/series_cache.py)
"""

from __future__ import annotations

import json
import os
import platform
import secrets
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from shopbench.errors import UsageError

OPS, FAULTS, STATE, VERDICT, MANIFEST, REPORT = (
    "ops.jsonl", "faults.jsonl", "state.json", "verdict.json", "run.json", "report.html")


def new_run_id(kind: str) -> str:
    return f"{kind}-{datetime.now().strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(2)}"


def ensure_empty_dir(path: Path) -> Path:
    """`path`, created; a directory that exists with files in it is a usage error (never mix runs)."""
    if path.exists() and any(path.iterdir()):
        raise UsageError(f"--out {path}: the directory exists and is not empty; choose a new one.")
    path.mkdir(parents=True, exist_ok=True)
    return path


def new_group_dir(out: str | Path | None, kind: str) -> Path:
    """The folder of a group of runs (a suite, a demo, repeated runs): --out, or results/<kind>-<time>."""
    return ensure_empty_dir(Path(out) if out is not None else Path("results") / new_run_id(kind))


def versions() -> dict[str, str]:
    from importlib import metadata  # 50 ms of imports, needed only when a run starts

    # os.uname, not platform.platform(): that one starts a `uname -p` subprocess on every run.
    uname = os.uname()
    out = {"python": platform.python_version(), "platform": f"{uname.sysname}-{uname.release}-{uname.machine}"}
    for dist in ("shopbench", "locust", "gevent", "geventhttpclient"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    return out


@dataclass
class RunDir:
    path: Path
    manifest: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def create(cls, kind: str, out: str | Path | None = None, config: dict[str, Any] | None = None) -> RunDir:
        run_id = new_run_id(kind)
        path = ensure_empty_dir(Path(out) if out is not None else Path("results") / run_id)
        run = cls(path.resolve())
        run.manifest = {
            "run_id": run_id if out is None else path.name,
            "kind": kind,
            "command": sys.argv,
            "cwd": os.getcwd(),
            "config": config or {},
            "driver": {"driver": os.environ.get("SHOPBENCH_DRIVER"), "mapping": os.environ.get("SHOPBENCH_MAPPING")},
            "versions": versions(),
            "started": time.time(),
            "pid": os.getpid(),
            "ended": None,
            "phases": [],
            "status": "running",
            "exit_code": None,
        }
        run.save_manifest()
        return run

    @classmethod
    def open(cls, path: str | Path) -> RunDir:
        path = Path(path)
        if not path.is_dir():
            raise UsageError(f"{path}: not a run directory (it does not exist).")
        manifest = path / MANIFEST
        try:
            data = json.loads(manifest.read_text())
        except OSError:
            raise UsageError(f"{path}: not a run directory (no {MANIFEST}).") from None
        except json.JSONDecodeError as exc:
            raise UsageError(f"{manifest}: truncated or not JSON (line {exc.lineno}: {exc.msg}).") from None
        return cls(path.resolve(), data)

    def file(self, name: str) -> Path:
        return self.path / name

    def save_manifest(self) -> None:
        self.write_json(MANIFEST, self.manifest)

    def write_json(self, name: str, data: Any) -> Path:
        # Written to a temporary name and renamed, so a crash never leaves half a file behind.
        target = self.file(name)
        tmp = target.with_suffix(target.suffix + ".tmp")
        tmp.write_bytes(dumps(data))
        tmp.replace(target)
        return target

    def read_json(self, name: str) -> Any:
        target = self.file(name)
        try:
            return json.loads(target.read_text())
        except OSError:
            raise UsageError(f"{self.path}: {name} is missing; was the run finished?") from None
        except json.JSONDecodeError as exc:
            raise UsageError(f"{target}: truncated or not JSON (line {exc.lineno}: {exc.msg}).") from None

    @contextmanager
    def phase(self, name: str):
        """Record a phase's start and end wall times in the manifest."""
        entry = {"name": name, "start": time.time(), "end": None}
        self.manifest["phases"].append(entry)
        self.save_manifest()
        try:
            yield entry
        finally:
            entry["end"] = time.time()
            self.save_manifest()

    def finish(self, status: str, exit_code: int | None) -> None:
        """The clean end: called once the history writer has closed (every buffered operation and
        every cut-off one is in ops.jsonl), whatever the status. A SIGKILL never gets here."""
        self.manifest["ended"] = time.time()
        self.manifest["status"] = status
        self.manifest["exit_code"] = exit_code
        self.save_manifest()


    def end_section(self) -> dict[str, Any]:
        """The `run_end` verdict section of a re-check: UNKNOWN when the run never ended cleanly
        (killed: SIGKILL, the OOM killer, a power cut), since operations in flight and those still
        buffered by its history writer never reached ops.jsonl."""
        if self.manifest.get("ended") is not None:
            return {"ended": True}
        pid = self.manifest.get("pid")
        if isinstance(pid, int) and _alive_since(pid, self.manifest.get("started")):
            why = (f"the run is still going (pid {pid}, run.json status {self.manifest.get('status')!r}): its history "
                   "is not complete yet; check it once it has ended")
        else:
            why = ("the run was killed; operations in flight may be missing: run.json has no clean end (`ended`), so "
                   "what was in flight or still buffered when it died never reached ops.jsonl and the history may be "
                   "partial; re-run it (a run stopped by Ctrl-C or SIGTERM ends cleanly)")
        return {"ended": False, "unknown_reasons": [why]}


def _alive_since(pid: int, started: Any) -> bool:
    """Is `pid` a process that was already running when the run started (the run itself, not a
    later process that reused its pid)?"""
    import psutil

    try:
        created = psutil.Process(pid).create_time()
    except psutil.Error:
        return False
    return isinstance(started, int | float) and created <= started + 1.0


_JSON_OPTIONS = orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS | orjson.OPT_APPEND_NEWLINE


def dumps(data: Any) -> bytes:
    """Indented JSON of a run file. orjson is ~20x faster than json on a state.json; json stays as
    the fallback for what orjson refuses (an integer beyond 64 bits that a broken shop returned)."""
    try:
        return orjson.dumps(data, default=str, option=_JSON_OPTIONS)
    except orjson.JSONEncodeError:
        return (json.dumps(data, indent=2, default=str) + "\n").encode()

"""The fault timeline, `faults.jsonl`: one JSON line per action the nemesis took on one target.

Fields of a line:

  fault     int      which fault (one fired trigger on one service) the action belongs to
  trigger   object   {"index", "type", "threshold", "value"}: the trigger of the fault and the
                     reading it fired on; null for actions taken outside a plan
  service   str      the service as the backend knows it
  target    str?     what was hit: "pid 1234" (local) or "container NAME" (docker); null if none
  action    str      kill | terminate | pause | resume | restart (the fault) or, when it is undone,
                     start | unpause-resume | ... as named by `role`
  role      str      "fault" (the action that began it) or "recover" (the action that undid it)
  reason    str?     recover lines: "recovery_time", "duration" or "run end" (restored at exit)
  start     float    wall-clock time (epoch seconds) the action began
  end       float    wall-clock time it was done (for a recover: the service answered its health
                     check again, or the container was running and resumed)
  result    str      "ok" (the backend performed it), "error" (it failed; see error) or "skipped"
                     (nothing to hit: unknown or stopped service, not started by shopbench)
  error     str?     why
  landed    bool     whether the action was verified to have taken effect: kill/terminate, no
                     process of the service's tree left and its ports refuse connections; pause,
                     every process stopped and a request unanswered; resume/start/restart, the
                     service answers its health check; Docker, the container's state. False for
                     skipped and failed actions. Timelines written before this field: absent.
  evidence  str      what the check saw, one short sentence
  landed_s  float?   seconds from the trigger firing (recover lines: from the recover's start) to
                     the moment the effect was verified; null when it did not land

Lines are appended and flushed as each action completes, so a crash leaves every action taken
so far on disk. `fault_windows` folds the lines back into one record per fault.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import orjson

from shopbench.errors import UsageError
from shopbench.nemesis.network import NETWORK_ACTIONS

# Faults that hold until undone (a restart or resume is complete in itself).
NEEDS_RECOVERY = ("kill", "terminate", "pause", *NETWORK_ACTIONS)


class Timeline:
    """Thread-safe appender; keeps every line in memory too (`entries`)."""

    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path is not None else None
        self.entries: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)

    def record(self, entry: dict[str, Any]) -> None:
        line = orjson.dumps(entry, default=str, option=orjson.OPT_NON_STR_KEYS)
        with self._lock:
            self.entries.append(entry)
            if self.path is not None:
                with open(self.path, "ab") as f:
                    f.write(line + b"\n")


def read_timeline(path: str | Path) -> list[dict[str, Any]]:
    """The lines of a faults.jsonl; a missing file is an empty timeline (a run without faults)."""
    path = Path(path)
    if not path.exists():
        return []
    out = []
    lines = path.read_bytes().splitlines()
    for i, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            out.append(orjson.loads(line))
        except orjson.JSONDecodeError:
            if i == len(lines):  # cut short by a crash mid-write
                break
            raise UsageError(f"{path}: line {i} is not a JSON fault record.") from None
    return out


def fault_windows(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One record per fault: when it began, when the service was whole again, what was hit.

    The one home of this fold (the report and the recovery checker import it from here). Input: the
    lines of a faults.jsonl (`read_timeline`), in any order. Output, sorted by fault number, one
    dict per fault with:

    fault, service, action, trigger, targets (what was hit), errors (every error of its lines)
    result         "ok" when every fault line is ok, "skipped" when all were skipped, else "error"
    landed         True when every fault line landed (lines without the field count as landed when
                   ok: timelines written before verification existed), False otherwise
    evidence       the evidence of its fault lines, joined with "; "
    landed_s       the slowest landed_s of its fault lines (null when it did not land)
    start          the start of its first fault action
    restore_start  the start of its first recover action; for a fault that has none (restart,
                   resume, or a fault whose action failed) the start of the fault itself
    end            the end of its last action (recover, or the restart itself); null when a fault
                   that needed a recover never got one (the run crashed before restoring)
    """
    by_fault: dict[int, list[dict[str, Any]]] = {}
    for line in lines:
        by_fault.setdefault(int(line.get("fault", -1)), []).append(line)
    windows = []
    for fid in sorted(by_fault):
        group = by_fault[fid]
        faults = [g for g in group if g.get("role", "fault") == "fault"]
        recovers = [g for g in group if g.get("role") == "recover"]
        first = faults[0] if faults else group[0]
        needs_recover = first.get("action") in NEEDS_RECOVERY and any(
            f.get("result") == "ok" for f in faults)
        start = min(g["start"] for g in faults) if faults else min(g["start"] for g in group)
        if recovers:
            restore_start = min(r["start"] for r in recovers)
            end = max(r["end"] for r in recovers)
        else:
            restore_start = start
            end = None if needs_recover else max(g["end"] for g in faults or group)
        windows.append({
            "fault": fid,
            "service": first.get("service"),
            "action": first.get("action"),
            "trigger": first.get("trigger"),
            "targets": [f.get("target") for f in faults if f.get("target")],
            "result": "ok" if all(f.get("result") == "ok" for f in faults) else
                      ("skipped" if all(f.get("result") == "skipped" for f in faults) else "error"),
            "errors": [g["error"] for g in group if g.get("error")],
            "start": start,
            "restore_start": restore_start,
            "end": end,
            "restored": (not needs_recover) or (bool(recovers) and all(r.get("result") == "ok" for r in recovers)),
            "landed": bool(faults) and all(f.get("landed", f.get("result") == "ok") for f in faults),
            "evidence": "; ".join(str(f["evidence"]) for f in faults if f.get("evidence")) or None,
            "landed_s": max((f["landed_s"] for f in faults if f.get("landed_s") is not None), default=None),
            "restore_reason": recovers[0].get("reason") if recovers else None,
        })
    return windows

"""The restore guardian: what shopbench started or paused is put right even when shopbench is
SIGKILLed (or the OOM killer ends it), when no handler, `finally` or `atexit` of ours runs.

Lazily, on the first registration, shopbench starts one small guardian process (this file run as
a script: the standard library and psutil only; ~20 ms to start, ~13 MiB resident) in a session of its own (a
terminal's Ctrl-C or hang-up does not reach it), tied to shopbench by a pipe: shopbench holds the
write end and never writes, the guardian blocks reading the other. Whenever shopbench's process
ends, for whatever reason, the kernel closes the write end and the guardian reads EOF. It then
acts on its *restore file*, which shopbench rewrites (atomically) at every change:

    {"owner": 1234,
     "resume": [{"pid": 4321, "created": 1796171000.12, "why": "pause of order"}],
     "end":    [{"pid": 4400, "created": 1796170990.5, "group": true, "why": "service stock"},
                {"pid": 4500, "created": 1796170991.0, "group": false, "why": "fault proxy"}]}

1. every `resume` process still the same process (pid and start time) gets SIGCONT;
2. every `end` entry gets SIGCONT and SIGTERM (its process group when `group`, else the pid), and
   SIGKILL 3 s later if anything of it is still alive;
3. the restore file and its private folder (mkdtemp: 0700) are removed, and the guardian exits.

A clean run deregisters everything before it ends, so the guardian then has nothing to do. The hook
for other starters (the fault proxy, Locust workers, `suite`): `guardian().end_on_death(pid,
group=…)` and `guardian().resume_on_death(pids)`, undone by `forget_end(pids)` and
`forget_resume(pids)`; `spawn()` (processes/spawn.py) starts a child already registered. A pid
is never signalled unless its start time still matches, so a recycled pid is left alone.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

END_GRACE_S = 3.0


def _created(pid: int) -> float | None:
    import psutil

    try:
        return round(psutil.Process(pid).create_time(), 2)
    except psutil.Error:
        return None


class Guardian:
    """shopbench's side: the registrations, the restore file, and the guardian process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._resume: dict[int, dict] = {}
        self._end: dict[int, dict] = {}
        self._dir: Path | None = None
        self._proc: subprocess.Popen | None = None
        self._owner = os.getpid()
        self._write_end: int | None = None
        self._fork_hook = False

    @property
    def restore_file(self) -> Path | None:
        return self._dir / "restore.json" if self._dir else None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def end_on_death(self, pid: int, *, group: bool = True, why: str = "") -> None:
        """End `pid` (its whole process group with `group`) when shopbench dies."""
        created = _created(pid)
        if created is not None:
            self._change(lambda: self._end.__setitem__(pid, {"pid": pid, "created": created, "group": group,
                                                             "why": why}))

    def resume_on_death(self, pids: list[int], *, why: str = "") -> None:
        """SIGCONT each of `pids` when shopbench dies (a pause held by a fault)."""
        entries = {pid: {"pid": pid, "created": c, "why": why} for pid in pids if (c := _created(pid)) is not None}
        if entries:
            self._change(lambda: self._resume.update(entries))

    def forget_resume(self, pids: list[int]) -> None:
        self._change(lambda: [self._resume.pop(pid, None) for pid in pids])

    def forget_end(self, pids: list[int]) -> None:
        self._change(lambda: [self._end.pop(pid, None) for pid in pids])

    def entries(self) -> dict:
        with self._lock:
            return {"owner": self._owner, "resume": list(self._resume.values()), "end": list(self._end.values())}

    def _change(self, change) -> None:  # noqa: ANN001
        with self._lock:
            change()
            if os.getpid() != self._owner:  # a forked child must not drive its parent's guardian
                return
            if not self._resume and not self._end and self._proc is None:
                return
            self._ensure_started()
            state = {"owner": self._owner, "resume": list(self._resume.values()), "end": list(self._end.values())}
            tmp = self._dir / "restore.tmp"
            tmp.write_text(json.dumps(state))
            tmp.replace(self._dir / "restore.json")

    def _ensure_started(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            return
        if self._dir is None:
            self._dir = Path(tempfile.mkdtemp(prefix="shopbench-guardian-"))
        read_end, write_end = os.pipe()  # both non-inheritable: started children never hold them
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-I", __file__, str(self._dir / "restore.json")], stdin=read_end,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True, close_fds=True)
        finally:
            os.close(read_end)
        self._write_end = write_end  # kept open for shopbench's whole life; the kernel closes it at death
        if not self._fork_hook:
            # A forked child (Locust's --processes workers) must not hold the pipe open past our death.
            os.register_at_fork(after_in_child=self._close_in_child)
            self._fork_hook = True

    def _close_in_child(self) -> None:
        write_end, self._write_end = self._write_end, None
        if write_end is not None:
            try:
                os.close(write_end)
            except OSError:
                pass


_guardian: Guardian | None = None
_guardian_lock = threading.Lock()


def guardian() -> Guardian:
    """This process's guardian (one per shopbench process; its process starts on first use)."""
    global _guardian
    with _guardian_lock:
        if _guardian is None or _guardian._owner != os.getpid():
            _guardian = Guardian()
        return _guardian


# -- the guardian process ------------------------------------------------------------------------
def _same(entry: dict) -> bool:
    return _created(entry["pid"]) == entry.get("created")


def _signal(entry: dict, sig: int) -> None:
    try:
        if entry.get("group"):
            os.killpg(entry["pid"], sig)
        else:
            os.kill(entry["pid"], sig)
    except OSError:
        pass


def restore(state: dict) -> None:
    """Act on one restore file's content (what the guardian does once shopbench is gone)."""
    for entry in state.get("resume") or ():
        if _same(entry):
            _signal({**entry, "group": False}, signal.SIGCONT)
    # A group's leader may be gone while members live: a group is ended if its leader is gone or
    # is still the process registered, never when the pid now names another process.
    ends = [e for e in state.get("end") or () if _same(e) or _created(e["pid"]) is None]
    for entry in ends:
        _signal(entry, signal.SIGCONT)
        _signal(entry, signal.SIGTERM)
    deadline = time.monotonic() + END_GRACE_S
    while ends and time.monotonic() < deadline:
        ends = [e for e in ends if _any_alive(e)]
        time.sleep(0.05)
    for entry in ends:
        _signal(entry, signal.SIGKILL)


def _any_alive(entry: dict) -> bool:
    if not entry.get("group"):
        return _same(entry)
    try:
        os.killpg(entry["pid"], 0)
        return True
    except OSError:
        return False


def main(restore_file: str) -> None:
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)  # only the pipe's EOF ends the guardian
    while sys.stdin.buffer.read(65536):
        pass
    path = Path(restore_file)
    try:
        state = json.loads(path.read_text())
    except (OSError, ValueError):
        state = {}
    restore(state)
    for leftover in (path, path.with_suffix(".tmp")):
        leftover.unlink(missing_ok=True)
    try:
        path.parent.rmdir()
    except OSError:
        pass


if __name__ == "__main__":
    main(sys.argv[1])

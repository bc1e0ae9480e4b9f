"""The one way shopbench starts a long-lived child process (a service, the fault proxy, a Locust
worker): in a session and process group of its own, tied to shopbench's life.

Its own session: a terminal's Ctrl-C is SIGINT to the whole *foreground process group*, and a
child in shopbench's group would get it directly and die mid-run, before shopbench's own handler
has healed the links and resumed the services it needs to settle through. In its own group only
shopbench signals it, when shopbench decides. Tied (the default): should shopbench die in any way,
SIGKILL and the OOM killer included, the restore guardian (processes/guardian.py) ends the child's
group. Why not prctl(PR_SET_PDEATHSIG): it fires when the *thread* that forked the child ends, not
the process, and shopbench restarts services from short-lived fault threads.
"""

from __future__ import annotations

import subprocess
from typing import Any

from shopbench.processes.guardian import guardian


def spawn(argv: list[str], *, tie: bool = True, why: str = "", **popen: Any) -> subprocess.Popen:
    """`subprocess.Popen(argv, **popen)` in a new session; with `tie`, ended with shopbench.
    Call `untie(proc)` once the caller has stopped it (or means it to outlive shopbench)."""
    popen["start_new_session"] = True
    proc = subprocess.Popen(argv, **popen)  # noqa: S603 - argv is shopbench's or the user's own command
    if tie:
        guardian().end_on_death(proc.pid, group=True, why=why or argv[0])
    return proc


def untie(proc: subprocess.Popen | int) -> None:
    """The child no longer needs ending at shopbench's death (it was stopped)."""
    guardian().forget_end([proc if isinstance(proc, int) else proc.pid])

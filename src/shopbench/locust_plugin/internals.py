"""The Locust internals shopbench leans on, each in one place because Locust offers no public way.

Every function here is covered by tests/stress/test_locust_internals.py, which fails loudly (with
the name of the internal) when a Locust upgrade moves or removes it. Nothing else in shopbench may
touch a private Locust name.

  run_main(argv)        locust.main.main() reads sys.argv and has no argument list
  send_stats(runner)    a worker's final stats report before our "done" (the master waits only
                        0.5 s for it after `quit`, which loses the tail of a loaded run)
  is_stopping(user)     a user asked to stop (Locust's `_state` / LOCUST_STATE_STOPPING): the open
                        model's generator loop must end on it, as Locust's own task loop does
  set_tasks(cls, ...)   replace a class's tasks after the metaclass ran (remote workers learn the
                        mix from the master after Locust loaded the locustfile)
  kill_greenlets()      greenlets Locust leaves behind after main (it expects the process to exit)
  cache_default_args()  a worker rebuilds Locust's whole argument parser per option of every spawn
                        message; computed once instead
  prompt_zmq_reads()    pyzmq's green sockets wake a reader that missed its wake-up after 11.6 s
  spawn_ahead()         a worker's spawn greenlet waits behind every greenlet already queued to run
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Sequence
from typing import Any

from locust.user.users import LOCUST_STATE_STOPPING

# Modules whose background greenlets outlive Locust's main: Locust's own and this plugin's.
GREENLET_MODULES = ("locust", "shopbench.locust_plugin")


def run_main(argv: Sequence[str]) -> None:
    """Run Locust's command line with `argv` (argv[0] is the program name)."""
    import locust.main

    saved = sys.argv
    sys.argv = list(argv)
    try:
        locust.main.main()
    finally:
        sys.argv = saved


def send_stats(runner: Any) -> None:
    send = getattr(runner, "_send_stats", None)
    if send is None:
        raise RuntimeError("Locust's WorkerRunner._send_stats is gone: the worker's final stats report "
                           "cannot be sent before the history's last batch (see locust_plugin/internals.py)")
    send()


def is_stopping(user: Any) -> bool:
    return user._state == LOCUST_STATE_STOPPING


def cache_default_args() -> None:
    """A worker handling a spawn message filters the master's options with
    `k not in argument_parser.default_args_dict()` inside a comprehension: a whole argparse parser
    built per option (~100 with ours), each message. At -r 1000 the master sends several a second;
    the worker's loop spent itself on them, missed heartbeats and never spawned its users (5,500 of
    10,000 reached). Locust's defaults cannot change within a process: build them once."""
    from locust import argument_parser

    if not hasattr(argument_parser.default_args_dict, "cache_info"):
        argument_parser.default_args_dict = functools.lru_cache(maxsize=1)(argument_parser.default_args_dict)


# How long a Locust message may wait unseen in a green zmq socket (see prompt_zmq_reads).
ZMQ_READ_RECHECK = 0.2


def prompt_zmq_reads() -> None:
    """libzmq signals a socket's readiness by edges on one file descriptor, and reading the socket's
    events (which every send does) can consume the edge of a message that just arrived: the greenlet
    waiting to read is not woken. pyzmq's green sockets re-check after `_gevent_bug_timeout`, 11.6 s.
    A worker also sends our history batches on its socket twice a second, so under load it missed
    the master's spawn messages for 11.6 s at a time (measured: messages handled 9-13 s after they
    were sent, 5,500 of 10,000 users reached). Re-checking every 0.2 s costs a timer, nothing more."""
    import zmq.green

    if not hasattr(zmq.green.Socket, "_gevent_bug_timeout"):
        raise RuntimeError("pyzmq's green Socket._gevent_bug_timeout is gone: a Locust message may wait "
                           "unseen until the next one (see locust_plugin/internals.py)")
    zmq.green.Socket._gevent_bug_timeout = ZMQ_READ_RECHECK


def spawn_ahead() -> None:
    """A worker starts the users of a spawn message in a new greenlet (`WorkerRunner.handle_message`),
    and gevent queues a new greenlet behind every callback already queued (greenlets just spawned,
    or woken by another: 900-3,500 counted on a loaded worker). gevent runs 50 or more of those per
    loop turn, so the backlog takes seconds to drain, and the next spawn message (one a second at
    -r 1000) kills the still-waiting greenlet and queues a new one at the back: measured, a worker
    held 1,500 users for 20 s while the master had sent it 5,000 (9,000 of 10,000 reached). Started
    by a zero timer instead, the greenlet runs at the loop's next turn, ahead of the backlog; the
    users it spawns still take their turn behind it."""
    from locust.runners import WorkerRunner

    handle = WorkerRunner.handle_message
    if getattr(handle, "spawns_ahead", False):
        return

    def spawn_soon(group: Any, run: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        greenlet = group.greenlet_class(run, *args, **kwargs)
        group.add(greenlet)
        greenlet.start_later(0)
        return greenlet

    @functools.wraps(handle)
    def handle_message(self: Any, msg: Any) -> None:
        if msg.type != "spawn":
            return handle(self, msg)
        group = self.greenlet
        group.spawn = functools.partial(spawn_soon, group)  # this message's spawn greenlet only
        try:
            return handle(self, msg)
        finally:
            del group.spawn

    handle_message.spawns_ahead = True  # type: ignore[attr-defined]
    WorkerRunner.handle_message = handle_message  # type: ignore[method-assign]


def set_tasks(cls: type, tasks: Sequence[Callable[..., Any]]) -> None:
    """Locust keeps a class's tasks as a list with each task repeated by its weight, read afresh at
    every pick; the metaclass only converts what the class body declared."""
    cls.tasks = list(tasks)  # type: ignore[attr-defined]


def stop_halted(stop: Callable[[bool], bool], client: Any, force: bool) -> bool:
    """`User.stop` with the user's client halted for the kill. Locust kills a user it finds waiting,
    and the kill lands at the user's next switch, which can be the first request of a new
    iteration if the wait ended meanwhile: halted, that request is never sent (and never in the
    history) instead of cut off. `client.halted` stays set only when the user was killed."""
    client.halted = True
    killed = stop(force)
    client.halted = bool(killed)
    return killed


def _module_of(greenlet: Any) -> str:
    run = getattr(greenlet, "_run", None)
    return getattr(run, "__module__", "") or getattr(getattr(run, "__func__", None), "__module__", "") or ""


def leftover_greenlets() -> list[Any]:
    import gc

    import gevent

    return [g for g in gc.get_objects() if isinstance(g, gevent.Greenlet) and not g.dead
            and _module_of(g).startswith(GREENLET_MODULES)]


def kill_greenlets() -> None:
    """Locust expects its process to exit after `main`; ours goes on to settle and check, so the
    background greenlets it left (CSV writer, stats history, input listener, our live line) must
    not wake up and write to files it already closed."""
    import gevent

    gevent.killall(leftover_greenlets(), block=True, timeout=5)

"""The `resources` companion: a real OS thread that samples every source each interval."""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson

from shopbench.resources.lines import RESOURCES, SATURATED, SERVICE
from shopbench.resources.lines import line as _line
from shopbench.resources.procfs import Snapshot
from shopbench.resources.sources import DockerServices, Generator, sources_for_backend, supervised
from shopbench.resources.summary import read_samples, summarize


def _os_thread_tools() -> tuple[Callable[..., Any], Callable[[], Any]]:
    """`start_new_thread` and `allocate_lock` that make a real OS thread and lock even when gevent
    has patched threading (a greenlet would stall whenever the Locust loop is busy)."""
    if "gevent" not in sys.modules:  # nothing can have patched it (and gevent stays unimported)
        import _thread

        return _thread.start_new_thread, _thread.allocate_lock
    from gevent.monkey import get_original  # the originals, whether or not gevent patched them

    start_new_thread, allocate_lock = get_original("_thread", ["start_new_thread", "allocate_lock"])
    return start_new_thread, allocate_lock


class ResourceSampler:
    """The `resources` companion (runner/companion.py). The runner binds it (the reference shop's
    supervisor becomes its services), enters `during` around the load, and merges `sections`."""

    name = "resources"

    def __init__(self, interval: float = 1.0, sources: Iterable[Any] = (), generator: bool = True,
                 path: str | Path | None = None, saturated: float = SATURATED, follow: Any = None):
        """`follow`: a fault hook bound before this sampler; its backend's services are sampled too
        (`--urls` with `--services-file` or `--fault-backend docker`)."""
        self.interval = interval
        self.follow = follow
        self.saturated = saturated
        self.sources: list[Any] = list(sources)
        self.generator = Generator() if generator else None
        self.path = Path(path) if path is not None else None
        self.samples = 0  # sampling passes
        self.lines = 0
        self.thread_cpu = 0.0  # CPU seconds the sampling thread used (benchmarks/resources_overhead.py)
        self.errors: list[str] = []
        self._stop: Any = None
        self._done: Any = None

    def add(self, *sources: Any) -> ResourceSampler:
        self.sources.extend(sources)
        return self

    def bind(self, run: Any, supervisor: Any | None) -> None:
        self.path = Path(run.file(RESOURCES))
        found = supervised(supervisor) if supervisor is not None else []
        backend = getattr(self.follow, "backend", None)
        if backend is not None:
            found += sources_for_backend(backend)
        for source in found:  # the shop's supervisor and a local fault backend may name the same services
            known = {getattr(s, "name", None) for s in self.sources}
            if getattr(source, "name", None) not in known or isinstance(source, DockerServices):
                self.sources.append(source)

    def sample(self) -> list[dict[str, Any]]:
        """One pass over every source (what the thread does each interval)."""
        snap = Snapshot.take()
        lines: list[dict[str, Any]] = []
        service_pids: set[int] = set()
        for source in self.sources:
            try:
                got, pids = source.read(snap)
            except Exception as exc:  # one broken source must not silence the others
                got, pids = [_line(SERVICE, getattr(source, "name", "?"), getattr(source, "backend", "?"),
                                   snap.wall, error=f"{type(exc).__name__}: {exc}")], set()
            lines.extend(got)
            service_pids |= pids
        if self.generator is not None:
            lines.extend(self.generator.read(snap, service_pids))
        self.samples += 1
        return lines

    def _loop(self, out: Any) -> None:
        started = time.thread_time()
        try:
            while True:
                try:
                    lines = self.sample()
                    out.write(b"".join(orjson.dumps(line) + b"\n" for line in lines))
                    out.flush()
                    self.lines += len(lines)
                except Exception as exc:  # keep sampling: a bad second is a gap, not the end
                    if len(self.errors) < 20:
                        self.errors.append(f"{type(exc).__name__}: {exc}")
                if self._stop.acquire(timeout=self.interval):
                    # Stopped: one last sample closes the final interval.
                    with contextlib.suppress(Exception):
                        lines = self.sample()
                        out.write(b"".join(orjson.dumps(line) + b"\n" for line in lines))
                        self.lines += len(lines)
                    return
        finally:
            self.thread_cpu = time.thread_time() - started
            out.close()
            self._done.release()

    @contextmanager
    def during(self, monitor: Any = None) -> Iterator[ResourceSampler]:
        if self.path is None:
            raise RuntimeError("ResourceSampler.bind(run, supervisor) (or path=) must come before during()")
        start_thread, allocate_lock = _os_thread_tools()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        out = open(self.path, "ab")  # noqa: SIM115 - the sampling thread closes it
        self._stop, self._done = allocate_lock(), allocate_lock()
        self._stop.acquire()
        self._done.acquire()
        start_thread(self._loop, (out,))
        try:
            yield self
        finally:
            self._stop.release()
            self._done.acquire(timeout=max(10.0, 3 * self.interval))

    def sections(self, inputs: Any = None) -> dict[str, Any]:
        if self.path is None or not self.path.exists():
            return {}
        section = summarize(read_samples(self.path), saturated=self.saturated)
        section.update(interval_s=self.interval, file=RESOURCES)
        if self.errors:
            section["sampler_errors"] = self.errors
        return {"resources": section}


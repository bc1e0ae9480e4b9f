"""What the system under test and the load generator use while loaded: a sampler beside the load.

Every `interval` seconds (1 s) the sampler reads, for each service, CPU, resident memory, open file
descriptors, threads and TCP connections, and appends one line per service (and per generator
process) to `resources.jsonl` in the run directory (the fields are documented in
docs/formats.md, a contract like `ops.jsonl`). Sources:

- a local service: its whole process tree (a gunicorn master and its workers, `sh -c` and what it
  runs), summed (Linux: /proc and netlink, read once per sample for every tree; elsewhere psutil).
  The root pid is asked again at every sample (`pid_of`), so a service that a fault kills and
  restarts is followed, never a crash.
- a Docker service: its containers' stats through the Docker SDK (one-shot, so a sample never waits
  for the engine's own two-cycle average), summed per service.
- the load generator: this process, and each process forked from it (Locust's `--processes`
  workers), one line each: one Locust process is one gevent loop, so one core is its
  ceiling, and above 90 % of it every latency it measures includes its own queueing (Locust warns
  the same way). That is a verdict warning.

The sampler runs on a real OS thread even inside a gevent-patched Locust process: it then costs
the event loop nothing but the GIL while it reads /proc, and its own CPU time is measurable.
"""

from __future__ import annotations

import contextlib
import functools
import os
import socket
import struct
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

RESOURCES = "resources.jsonl"
SATURATED = 90.0  # percent of one core, mean over the load: above it the generator's latencies lie
SERVICE, GENERATOR = "service", "generator"
FIELDS = ("procs", "cpu", "rss", "fds", "threads", "conns")

PidOf = Callable[[], "int | None"]


# -- reading one sample ------------------------------------------------------------------------
# Linux: one read of /proc/PID/stat per process per sample and one netlink dump of the TCP sockets
# (what `ss` does). psutil would read three files per process, and /proc/net/tcp is slow to read
# when thousands of TIME_WAIT sockets sit in it, as they do beside a load test. Elsewhere (macOS),
# psutil does it all, more slowly.
PROC = Path("/proc")
LINUX = sys.platform.startswith("linux") and (PROC / "self" / "stat").exists()
_TICK = os.sysconf("SC_CLK_TCK") if LINUX else 100
_PAGE = os.sysconf("SC_PAGE_SIZE") if LINUX else 4096


@dataclass(slots=True)
class ProcStat:
    ppid: int
    cpu: float  # user + system CPU seconds
    threads: int
    started: float  # identifies this incarnation of the pid; epoch seconds
    rss: int  # bytes


# psutil is imported where the portable path or a process tree needs it: a Linux run that samples
# only its own generator never does (≈ 20 ms of every run's start).
@functools.cache
def _boot_time() -> float:
    if LINUX:
        with open(PROC / "stat", "rb") as f:
            for line in f:
                if line.startswith(b"btime "):
                    return float(line.split()[1])
    import psutil

    return psutil.boot_time()


def _scan_proc(boot: float) -> dict[int, ProcStat]:
    stats: dict[int, ProcStat] = {}
    for entry in os.listdir(PROC):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                raw = f.read()
        except OSError:
            continue  # exited meanwhile
        rest = raw[raw.rfind(b")") + 2:].split()  # the command name may hold spaces and parentheses
        stats[int(entry)] = ProcStat(int(rest[1]), (int(rest[11]) + int(rest[12])) / _TICK, int(rest[17]),
                                     boot + int(rest[19]) / _TICK, int(rest[21]) * _PAGE)
    return stats


def _psutil_stat(pid: int) -> ProcStat | None:
    """One process through psutil (the portable path): read only for processes in a sampled tree."""
    import psutil

    try:
        p = psutil.Process(pid)
        with p.oneshot():
            times = p.cpu_times()
            return ProcStat(p.ppid(), times.user + times.system, p.num_threads(), p.create_time(),
                            p.memory_info().rss)
    except psutil.Error:
        return None  # gone, or not ours to read (another user's process on macOS)


def _tcp_inodes_netlink() -> set[int]:
    """Inodes of this network namespace's TCP sockets in every state but TIME_WAIT (which belongs to
    no process), through NETLINK_SOCK_DIAG: the kernel filters, so a flood of TIME_WAIT costs nothing."""
    inodes: set[int] = set()
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 4) as nl:  # NETLINK_SOCK_DIAG
        for seq, family in enumerate((socket.AF_INET, socket.AF_INET6), 1):
            states = 0xFFF & ~(1 << 6)  # TCP states 0-11, TIME_WAIT left out
            req = struct.pack("=BBBBI", family, socket.IPPROTO_TCP, 0, 0, states) + bytes(48)
            # nlmsghdr: length, SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST | NLM_F_DUMP, sequence, port
            nl.send(struct.pack("=LHHLL", 16 + len(req), 20, 0x301, seq, 0) + req)
            done = False
            while not done:
                data = nl.recv(1 << 16)
                offset = 0
                while offset + 16 <= len(data):
                    length, kind = struct.unpack_from("=LH", data, offset)
                    if kind == 3:  # NLMSG_DONE
                        done = True
                        break
                    if kind == 2:  # NLMSG_ERROR
                        raise OSError("sock_diag answered an error")
                    inodes.add(struct.unpack_from("=L", data, offset + 16 + 68)[0])  # inet_diag_msg.idiag_inode
                    offset += (length + 3) & ~3
                if offset == 0 and not done and not data:
                    break
    return inodes


def _tcp_inodes() -> set[int] | None:
    if not LINUX:
        return None
    try:
        return _tcp_inodes_netlink()
    except OSError:  # no netlink here (a sandbox): the text tables, slower but the same answer
        inodes: set[int] = set()
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            with contextlib.suppress(OSError), open(table, "rb") as f:
                next(f, None)
                for line in f:
                    parts = line.split()
                    if len(parts) > 9 and parts[3] != b"06":  # 06: TIME_WAIT
                        inodes.add(int(parts[9]))
        return inodes


def _fds_and_sockets(pid: int, tcp: set[int] | None, sockets: bool) -> tuple[int | None, int | None]:
    """(open fds, TCP sockets among them) of one process; None where not permitted or not asked."""
    if not LINUX:
        import psutil

        try:
            p = psutil.Process(pid)
            return p.num_fds(), len(p.net_connections(kind="tcp")) if sockets else None
        except (psutil.Error, AttributeError):
            return None, None
    base = f"/proc/{pid}/fd"
    try:
        fds = os.listdir(base)
    except OSError:
        return None, None
    if not sockets or tcp is None:
        return len(fds), None
    conns = 0
    for fd in fds:
        try:
            link = os.readlink(f"{base}/{fd}")
        except OSError:
            continue  # closed meanwhile
        if link.startswith("socket:[") and int(link[8:-1]) in tcp:
            conns += 1
    return len(fds), conns


@dataclass
class Snapshot:
    """The process table once per sample, so each tree is found and summed without one more scan per
    service, and the TCP socket inodes. Linux reads every process's stat in the scan; the portable
    path lists parents only and reads a process's figures when a tree asks (`stat`)."""

    wall: float
    stats: dict[int, ProcStat]
    children: dict[int, list[int]]
    tcp: set[int] | None
    pids: set[int] = field(default_factory=set)
    lazy: bool = False

    @classmethod
    def take(cls, tcp: bool = True) -> Snapshot:
        wall = time.time()
        children: dict[int, list[int]] = {}
        if LINUX:
            stats = _scan_proc(_boot_time())
            for pid, st in stats.items():
                children.setdefault(st.ppid, []).append(pid)
            return cls(wall, stats, children, _tcp_inodes() if tcp else None, set(stats))
        import psutil

        pids = set()
        for p in psutil.process_iter(["ppid"]):
            pids.add(p.pid)
            children.setdefault(p.info.get("ppid") or 0, []).append(p.pid)
        return cls(wall, {}, children, None, pids, lazy=True)

    def stat(self, pid: int) -> ProcStat | None:
        st = self.stats.get(pid)
        if st is None and self.lazy and pid in self.pids:
            st = _psutil_stat(pid)
            if st is not None:
                self.stats[pid] = st
        return st

    def tree(self, root: int) -> list[int]:
        out, todo = [], [root]
        while todo:
            pid = todo.pop()
            out.append(pid)
            todo.extend(self.children.get(pid, ()))
        return out


@dataclass
class CpuClock:
    """CPU seconds of each process seen at the previous sample, to turn totals into a rate. A
    process born since the previous sample counts whole; one that existed before but was not seen
    (the first sample of a tree) makes the figure unknown rather than a spike."""

    last: dict[tuple[int, float], float] = field(default_factory=dict)
    wall: float | None = None

    def rate(self, readings: list[tuple[int, float, float]], wall: float) -> float | None:
        """readings: (pid, start time, cpu seconds); returns percent of one core since last time."""
        seen: dict[tuple[int, float], float] = {}
        used, known = 0.0, self.wall is not None
        for pid, created, cpu in readings:
            key = (pid, created)
            seen[key] = cpu
            if key in self.last:
                used += max(cpu - self.last[key], 0.0)
            elif self.wall is not None and created >= self.wall - 0.05:
                used += cpu
            else:
                known = False
        elapsed = wall - self.wall if self.wall is not None else 0.0
        self.last, self.wall = seen, wall
        if not known or elapsed <= 0 or not readings:
            return None
        return round(used / elapsed * 100.0, 1)


def read_tree(pids: Iterable[int], snap: Snapshot, clock: CpuClock, sockets: bool = True) -> dict[str, Any] | None:
    """Sum a process tree's figures from the snapshot; None when its root is gone. `sockets` False
    skips the per-fd socket scan (a readlink per fd: 10,000 for a generator with 10,000 users)."""
    readings, rss, threads = [], 0, 0
    fds: int | None = 0
    conns: int | None = 0 if sockets else None
    procs = 0
    for pid in pids:
        st = snap.stat(pid)
        if st is None:
            continue  # exited between the scan and now: its last interval is lost, not an error
        procs += 1
        rss += st.rss
        threads += st.threads
        readings.append((pid, round(st.started, 2), st.cpu))
        n_fds, n_conns = _fds_and_sockets(pid, snap.tcp, sockets)
        fds = None if fds is None or n_fds is None else fds + n_fds
        conns = None if conns is None or n_conns is None else conns + n_conns
    if not procs:
        return None
    return {"procs": procs, "cpu": clock.rate(readings, snap.wall), "rss": rss, "fds": fds,
            "threads": threads, "conns": conns}


def _line(kind: str, name: str, backend: str, wall: float, *, pid: int | None = None,
          container: str | None = None, figures: dict[str, Any] | None = None,
          error: str | None = None) -> dict[str, Any]:
    line: dict[str, Any] = {"wall": round(wall, 3), "kind": kind, "name": name, "backend": backend,
                            "pid": pid, "container": container, "up": figures is not None}
    line.update({k: (figures or {}).get(k) for k in FIELDS})
    if figures is None:
        line["error"] = error or "not running"
    return line


# -- sources ------------------------------------------------------------------------------------
class ProcessTree:
    """A local service: the tree under the pid `pid_of()` names now (the reference shop's
    Supervisor, a services file's, or any callable)."""

    backend = "local"

    def __init__(self, name: str, pid_of: PidOf):
        self.name = name
        self.pid_of = pid_of
        self.clock = CpuClock()

    def read(self, snap: Snapshot) -> tuple[list[dict[str, Any]], set[int]]:
        try:
            pid = self.pid_of()
        except Exception as exc:  # a supervisor mid-restart: a gap in the series, not a crash
            return [_line(SERVICE, self.name, self.backend, snap.wall, error=f"pid unknown: {exc}")], set()
        if not pid:
            self.clock = CpuClock()
            return [_line(SERVICE, self.name, self.backend, snap.wall)], set()
        tree = snap.tree(pid)
        figures = read_tree(tree, snap, self.clock)
        if figures is None:
            self.clock = CpuClock()
            return [_line(SERVICE, self.name, self.backend, snap.wall, pid=pid, error="no such process")], set()
        return [_line(SERVICE, self.name, self.backend, snap.wall, pid=pid, figures=figures)], set(tree)


def supervised(supervisor: Any, names: Iterable[str] | None = None) -> list[ProcessTree]:
    """One source per service of a `processes.Supervisor`, through its public `pid(name)`."""
    chosen = list(names) if names is not None else supervisor.names()
    return [ProcessTree(name, lambda name=name: supervisor.pid(name)) for name in chosen]


def sources_for_backend(backend: Any) -> list[Any]:
    """The services a fault backend (nemesis/backends) knows, as sampler sources: so a run with
    `--fault-backend docker` or `--services-file` samples what it faults. Duck-typed on `kind`."""
    kind = getattr(backend, "kind", None)
    if kind == "local":
        return supervised(backend.supervisor, backend.services())
    if kind == "docker":
        return [DockerServices(backend.client, backend.services() or None, getattr(backend, "project", None))]
    return []


class DockerServices:
    """Docker services: per sample one container listing, then each running container's one-shot
    stats, summed per service (`container`: the short ids, comma-separated)."""

    backend = "docker"
    SERVICE_LABEL = "com.docker.compose.service"
    PROJECT_LABEL = "com.docker.compose.project"

    def __init__(self, client: Any, services: Iterable[str] | None = None, project: str | None = None):
        self.client = client
        self.services = list(services) if services is not None else None
        self.project = project
        self._cpu: dict[str, tuple[float, float]] = {}  # container id -> (cpu ns, wall)

    def _by_service(self) -> dict[str, list[Any]]:
        filters = {"label": [f"{self.PROJECT_LABEL}={self.project}"]} if self.project else {}
        found = self.client.containers.list(all=True, filters=filters, ignore_removed=True)
        groups: dict[str, list[Any]] = {}
        for c in sorted(found, key=lambda c: c.name):
            service = c.labels.get(self.SERVICE_LABEL)
            if service is None and self.services is not None:
                # Containers Compose did not start: matched by name prefix, as the fault backend does.
                service = next((s for s in self.services if c.name.lstrip("/").startswith(s)), None)
            if service is not None and (self.services is None or service in self.services):
                groups.setdefault(service, []).append(c)
        for s in self.services or ():
            groups.setdefault(s, [])
        return groups

    def _stats(self, c: Any, wall: float) -> dict[str, Any]:
        s = c.stats(stream=False, one_shot=True)
        cpu_stats = s.get("cpu_stats") or {}
        cpu_ns = float((cpu_stats.get("cpu_usage") or {}).get("total_usage") or 0)
        mem = s.get("memory_stats") or {}
        detail = mem.get("stats") or {}
        rss = int(mem.get("usage") or 0) - int(detail.get("inactive_file", detail.get("cache", 0)) or 0)
        # The interval on the engine's clock, as `docker stats` measures it: the host's CPU time over
        # all its cores (our own clock would add the time the answer took to reach us).
        cores = int(cpu_stats.get("online_cpus") or 0)
        system = cpu_stats.get("system_cpu_usage")
        clock = float(system) / max(cores, 1) / 1e9 if system and cores else wall
        previous = self._cpu.get(c.id)
        self._cpu[c.id] = (cpu_ns, clock)
        cpu = None
        if previous is not None and clock > previous[1]:
            cpu = round(max(cpu_ns - previous[0], 0.0) / 1e9 / (clock - previous[1]) * 100.0, 1)
        return {"procs": (s.get("pids_stats") or {}).get("current"), "cpu": cpu, "rss": max(rss, 0)}

    def read(self, snap: Snapshot) -> tuple[list[dict[str, Any]], set[int]]:
        try:
            groups = self._by_service()
        except Exception as exc:  # the engine went away: every service is unreadable this second
            names = self.services or []
            return [_line(SERVICE, n, self.backend, snap.wall, error=f"docker: {exc}") for n in names], set()
        lines = []
        for service, containers in groups.items():
            running = [c for c in containers if c.status == "running"]
            ids = ",".join(c.id[:12] for c in running) or None
            if not running:
                lines.append(_line(SERVICE, service, self.backend, snap.wall, error="container not running"))
                continue
            total: dict[str, Any] = {"procs": 0, "cpu": 0.0, "rss": 0, "fds": None, "threads": None, "conns": None}
            try:
                for c in running:
                    one = self._stats(c, snap.wall)
                    total["procs"] = None if one["procs"] is None or total["procs"] is None \
                        else total["procs"] + one["procs"]
                    total["cpu"] = None if one["cpu"] is None or total["cpu"] is None else total["cpu"] + one["cpu"]
                    total["rss"] += one["rss"]
            except Exception as exc:  # removed between the listing and the stats call
                lines.append(_line(SERVICE, service, self.backend, snap.wall, container=ids, error=f"docker: {exc}"))
                continue
            if total["cpu"] is not None:
                total["cpu"] = round(total["cpu"], 1)
            lines.append(_line(SERVICE, service, self.backend, snap.wall, container=ids, figures=total))
        return lines, set()


def _cmdline(pid: int) -> bytes | None:
    if LINUX:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                return f.read()
        except OSError:
            return None
    import psutil

    try:
        return "\0".join(psutil.Process(pid).cmdline()).encode()
    except (OSError, psutil.Error):
        return None


class Generator:
    """shopbench itself: this process and its Locust worker processes (`--processes`): children
    forked from it, so with its command line; the shop's processes, a health-check shell or any
    other child are not the generator."""

    backend = "self"

    def __init__(self, pid: int | None = None):
        self.pid = pid or os.getpid()
        self.clocks: dict[int, CpuClock] = {}
        self._forked: dict[tuple[int, float], bool] = {}  # (pid, start) -> a fork of the main process
        self._numbers: dict[int, int] = {}  # worker pid -> its number, in the order first seen

    def _is_worker(self, pid: int, snap: Snapshot) -> bool:
        st = snap.stat(pid)
        key = (pid, st.started if st else 0.0)
        if key not in self._forked:
            own, theirs = _cmdline(self.pid), _cmdline(pid)
            self._forked[key] = own is not None and own == theirs
        return self._forked[key]

    def read(self, snap: Snapshot, services: set[int]) -> list[dict[str, Any]]:
        lines = []
        workers = [p for p in snap.children.get(self.pid, ()) if p not in services and self._is_worker(p, snap)]
        for pid in [self.pid, *workers]:
            clock = self.clocks.setdefault(pid, CpuClock())
            figures = read_tree([pid], snap, clock, sockets=False)
            if figures is None:
                continue
            # Numbered, not named by pid, so runs compare row by row (`shopbench compare`, charts).
            name = "main" if pid == self.pid else f"worker-{self._numbers.setdefault(pid, len(self._numbers) + 1)}"
            lines.append(_line(GENERATOR, name, self.backend, snap.wall, pid=pid, figures=figures))
        for gone in set(self.clocks) - {self.pid, *workers}:
            del self.clocks[gone]
        if len(self._forked) > 256:  # children come and go (health checks): forget the ones gone
            self._forked = {k: v for k, v in self._forked.items() if k[0] in snap.pids}
        return lines


# -- the companion ------------------------------------------------------------------------------
def _os_thread_tools() -> tuple[Callable[..., Any], Callable[[], Any]]:
    """`start_new_thread` and `allocate_lock` that make a real OS thread and lock even when gevent
    has patched threading (a greenlet would stall whenever the Locust loop is busy)."""
    import _thread

    if "gevent" in sys.modules:
        from gevent import monkey

        if monkey.is_module_patched("threading"):
            return monkey.get_original("_thread", "start_new_thread"), monkey.get_original("_thread", "allocate_lock")
    return _thread.start_new_thread, _thread.allocate_lock


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


# -- reading and summarising ---------------------------------------------------------------------
def read_samples(path: str | Path, skipped: list[int] | None = None) -> Iterator[dict[str, Any]]:
    """Each line of a `resources.jsonl`; a line that is not a JSON object (a crash mid-write cuts the
    last one short) is skipped, and counted in `skipped[0]` when a counter is given."""
    with open(path, "rb") as f:
        for line in f:
            if not line.strip():
                continue
            try:
                sample = orjson.loads(line)
            except orjson.JSONDecodeError:
                sample = None
            if isinstance(sample, dict):
                yield sample
            elif skipped is not None:
                skipped[0] += 1


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 1) if values else None


def summarize(samples: Iterable[dict[str, Any]], saturated: float = SATURATED) -> dict[str, Any]:
    """Peak and mean per service and per generator process, and the saturation warning."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for s in samples:
        groups.setdefault((s.get("kind", SERVICE), s.get("name", "?")), []).append(s)
    out: dict[str, Any] = {"samples": sum(len(v) for v in groups.values()), "services": {}, "generator": {},
                           "warnings": []}
    for (kind, name), rows in groups.items():
        up = [r for r in rows if r.get("up")]

        def values(key: str, up: list[dict[str, Any]] = up) -> list[Any]:
            return [r[key] for r in up if r.get(key) is not None]

        cpu, rss = values("cpu"), values("rss")
        summary = {
            "backend": rows[0].get("backend"), "samples": len(rows), "up_samples": len(up),
            "cpu_mean": _mean(cpu), "cpu_peak": max(cpu, default=None),
            "rss_mean": int(sum(rss) / len(rss)) if rss else None, "rss_peak": max(rss, default=None),
            **{f"{k}_peak": max(values(k), default=None) for k in ("fds", "threads", "conns", "procs")},
            "pids": sorted({r["pid"] for r in rows if r.get("pid")}),
        }
        out["services" if kind == SERVICE else "generator"][name] = summary
    out["warnings"] = saturation_warnings(out["generator"], saturated)
    return out


def saturation_warnings(generator: dict[str, dict[str, Any]], limit: float = SATURATED) -> list[str]:
    warnings = []
    for name, s in generator.items():
        mean = s.get("cpu_mean")
        if mean is not None and mean > limit:
            warnings.append(
                f"the load generator was saturated: process {name} averaged {mean:.0f} % of a core (peak "
                f"{s.get('cpu_peak') or mean:.0f} %) during the load; above {limit:.0f} % its latencies and "
                "throughput measure shopbench, not the shop. Use --processes N, fewer users, or a bigger machine.")
    return warnings


def run_summary(run_dir: str | Path, verdict: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """A finished run's resource summary: the verdict's `resources` section, else summarised from
    its `resources.jsonl`; None when the run sampled nothing (an older run)."""
    section = (verdict or {}).get("resources")
    if isinstance(section, dict) and "services" in section:
        return section
    path = Path(run_dir) / RESOURCES
    return summarize(read_samples(path)) if path.is_file() else None

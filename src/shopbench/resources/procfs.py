"""Reading processes for one sample: the process table, CPU clocks, fds and TCP sockets.

Linux: one read of /proc/PID/stat per process per sample and one netlink dump of the TCP sockets
(what `ss` does). psutil would read three files per process, and /proc/net/tcp is slow to read
when thousands of TIME_WAIT sockets sit in it, as they do beside a load test. Elsewhere (macOS),
psutil does it all, more slowly.
"""

from __future__ import annotations

import contextlib
import functools
import os
import socket
import struct
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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



def cmdline(pid: int) -> bytes | None:
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


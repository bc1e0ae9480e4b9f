"""Local service processes: start, stop, SIGKILL, SIGSTOP/SIGCONT and restart by service name.

The one place in shopbench that owns OS processes. The reference shop launcher, `shopbench shop`,
the local fault backend and `shopbench services` all go through a `Supervisor`, so a service
started by one command can be killed, paused or stopped by another: each service leaves a state
file (`NAME.json`: its spec, pid and the kernel's start time of that pid, so a recycled pid is
never signalled) and a log file (`NAME.log`) in the supervisor's state directory.

A service is a process *tree*, not a pid: a gunicorn master and its workers, a `sh -c` wrapper
and its child. Services are started in a session (and process group) of their own, and every
action reaches the whole group and every descendant (a child that left the group too), collected
before the signal is sent: once the master is dead its orphans are no longer its children.

Every fault action is *verified* (`Landing`): a kill has landed when no process of the tree is
left and the service's ports refuse connections; a pause when every process of the tree is
stopped (and, with a health URL, a request gets no answer); a resume, start or restart when the
service answers its health check. A service already running that shopbench did not start can be
adopted (`adopt`): found by pid file, listening port or a regex on its command line.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import psutil

from shopbench.errors import TargetError, UsageError

RUNNING, PAUSED, STOPPED = "running", "paused", "stopped"
_STOPPED_STATES = (psutil.STATUS_STOPPED, psutil.STATUS_TRACING_STOP)
_GONE_STATES = (psutil.STATUS_ZOMBIE, psutil.STATUS_DEAD)
HANG_PROBE_S = 0.25  # a paused service must leave a request unanswered this long


@dataclass
class ServiceSpec:
    """How to run (or find) one service: what a services file describes for a user's own shop."""

    name: str
    command: list[str]
    cwd: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    health_url: str | None = None
    start_timeout: float = 30.0
    health_tcp: str | None = None  # "host:port": up when it accepts a connection
    health_status_below: int = 500  # health_url: any HTTP answer below this means up
    port: int | None = None  # the port it listens on: health fallback, adoption, kill verification
    pid_file: str | None = None  # adoption: a file holding the pid of a running instance
    match: str | None = None  # adoption: a regex searched in the command lines of running processes
    stop_timeout: float = 5.0  # SIGTERM, then SIGKILL after this long


@dataclass
class ServiceStatus:
    name: str
    state: str
    pid: int | None
    health_url: str | None
    log: str
    processes: int = 0
    adopted: bool = False


@dataclass
class Landing:
    """Whether an action took effect, the evidence, and when it was established (epoch seconds)."""

    pid: int | None
    landed: bool
    evidence: str
    at: float


def free_port(host: str = "127.0.0.1") -> int:
    return free_ports(1, host)[0]


def free_ports(n: int, host: str = "127.0.0.1") -> list[int]:
    """`n` distinct free ports. Every socket stays bound until all are chosen: the kernel may hand
    out a port again once its socket is closed, and two services told the same port leave one of
    them unable to bind while the other answers its health check in its name."""
    socks = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(n)]
    try:
        for s in socks:
            s.bind((host, 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _proc_stat(pid: int) -> tuple[str, str] | None:
    """(state letter, start time in clock ticks) of a live pid, or None."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name may hold spaces and parentheses; everything after the last ')' is fixed.
    fields = raw[raw.rfind(")") + 2 :].split()
    return fields[0], fields[19]


def http_status(url: str, timeout: float = 1.0) -> int | None:
    """The HTTP status `url` answers with (4xx and 5xx included), or None when nothing answered."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 - user-given service URLs
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except (urllib.error.URLError, OSError, ValueError):
        return None


def health_ok(url: str, timeout: float = 1.0, below: int = 500) -> bool:
    """Up when `url` answers at all with a status under `below` (a 404 from a shop without a health
    route is an answer: the process serves HTTP)."""
    status = http_status(url, timeout)
    return status is not None and status < below


def tcp_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def tcp_refused(host: str, port: int, timeout: float = 0.2) -> bool:
    """True when a connection to host:port is refused (nothing listens), not merely slow."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return False
    except ConnectionRefusedError:
        return True
    except OSError:
        return False


def split_hostport(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    return host.strip("[]") or "127.0.0.1", int(port)


def _alive(p: psutil.Process) -> bool:
    try:
        return p.is_running() and p.status() not in _GONE_STATES
    except psutil.Error:
        return False


def _stopped(p: psutil.Process) -> bool | None:
    """True stopped, False running, None gone."""
    try:
        status = p.status()
    except psutil.Error:
        return None
    if status in _GONE_STATES:
        return None
    return status in _STOPPED_STATES


def listening_ports(procs: list[psutil.Process]) -> set[tuple[str, int]]:
    """(address, port) of every TCP socket in LISTEN state that one of `procs` holds.

    Read from /proc directly: psutil.net_connections parses every socket of the machine once per
    process (hundreds of ms on a loaded host); here the tables are read once and only LISTEN lines
    are decoded."""
    inodes: set[str] = set()
    for p in procs:
        try:
            fds = os.listdir(f"/proc/{p.pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                link = os.readlink(f"/proc/{p.pid}/fd/{fd}")
            except OSError:
                continue
            if link.startswith("socket:["):
                inodes.add(link[8:-1])
    found = set()
    if not inodes:
        return found
    for table, v6 in (("/proc/net/tcp", False), ("/proc/net/tcp6", True)):
        try:
            with open(table) as f:
                next(f, None)
                for line in f:
                    if " 0A " not in line:
                        continue
                    cols = line.split()
                    if cols[3] != "0A" or cols[9] not in inodes:
                        continue
                    addr, port = cols[1].split(":")
                    found.add((_hex_addr(addr, v6), int(port, 16)))
        except OSError:
            continue
    return found


def _hex_addr(addr: str, v6: bool) -> str:
    raw = bytes.fromhex(addr)
    if not v6:
        return socket.inet_ntop(socket.AF_INET, raw[::-1])
    # Four little-endian 32-bit words.
    words = b"".join(raw[i:i + 4][::-1] for i in range(0, 16, 4))
    text = socket.inet_ntop(socket.AF_INET6, words)
    return text.removeprefix("::ffff:") if text.startswith("::ffff:") and "." in text else text


def _connect_host(addr: str) -> str:
    return "127.0.0.1" if addr in ("0.0.0.0", "", "::", "::ffff:0.0.0.0") else addr  # noqa: S104


class Supervisor:
    """Owns the services whose state files live in `state_dir`."""

    def __init__(self, state_dir: str | Path):
        self.state_dir = Path(state_dir)
        self._children: dict[int, subprocess.Popen] = {}

    # -- state files -------------------------------------------------------------------------
    def _state_path(self, name: str) -> Path:
        return self.state_dir / f"{name}.json"

    def log_path(self, name: str) -> Path:
        return self.state_dir / f"{name}.log"

    def _read_state(self, name: str) -> dict | None:
        try:
            return json.loads(self._state_path(name).read_text())
        except (OSError, json.JSONDecodeError):
            return None

    def _write_state(self, name: str, state: dict) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        tmp = self._state_path(name).with_suffix(".tmp")
        tmp.write_text(json.dumps(state))
        tmp.replace(self._state_path(name))

    def names(self) -> list[str]:
        if not self.state_dir.is_dir():
            return []
        return sorted(p.stem for p in self.state_dir.glob("*.json") if self._read_state(p.stem) is not None)

    def spec(self, name: str) -> ServiceSpec:
        state = self._read_state(name)
        if state is None:
            known = ", ".join(self.names()) or "none"
            raise UsageError(f"unknown service {name!r}; services known in {self.state_dir}: {known}.")
        return ServiceSpec(**state["spec"])

    def adopted(self, name: str) -> bool:
        return bool((self._read_state(name) or {}).get("adopted"))

    def _live_pid(self, name: str) -> int | None:
        state = self._read_state(name)
        if not state or not state.get("pid"):
            return None
        pid = state["pid"]
        stat = _proc_stat(pid)
        if stat is None or stat[1] != state.get("starttime"):
            return None
        if stat[0] in ("Z", "X"):  # dead, not yet reaped (our own child, or an orphan init has not reaped)
            self._reap(pid)
            return None
        return pid

    def _reap(self, pid: int) -> None:
        child = self._children.pop(pid, None)
        try:
            if child is not None:
                child.wait(timeout=0)
            else:
                os.waitpid(pid, os.WNOHANG)
        except (ChildProcessError, subprocess.TimeoutExpired, OSError):
            pass

    # -- the process tree --------------------------------------------------------------------
    def _group(self, name: str, root: int | None) -> int | None:
        """The service's process group, when it is the service's own (never shopbench's)."""
        state = self._read_state(name) or {}
        pgid = state.get("pgid")
        if not pgid or pgid == os.getpgrp():
            return None
        if root is not None:
            try:
                if os.getpgid(root) == pgid:
                    return pgid
            except OSError:
                pass
        # The leader is gone: the group is still ours only while a member we know of is in it.
        for pid, start in state.get("tree") or ():
            stat = _proc_stat(pid)
            try:
                if stat and stat[1] == start and os.getpgid(pid) == pgid:
                    return pgid
            except OSError:
                continue
        return None

    def tree(self, name: str) -> list[psutil.Process]:
        """Every live process of the service: its root, all descendants, its group's members, and
        members remembered from the last action (orphans a dead master left behind)."""
        root = self._live_pid(name)
        procs: dict[int, psutil.Process] = {}
        if root is not None:
            try:
                rp = psutil.Process(root)
                procs[root] = rp
                for c in rp.children(recursive=True):
                    procs[c.pid] = c
            except psutil.Error:
                pass
        pgid = self._group(name, root)
        if pgid is not None:
            for p in psutil.process_iter():
                try:
                    if p.pid not in procs and os.getpgid(p.pid) == pgid:
                        procs[p.pid] = p
                except (OSError, psutil.Error):
                    continue
        for pid, start in (self._read_state(name) or {}).get("tree") or ():
            stat = _proc_stat(pid)
            if pid not in procs and stat and stat[1] == start:
                try:
                    procs[pid] = psutil.Process(pid)
                    procs.update({c.pid: c for c in procs[pid].children(recursive=True)})
                except psutil.Error:
                    continue
        return [p for p in procs.values() if _alive(p)]

    def _remember(self, name: str, procs: list[psutil.Process]) -> None:
        state = self._read_state(name)
        if state is None:
            return
        members = []
        for p in procs:
            stat = _proc_stat(p.pid)
            if stat:
                members.append([p.pid, stat[1]])
        state["tree"] = members
        self._write_state(name, state)

    def _signal_tree(self, name: str, sig: signal.Signals, procs: list[psutil.Process]) -> None:
        """`sig` to the service's group and to every process of `procs` (those that left the group,
        and the group's members again: harmless). PermissionError when a live process of the tree
        may not be signalled (it runs as another user): the fault cannot land, and must say why."""
        root = self._live_pid(name)
        pgid = self._group(name, root)
        denied: list[int] = []
        if pgid is not None:
            try:
                os.killpg(pgid, sig)
            except PermissionError:
                denied.append(pgid)
            except OSError:
                pass
        for p in procs:
            try:
                p.send_signal(sig)
            except psutil.AccessDenied:
                denied.append(p.pid)
            except psutil.Error:
                pass
        if denied:
            raise PermissionError(f"no permission to send {sig.name} to pid {', '.join(map(str, denied[:5]))} "
                                  f"of {name}")

    def ports(self, name: str, procs: list[psutil.Process] | None = None, *,
              cached: bool = False) -> set[tuple[str, int]]:
        """The (host, port) pairs the service answers on: configured ones and those it listens on.
        With `cached`, the listening ports seen when it last became healthy (reading every socket
        of the machine takes tens of ms, which a kill should not wait for before its signal)."""
        spec = self.spec(name)
        seen = (self._read_state(name) or {}).get("ports") if cached else None
        if seen is not None:
            found = {(h, p) for h, p in seen}
        else:
            found = {(_connect_host(a), p) for a, p in listening_ports(procs if procs is not None else self.tree(name))}
        if spec.port:
            found.add(("127.0.0.1", spec.port))
        if spec.health_tcp:
            found.add(split_hostport(spec.health_tcp))
        if spec.health_url:
            parts = urlsplit(spec.health_url)
            if parts.hostname:
                found.add((parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)))
        return found

    # -- queries -------------------------------------------------------------------------------
    def pid(self, name: str) -> int | None:
        return self._live_pid(name)

    def state(self, name: str) -> str:
        pid = self._live_pid(name)
        if pid is None:
            return STOPPED
        stat = _proc_stat(pid)
        return PAUSED if stat and stat[0] in ("T", "t") else RUNNING

    def status(self, name: str) -> ServiceStatus:
        spec = self.spec(name)
        procs = self.tree(name) if self._live_pid(name) else []
        return ServiceStatus(name, self.state(name), self.pid(name), spec.health_url, str(self.log_path(name)),
                             len(procs), self.adopted(name))

    def healthy(self, name: str, timeout: float = 0.5) -> bool:
        """Does the service answer: its health URL (any status below health_status_below), its
        health_tcp address, its `port`, or else any port a process of its tree listens on."""
        spec = self.spec(name)
        if spec.health_url:
            return health_ok(spec.health_url, timeout, spec.health_status_below)
        if spec.health_tcp:
            return tcp_open(*split_hostport(spec.health_tcp), timeout=timeout)
        if spec.port:
            return tcp_open("127.0.0.1", spec.port, timeout=timeout)
        return any(tcp_open(_connect_host(a), p, timeout) for a, p in listening_ports(self.tree(name)))

    def _note_ports(self, name: str) -> None:
        """Remember the ports of this instance (once per pid: they do not change under a pause)."""
        state = self._read_state(name)
        if state is not None and state.get("ports_pid") != state.get("pid"):
            state["ports"] = sorted([h, p] for h, p in self.ports(name))
            state["ports_pid"] = state.get("pid")
            self._write_state(name, state)

    def _health_what(self, name: str) -> str:
        spec = self.spec(name)
        if spec.health_url:
            return f"{spec.health_url} (any answer below {spec.health_status_below})"
        if spec.health_tcp:
            return f"a TCP connection to {spec.health_tcp}"
        if spec.port:
            return f"a TCP connection to port {spec.port}"
        return "a listening TCP port in its process tree"

    # -- actions ------------------------------------------------------------------------------
    def start(self, spec: ServiceSpec, wait: bool = True) -> int:
        """Start `spec` unless it already runs; return its pid. Waits until it answers its health
        check; a start that fails or times out stops whatever it started and quotes the log."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        existing = self._live_pid(spec.name)
        if existing is not None:
            return existing
        self._finish_leftovers(spec.name)
        self._write_state(spec.name, {"spec": asdict(spec), "pid": None})
        env = {**os.environ, **spec.env}
        with open(self.log_path(spec.name), "ab") as log:
            try:
                # A new session: Ctrl-C in shopbench's terminal must not reach the services, because
                # shopbench itself decides what to restore and stop; and the group is the service's own.
                child = subprocess.Popen(
                    spec.command, cwd=spec.cwd, env=env, stdin=subprocess.DEVNULL,
                    stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                )
            except OSError as exc:
                raise TargetError(f"service {spec.name}: cannot run {spec.command[0]!r} ({exc.strerror}).") from None
        self._children[child.pid] = child
        stat = _proc_stat(child.pid)
        self._write_state(spec.name, {"spec": asdict(spec), "pid": child.pid, "pgid": child.pid,
                                      "starttime": stat[1] if stat else None, "adopted": False})
        if wait:
            try:
                self.wait_healthy(spec.name)
            except TargetError:
                self.terminate(spec.name, timeout=2.0)
                raise
        return child.pid

    def _finish_leftovers(self, name: str) -> None:
        """Restart only once the whole tree is gone: orphans of a previous instance are ended first."""
        if self._read_state(name) is None:
            return
        left = self.tree(name)
        if left:
            self._signal_tree(name, signal.SIGCONT, left)
            self._signal_tree(name, signal.SIGKILL, left)
            _wait_gone(left, 5.0)

    def wait_healthy(self, name: str, timeout: float | None = None) -> None:
        spec = self.spec(name)
        deadline = time.monotonic() + (timeout if timeout is not None else spec.start_timeout)
        while True:
            if self._live_pid(name) is None:
                raise TargetError(f"service {name} exited while starting; last log lines of "
                                  f"{self.log_path(name)}:\n{self.log_tail(name)}")
            if self.healthy(name, timeout=0.5):
                self._note_ports(name)
                return
            if time.monotonic() > deadline:
                raise TargetError(
                    f"service {name} did not answer {self._health_what(name)} within {spec.start_timeout:g} s "
                    f"(start_timeout); it was stopped. Last log lines of {self.log_path(name)}:\n"
                    f"{self.log_tail(name)}")
            time.sleep(0.05)

    def log_tail(self, name: str, lines: int = 15) -> str:
        try:
            text = self.log_path(name).read_text(errors="replace").splitlines()[-lines:]
        except OSError:
            return "(no log)"
        return "\n".join(text) or "(the log is empty)"

    def signal(self, name: str, sig: signal.Signals) -> int | None:
        """Send `sig` to the service's whole tree; return its root pid, or None if it was not running."""
        self.spec(name)
        pid = self._live_pid(name)
        if pid is None:
            return None
        procs = self.tree(name)
        self._remember(name, procs)
        self._signal_tree(name, sig, procs)
        return pid

    def fault(self, name: str, action: str, verify_timeout: float = 5.0,
              stop_timeout: float | None = None) -> Landing | None:
        """Apply kill | terminate | pause | resume to the whole tree and verify it took effect;
        None when the service was not running (nothing to hit)."""
        self.spec(name)
        root = self._live_pid(name)
        if root is None:
            return None
        procs = self.tree(name)
        ports = self.ports(name, procs, cached=True) if action in ("kill", "terminate") else set()
        self._remember(name, procs)
        n = len(procs)
        if action == "kill":
            self._signal_tree(name, signal.SIGKILL, procs)
            return self._verify_gone(name, root, procs, ports, verify_timeout, "SIGKILL")
        if action == "terminate":
            grace = self.spec(name).stop_timeout if stop_timeout is None else stop_timeout
            self._signal_tree(name, signal.SIGTERM, procs)
            self._signal_tree(name, signal.SIGCONT, procs)  # a stopped process cannot act on SIGTERM
            alive = _wait_gone(procs, grace)
            how = "SIGTERM"
            if alive:
                self._signal_tree(name, signal.SIGKILL, alive)
                how = f"SIGTERM, then SIGKILL for {len(alive)} after {grace:g} s"
            return self._verify_gone(name, root, procs, ports, verify_timeout, how)
        if action == "pause":
            self._signal_tree(name, signal.SIGSTOP, procs)
            deadline = time.monotonic() + verify_timeout
            while True:
                states = [_stopped(p) for p in procs]
                if all(s is not False for s in states):
                    at = time.time()
                    break
                if time.monotonic() > deadline:
                    running = sum(1 for s in states if s is False)
                    return Landing(root, False, f"{running} of {n} processes still running "
                                                f"{verify_timeout:g} s after SIGSTOP", time.time())
                time.sleep(0.001)
            evidence = f"all {n} processes of the tree stopped"
            spec = self.spec(name)
            if spec.health_url:
                status = http_status(spec.health_url, timeout=HANG_PROBE_S)
                if status is not None:
                    return Landing(root, False, f"{evidence}, but {spec.health_url} still answered {status}: "
                                                f"something else serves it", time.time())
                evidence += f"; {spec.health_url} got no answer in {HANG_PROBE_S:g} s"
            return Landing(root, True, evidence, at)
        if action == "resume":
            self._signal_tree(name, signal.SIGCONT, procs)
            deadline = time.monotonic() + verify_timeout
            while any(_stopped(p) for p in procs):
                if time.monotonic() > deadline:
                    return Landing(root, False, f"processes still stopped {verify_timeout:g} s after SIGCONT",
                                   time.time())
                time.sleep(0.001)
            return self._verify_answers(name, root, f"all {n} processes of the tree running")
        raise UsageError(f"unknown action {action!r}.")

    def _verify_gone(self, name: str, root: int, procs: list[psutil.Process], ports: set[tuple[str, int]],
                     timeout: float, how: str) -> Landing:
        deadline = time.monotonic() + timeout
        while any(_alive(p) for p in procs):
            if time.monotonic() > deadline:
                left = [p.pid for p in procs if _alive(p)]
                return Landing(root, False, f"{how}: {len(left)} of {len(procs)} processes still alive "
                                            f"after {timeout:g} s (pids {left[:5]})", time.time())
            time.sleep(0.001)
        self._reap(root)
        open_ports = set(ports)
        while open_ports:
            open_ports = {hp for hp in open_ports if not tcp_refused(*hp)}
            if open_ports and time.monotonic() > deadline:
                shown = ", ".join(f"{h}:{p}" for h, p in sorted(open_ports))
                return Landing(root, False, f"{how}: the tree is gone but {shown} still accepts connections",
                               time.time())
            if open_ports:
                time.sleep(0.002)
        at = time.time()
        where = f"; {', '.join(f'{h}:{p}' for h, p in sorted(ports))} refuses connections" if ports else ""
        return Landing(root, True, f"{how}: none of the {len(procs)} processes of the tree is left{where}", at)

    def _verify_answers(self, name: str, pid: int | None, before: str, timeout: float | None = None) -> Landing:
        try:
            self.wait_healthy(name, timeout)
        except TargetError as exc:
            return Landing(pid, False, f"{before}, but {str(exc).splitlines()[0]}", time.time())
        return Landing(self._live_pid(name), True, f"{before}; it answers {self._health_what(name)}", time.time())

    def restart_verified(self, name: str) -> Landing:
        """Stop the whole tree (if running), start afresh from the spec's command, wait healthy."""
        spec = self.spec(name)
        before = self._live_pid(name)
        if before is not None:
            down = self.fault(name, "terminate")
            if down is not None and not down.landed:
                return Landing(before, False, f"restart: the old instance did not go away ({down.evidence})",
                               time.time())
        try:
            pid = self.start(spec, wait=True)
        except TargetError as exc:
            return Landing(None, False, f"restart failed: {str(exc).splitlines()[0]}", time.time())
        gone = f"old tree of pid {before} gone, " if before else ""
        return Landing(pid, True, f"{gone}started as pid {pid}; it answers {self._health_what(name)}", time.time())

    def kill(self, name: str) -> int | None:
        landing = self.fault(name, "kill")
        return landing.pid if landing else None

    def terminate(self, name: str, timeout: float | None = None) -> int | None:
        landing = self.fault(name, "terminate", stop_timeout=timeout)
        return landing.pid if landing else None

    def pause(self, name: str) -> int | None:
        landing = self.fault(name, "pause")
        return landing.pid if landing else None

    def resume(self, name: str) -> int | None:
        self.spec(name)
        pid = self._live_pid(name)
        if pid is None:
            return None
        procs = self.tree(name)
        self._signal_tree(name, signal.SIGCONT, procs)
        deadline = time.monotonic() + 2.0
        while any(_stopped(p) for p in procs) and time.monotonic() < deadline:
            time.sleep(0.001)
        return pid

    def restart(self, name: str, wait: bool = True) -> int:
        self.terminate(name)
        return self.start(self.spec(name), wait=wait)

    def ensure_running(self, name: str, wait: bool = True) -> int:
        """Bring a service back to running and resumed, whatever a fault left it in."""
        state = self.state(name)
        if state == PAUSED or (state == RUNNING and any(_stopped(p) for p in self.tree(name))):
            self.resume(name)
            return self.pid(name) or 0
        if state == STOPPED:
            return self.start(self.spec(name), wait=wait)
        return self.pid(name) or 0

    def stop(self, name: str) -> None:
        self.terminate(name)
        state = self._read_state(name)
        if state is not None:
            state["pid"] = None
            self._write_state(name, state)

    # -- adoption -------------------------------------------------------------------------------
    def find_running(self, spec: ServiceSpec) -> tuple[int, str] | None:
        """A running instance of `spec` shopbench did not start: (pid, how it was found), or None.
        Tried in order: the pid file, the process listening on `port`, a `match` on command lines."""
        me = {os.getpid(), *(p.pid for p in psutil.Process().parents())}
        if spec.pid_file:
            path = Path(spec.pid_file)
            if not path.is_absolute() and spec.cwd:
                path = Path(spec.cwd) / path
            try:
                pid = int(path.read_text().split()[0])
                if psutil.pid_exists(pid) and pid not in me and _alive(psutil.Process(pid)):
                    return pid, f"pid file {path}"
            except (OSError, ValueError, IndexError, psutil.Error):
                pass
        if spec.port:
            owners = set()
            for c in psutil.net_connections(kind="tcp"):
                if c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == spec.port and c.pid:
                    owners.add(c.pid)
            top = _topmost(owners - me)
            if top is not None:
                return _climb(top, spec.port, me), f"listening on port {spec.port}"
        if spec.match:
            pattern = re.compile(spec.match)
            hits = set()
            for p in psutil.process_iter(["cmdline"]):
                cmd = " ".join(p.info.get("cmdline") or [])
                if p.pid not in me and cmd and pattern.search(cmd) and _alive(p):
                    hits.add(p.pid)
            top = _topmost(hits)
            if top is not None:
                return top, f"command line matching {spec.match!r}"
        return None

    def adopt(self, spec: ServiceSpec) -> tuple[int, str] | None:
        """Take over a running instance of `spec` so faults reach it; its `command` restarts it later.
        Returns (pid, how found), or None when no running instance was found."""
        if self._live_pid(spec.name) is not None:
            state = self._read_state(spec.name) or {}
            return state["pid"], "already known"
        found = self.find_running(spec)
        if found is None:
            return None
        pid, how = found
        stat = _proc_stat(pid)
        try:
            pgid = os.getpgid(pid)
        except OSError:
            return None
        # Its group is used only if the service leads it: a shell script's group may hold shopbench too.
        group = pgid if pgid == pid and pgid != os.getpgrp() else None
        self._write_state(spec.name, {"spec": asdict(spec), "pid": pid, "pgid": group,
                                      "starttime": stat[1] if stat else None, "adopted": True, "found_by": how})
        self._note_ports(spec.name)
        return pid, how


def _wait_gone(procs: list[psutil.Process], timeout: float) -> list[psutil.Process]:
    """Wait until none of `procs` is alive (a zombie counts as gone: psutil.wait_procs would wait out
    the timeout on an orphan zombie nobody reaps); return those still alive."""
    deadline = time.monotonic() + timeout
    while True:
        alive = [p for p in procs if _alive(p)]
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.002)


def _climb(pid: int, port: int, me: set[int]) -> int:
    """The kernel names one owner of a shared listening socket, often a worker: climb to the
    highest ancestor that listens on `port` too (the master)."""
    try:
        proc = psutil.Process(pid)
        while True:
            parent = proc.parent()
            if parent is None or parent.pid in me or not any(
                    c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port
                    for c in parent.net_connections(kind="tcp")):
                return proc.pid
            proc = parent
    except psutil.Error:
        return pid


def _topmost(pids: set[int]) -> int | None:
    """Of related processes (a master and its workers, which all hold the listening socket), the one
    whose parent is not among them."""
    for pid in sorted(pids):
        try:
            parent = psutil.Process(pid).ppid()
        except psutil.Error:
            continue
        if parent not in pids:
            return pid
    return min(pids) if pids else None

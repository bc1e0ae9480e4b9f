"""The parent's side of the fault proxy: a blocking client of its control port, and `LinkProxy`,
which starts the proxy as a child process (`python -m shopbench.nemesis.proxy`) and controls it."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from shopbench.nemesis.proxy.dataplane import HOST


class ProxyError(RuntimeError):
    pass


class ProxyClient:
    """Blocking client of a proxy's control port; one request at a time (thread-safe)."""

    def __init__(self, port: int, host: str = HOST, timeout: float = 10.0):
        self.address = (host, port)
        self.timeout = timeout
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._buf = b""

    def request(self, cmd: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            for attempt in (0, 1):
                try:
                    if self._sock is None:
                        self._sock = socket.create_connection(self.address, timeout=self.timeout)
                        self._buf = b""
                    self._sock.sendall(json.dumps(cmd).encode() + b"\n")
                    while b"\n" not in self._buf:
                        data = self._sock.recv(65536)
                        if not data:
                            raise ConnectionError("the proxy closed its control connection")
                        self._buf += data
                    line, _, self._buf = self._buf.partition(b"\n")
                    break
                except OSError as exc:
                    self._close()
                    if attempt:
                        raise ProxyError(f"fault proxy at {self.address[0]}:{self.address[1]} "
                                         f"does not answer: {exc}") from None
        reply = json.loads(line)
        if not reply.get("ok"):
            raise ProxyError(reply.get("error") or "the fault proxy refused the command")
        return reply

    def set(self, link: str | None = None, **toxics: Any) -> dict[str, Any]:
        return self.request({"op": "set", "link": link, "toxics": toxics})["links"]

    def add_toxic(self, link: str, name: str, stream: str = "both", **toxics: Any) -> dict[str, Any]:
        """Add the toxic `name` on `stream` (upstream, downstream, both); ProxyError if it exists."""
        return self.request({"op": "add_toxic", "link": link, "name": name, "stream": stream, "toxics": toxics})["link"]

    def remove_toxic(self, link: str, name: str) -> bool:
        """Remove the toxic `name` (False: the link had none of that name); the others stay."""
        return bool(self.request({"op": "remove_toxic", "link": link, "name": name})["removed"])

    def clear(self, link: str | None = None) -> dict[str, Any]:
        return self.request({"op": "clear", "link": link})["links"]

    def state(self) -> dict[str, Any]:
        return self.request({"op": "state"})["links"]

    # -- request positions (positions.py; docs/network-faults.md, "Request positions") --
    def http(self, link: str | None = None, on: bool = True) -> dict[str, Any]:
        """Frame HTTP/1.x on `link`'s (every link's) connections accepted from now on."""
        return self.request({"op": "http", "link": link, "on": on})["links"]

    def requests(self, link: str, reset: bool = False) -> dict[str, Any]:
        """{"count", "requests": [{"n", "method", "path", "conn", "t", "status", "events"}], ...};
        `reset` numbers the next request 1 again."""
        return self.request({"op": "requests", "link": link, "reset": reset})

    def arm(self, link: str, n: int, mode: str, seconds: float = 0.0, hold_max: float = 60.0) -> dict[str, Any]:
        return self.request({"op": "arm", "link": link, "n": n, "mode": mode, "seconds": seconds,
                             "hold_max": hold_max})["armed"]

    def disarm(self, link: str | None = None) -> None:
        self.request({"op": "disarm", "link": link})

    def release(self, link: str, n: int) -> bool:
        return bool(self.request({"op": "release", "link": link, "n": n})["released"])

    def wait(self, link: str, n: int, event: str, timeout: float = 10.0) -> dict[str, Any]:
        """Block until request `n` on `link` had `event`; ProxyError on timeout. It waits on a
        connection of its own, so other commands (release, another wait) go on meanwhile."""
        own = ProxyClient(self.address[1], self.address[0], timeout=timeout + 10.0)
        try:
            return own.request({"op": "wait", "link": link, "n": n, "event": event, "timeout": timeout})
        finally:
            own.close()

    def _close(self) -> None:
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.close()
        self._sock = None

    def close(self) -> None:
        with self._lock:
            self._close()


class LinkProxy(ProxyClient):
    """A proxy child process with its links, and a client to it."""

    def __init__(self, proc: subprocess.Popen[bytes], ready: dict[str, Any]):
        super().__init__(ready["control"])
        self.proc = proc
        self.pid: int = ready["pid"]
        self.links: dict[str, dict[str, Any]] = ready["links"]
        self.log: Any = None  # the child's stderr (a temporary file)

    @classmethod
    def start(cls, links: Mapping[str, tuple[str, int]], listen: Mapping[str, int] | None = None,
              timeout: float = 15.0, http: bool = False) -> LinkProxy:
        """Start `python -m shopbench.nemesis.proxy` with `links` (name -> upstream (host, port));
        `listen` fixes a link's port (default: a free one); `http` frames HTTP/1.x on every link
        from its first connection (request positions)."""
        argv = [sys.executable, "-m", "shopbench.nemesis.proxy", "--exit-on-stdin-eof", *(["--http"] if http else [])]
        for name, (host, port) in links.items():
            argv += ["--link", f"{name}={(listen or {}).get(name, 0)}={host}:{port}"]
        # The child imports this very shopbench, wherever the parent found it (a checkout, a venv).
        here = str(Path(__file__).resolve().parents[3])
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (here, os.environ.get("PYTHONPATH")) if p)}
        # Its stderr goes to a file, never a pipe: a pipe nobody reads fills up, and a proxy blocked
        # writing a log line would stall every link.
        log = tempfile.TemporaryFile()
        # Its own session: a terminal's Ctrl-C (SIGINT to the foreground process group) must not
        # take the links down mid-run; shopbench ends it by its pid once the shop settled through
        # them (stop(), or the closed stdin pipe when shopbench exits).
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, env=env,
                                start_new_session=True)
        line = _read_line(proc, timeout)
        try:
            ready = json.loads(line) if line else {}
        except json.JSONDecodeError:
            ready = {}
        if not ready.get("ok"):
            proc.kill()
            log.seek(0)
            err = log.read().decode(errors="replace").strip()
            log.close()
            proc.wait()
            raise ProxyError(f"the fault proxy did not start: {err.splitlines()[-1] if err else line!r}")
        proxy = cls(proc, ready)
        proxy.log = log
        return proxy

    def port(self, link: str) -> int:
        return int(self.links[link]["port"])

    def url(self, link: str, scheme: str = "http") -> str:
        return f"{scheme}://{HOST}:{self.port(link)}"

    def stop(self) -> None:
        self.close()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for f in (self.proc.stdin, self.proc.stdout, self.log):
            if f is not None:
                with contextlib.suppress(OSError):
                    f.close()

    def __enter__(self) -> LinkProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _read_line(proc: subprocess.Popen[bytes], timeout: float) -> str:
    out: list[bytes] = []
    reader = threading.Thread(target=lambda: out.append(proc.stdout.readline() if proc.stdout else b""),
                              daemon=True)
    reader.start()
    reader.join(timeout)
    return out[0].decode().strip() if out else ""

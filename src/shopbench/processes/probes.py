"""Asking a service whether it answers: free ports, one TCP probe, HTTP status and health.

One probe serves every question a fault or a health check asks of a port: is it refused (nothing
listens: a kill landed), does it accept a connection (a TCP health check), and does a request on
it get any answer within a window (a paused tree leaves it unanswered: the kernel still accepts
the connection, nobody reads it).
"""

from __future__ import annotations

import os
import random
import selectors
import socket
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterable
from pathlib import Path

# What a probe of one host:port saw.
REFUSED = "refused"  # nothing listens there
NO_CONNECTION = "no connection"  # neither accepted nor refused in time (a firewall, a full backlog)
ACCEPTED = "accepted"  # connected; nothing was asked
ANSWERED = "answered"  # a request got bytes back, or the peer closed or reset the connection
SILENT = "silent"  # connected, the request got nothing back within the window

# Any server answers this with something: an HTTP reply, an error, or by closing the connection.
REQUEST = b"GET / HTTP/1.0\r\nHost: shopbench-probe\r\n\r\n"

Address = tuple[str, int]


# Ports below Linux's ephemeral range (32768 and up): the kernel never hands these out to bind(0)
# or to an outgoing connection, so only another chooser like this one can want the same port.
PORT_RANGE = range(20000, 32000)
# A chosen port stays claimed this long for every shopbench of this user: long enough for the
# service it was chosen for to start and bind it, after which it is simply in use.
CLAIM_SECONDS = 120.0
_pick = random.SystemRandom()


def free_port(host: str = "127.0.0.1") -> int:
    return free_ports(1, host)[0]


def free_ports(n: int, host: str = "127.0.0.1") -> list[int]:
    """`n` distinct ports nothing listens on, each claimed for CLAIM_SECONDS. A port handed to a
    child is free until the child binds it; two runs (or two test workers) told the same port leave
    one service unable to bind while the other answers its health check in its name, so a port
    another chooser claimed recently is never chosen again (a file per port in the temp folder)."""
    chosen: list[int] = []
    while len(chosen) < n:
        port = _pick.choice(PORT_RANGE)
        if port not in chosen and _bindable(host, port) and _claim(port):
            chosen.append(port)
    return chosen


def _bindable(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def _claim(port: int) -> bool:
    folder = Path(tempfile.gettempdir()) / f"shopbench-ports-{os.getuid()}"
    path = folder / str(port)
    try:
        folder.mkdir(exist_ok=True)
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        return True
    except FileExistsError:
        try:
            if time.time() - path.stat().st_mtime < CLAIM_SECONDS:
                return False
            os.utime(path)  # an old claim: its service bound the port long ago, or never will
            return True
        except OSError:
            return False
    except OSError:
        return True  # no claims folder here: the bind check alone decides


def connect_host(addr: str) -> str:
    """Where to connect for a socket listening on `addr` (a wildcard is reached on loopback)."""
    if addr in ("0.0.0.0", "", "::", "::ffff:0.0.0.0"):  # noqa: S104
        return "127.0.0.1"
    return addr.removeprefix("::ffff:") if addr.startswith("::ffff:") and "." in addr else addr


def probe(addrs: Iterable[Address], timeout: float, request: bytes | None = None) -> dict[Address, str]:
    """The one TCP probe: connect to every address (each within `timeout`), and with `request`
    send it on each connection and wait one shared `timeout` window for any answer. Returns one
    of REFUSED, NO_CONNECTION, ACCEPTED (no request), ANSWERED or SILENT per address.

    Not merged with the link check's probe (nemesis/linkcheck.py `probe`), on purpose: this one
    asks a *state* of many ports at once (one shared window; bytes, EOF and a reset all count as
    "the process acted"), that one *measures* one connection through a link (when the first and
    last byte came, reading to the close within a window, and reset vs closed vs silent, which is
    what tells a `reset` fault from a `blackhole`). One function would be two behind a flag."""
    seen: dict[Address, str] = {}
    open_socks: dict[socket.socket, Address] = {}
    try:
        for addr in dict.fromkeys(addrs):
            try:
                sock = socket.create_connection(addr, timeout=timeout)
            except ConnectionRefusedError:
                seen[addr] = REFUSED
                continue
            except OSError:
                seen[addr] = NO_CONNECTION
                continue
            if request is None:
                sock.close()
                seen[addr] = ACCEPTED
                continue
            open_socks[sock] = addr
            try:
                sock.sendall(request)  # lands in the kernel's buffer even when nobody reads
            except OSError:
                seen[addr] = ANSWERED  # reset on send: the peer acted
                sock.close()
                del open_socks[sock]
        with selectors.DefaultSelector() as sel:
            for sock in open_socks:
                sel.register(sock, selectors.EVENT_READ)
            deadline = time.monotonic() + timeout
            while sel.get_map():
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                for key, _ in sel.select(left):
                    seen[open_socks[key.fileobj]] = ANSWERED  # bytes, EOF or a reset: readable
                    sel.unregister(key.fileobj)
        for addr in open_socks.values():
            seen.setdefault(addr, SILENT)
    finally:
        for sock in open_socks:
            sock.close()
    return seen


def tcp_open(host: str, port: int, timeout: float = 0.5) -> bool:
    return probe([(host, port)], timeout)[(host, port)] == ACCEPTED


def tcp_refused(host: str, port: int, timeout: float = 0.2) -> bool:
    """True when a connection to host:port is refused (nothing listens), not merely slow."""
    return probe([(host, port)], timeout)[(host, port)] == REFUSED


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

"""How many connections a target's front door holds open before it closes or refuses them.

A consistency burst opens one keep-alive connection per client (driver/transport.py `warm`) and a
gateway keeps a fixed number (nginx: `worker_connections`, 512 by default, one of them its listening
socket). Past it, nginx closes idle connections to make room ("worker_connections are not enough,
reusing connections"): a checkout sent on one of them gets no answer and is indeterminate, the
gateway's doing, not the shop's. This opens idle connections in small waves (no request is sent on
them) and stops at the first one the other side closes, resets or refuses, or at `most`.

A proxied request holds two of the gateway's connections (the client's and the one to the upstream
service), so the burst's clients should stay under half of what it holds: `safe_concurrency`.
"""

from __future__ import annotations

import contextlib
import select
import socket
import time
from dataclasses import dataclass

WAVE = 64  # connections opened together, as a burst's warm-up does
PAUSE = 0.1  # after the last wave: time for the gateway to accept (and, over its limit, close) the last ones
MOST = 2048


@dataclass
class ConnectionLimit:
    opened: int  # connections we had open at the peak
    held: int  # of them still open when we stopped
    # "closed" | "reset" | "refused": a limit that costs requests; "timeout" | "slow": it accepts slowly
    # past this (its listen backlog: a retransmitted SYN, a second's wait, no lost request);
    # "none": no limit up to `most`; "fd-limit": this process may open no more
    stopped: str
    most: int

    @property
    def limited(self) -> bool:
        return self.stopped in ("closed", "reset", "refused") and self.opened > 0  # refusing all: it is down

    def safe_concurrency(self) -> int | None:
        """Burst clients that stay under the limit with room to spare (two connections per proxied
        request, 10 % headroom); None when no limit was found."""
        if not self.limited:
            return None
        return max(1, (self.held // 2) * 9 // 10)

    def sentence(self) -> str:
        if self.stopped == "refused" and not self.opened:
            return "it refused every connection: is the shop up?"
        if self.stopped == "none":
            return f"it held all {self.opened:,} idle connections we opened (we stop at {self.most:,})"
        if self.stopped in ("timeout", "slow"):
            return (f"it held all {self.opened:,} idle connections we opened and then accepted new ones slowly (a "
                    "full listen backlog: a second's wait per connection, no request lost)")
        if self.stopped == "fd-limit":
            return (f"it held all {self.opened:,} idle connections this process may open (raise `ulimit -n` to "
                    "measure further)")
        verb = {"closed": "closed", "reset": "reset", "refused": "refused"}
        return (f"it {verb[self.stopped]} connections once {self.opened:,} were open and held {self.held:,}: "
                f"about {self.held:,} is its limit (nginx: worker_connections)")


def _fd_room() -> int:
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        return max(0, soft - 64)  # what this process needs for everything else
    except (ImportError, ValueError, OSError):
        return 960


def _dead(socks: list[socket.socket]) -> tuple[int, str | None]:
    """How many of `socks` the other side closed or reset, and how (the first seen)."""
    poller = select.poll()
    by_fd = {s.fileno(): s for s in socks}
    for fd in by_fd:
        poller.register(fd, select.POLLIN | select.POLLERR | select.POLLHUP)
    dead, how = 0, None
    for fd, _ in poller.poll(0):
        try:
            data = by_fd[fd].recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
        except BlockingIOError:
            continue
        except OSError:
            dead, how = dead + 1, how or "reset"
            continue
        if data == b"":
            dead, how = dead + 1, how or "closed"
        # bytes before any request (an eager server's greeting) are no closure
    return dead, how


def connection_limit(host: str, port: int, *, most: int = MOST, connect_timeout: float = 0.5,
                     budget: float = 5.0) -> ConnectionLimit:
    """Open idle connections to host:port in waves until the other side closes, resets or refuses one
    (or `most` are open, or a connection takes over `connect_timeout`, or `budget` seconds pass);
    every connection is closed again before this returns."""
    deadline = time.monotonic() + budget
    room = _fd_room()
    cap = min(most, room)
    socks: list[socket.socket] = []
    stopped = "none" if cap == most else "fd-limit"
    try:
        while len(socks) < cap and stopped in ("none", "fd-limit"):
            if time.monotonic() > deadline:
                stopped = "slow"
                break
            for _ in range(min(WAVE, cap - len(socks))):
                try:
                    socks.append(socket.create_connection((host, port), timeout=connect_timeout))
                except ConnectionRefusedError:
                    stopped = "refused"
                    break
                except TimeoutError:
                    stopped = "timeout"
                    break
                except ConnectionResetError:
                    stopped = "reset"
                    break
            dead, how = _dead(socks)  # a gateway over its limit closes as it accepts: seen without waiting
            if dead:
                break
        time.sleep(PAUSE)
        dead, how = _dead(socks)
        if dead:
            stopped = how or "closed"
        return ConnectionLimit(len(socks), len(socks) - dead, stopped, most)
    finally:
        for s in socks:
            with contextlib.suppress(OSError):
                s.close()


def fit_to_gateway(order_url: str, wanted: int) -> tuple[int, dict | None]:
    """The burst's clients for a target whose front door may hold fewer connections than `wanted`
    needs (two per proxied request): (clients, what was measured, or None when `wanted` fits)."""
    from urllib.parse import urlsplit

    parts = urlsplit(order_url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    limit = connection_limit(parts.hostname or "127.0.0.1", port, most=2 * wanted)
    safe = limit.safe_concurrency()
    if safe is None or safe >= wanted:
        return wanted, None
    return safe, {"url": f"{parts.scheme}://{parts.netloc}", "held": limit.held, "stopped": limit.stopped,
                  "wanted": wanted, "concurrency": safe}


def fitted_sentence(fit: dict) -> str:
    return (f"the gateway at {fit['url']} held about {fit['held']:,} connections ({fit['stopped']} past them): "
            f"{fit['wanted']:,} clients would need two each and it would close some, turning checkouts "
            f"indeterminate, so the burst fired with {fit['concurrency']:,} clients. Raise its limit (nginx: "
            "worker_connections) for more, or pass --concurrency to insist.")

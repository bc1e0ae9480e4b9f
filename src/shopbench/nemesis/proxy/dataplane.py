"""The fault proxy's data plane: the proxied connections of a link (link.py), forwarding bytes
between a client's socket and the upstream one, with toxics switched on and off while traffic
flows. It forwards bytes and knows nothing of HTTP (framing.py does, when the link asks), so it
serves any wire.

What each toxic does (toxics.py adds them up, per stream):
  latency_ms, jitter_ms  every chunk of the stream is held this long (+- uniform jitter) before it
                         is forwarded, order kept
  rate                   bytes per second
  slice_bytes, slice_ms  chunks cut into pieces of this many bytes, with slice_ms between them
  blackhole              connections are accepted and never answered; bytes in flight on existing
                         connections are dropped (they stall). When lifted, the connections that
                         lost bytes are reset: their streams are corrupt
  reset                  existing connections are reset (RST); new ones are accepted and reset
  down                   the listener is closed (connections refused) and existing ones reset
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import struct
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from shopbench.nemesis.proxy.framing import Framer
from shopbench.nemesis.proxy.positions import Tracker

if TYPE_CHECKING:
    from shopbench.nemesis.proxy.link import Link

HOST = "127.0.0.1"


def _abort(transport: asyncio.BaseTransport | None) -> None:
    """Close with a TCP RST (SO_LINGER 0), the way a crashed or reset peer looks."""
    if transport is None or transport.is_closing():
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()  # type: ignore[attr-defined]


def _nodelay(transport: asyncio.BaseTransport) -> None:
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _Side(asyncio.Protocol):
    """One socket of a proxied connection. Bytes it receives go to the other side: straight from
    the callback when no toxic shapes them (the cheap path: no task, no queue), else through its
    direction's `_Shaper`."""

    def __init__(self, conn: _Conn, upstream: bool):
        self.conn = conn
        self.upstream = upstream  # True: this is the client's socket, its bytes go upstream
        self.transport: asyncio.Transport | None = None
        self.peer: _Side | None = None
        self.shaper: _Shaper | None = None
        self.writable = asyncio.Event()
        self.writable.set()
        self.early: list[bytes] = []
        self.early_eof = False
        self.framer: Framer | None = None  # HTTP/1.x framing, when the link tracks request positions
        # Bytes (None: the end of the stream; a callable: a marker) held for the peer until released.
        self.held: list[bytes | None | Callable[[], None]] | None = None
        self.lost_held = False  # this socket closed while its bytes were held: close the peer after them

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        _nodelay(transport)

    def data_received(self, data: bytes) -> None:
        link = self.conn.link
        t = link.toxics
        if t.blackhole:
            self.conn.lost_bytes = True
            return
        if self.peer is None:
            # Before the upstream socket is there (uvloop may deliver bytes despite pause_reading):
            # kept, and written first once it is.
            self.early.append(data)
            return
        if self.framer is not None:
            self.conn.tracker.feed(self, data)  # type: ignore[union-attr]
            return
        self.pass_on(data)

    def pass_on(self, data: bytes) -> None:
        """Send `data` to the peer: held, straight through, or through the shaper."""
        if self.held is not None:
            self.held.append(data)
            return
        peer = self.peer
        if peer is None or peer.transport is None or peer.transport.is_closing():
            return
        if self.shaper is None and not self.conn.link.stream(self.upstream).shaped():
            peer.transport.write(data)
            return
        if self.shaper is None:
            self.shaper = _Shaper(self)
        self.shaper.put(data)

    def mark(self, fn: Callable[[], None]) -> None:
        """Call `fn` once every byte passed on before it was handed to the peer's socket."""
        if self.held is not None:
            self.held.append(fn)
        elif self.shaper is not None:
            self.shaper.put(fn)
        else:
            fn()

    def hold(self) -> None:
        if self.held is None:
            self.held = []

    def release(self) -> None:
        """Pass on what was held, in order, the end of the stream and a close included."""
        held, self.held = self.held, None
        for item in held or ():
            if self.held is not None:  # held again (by a marker): the rest waits behind it
                self.held.append(item)
            elif item is None:
                self._pass_eof()
            elif callable(item):
                self.mark(item)
            else:
                self.pass_on(item)
        if self.held is None and self.lost_held:
            self.lost_held = False
            self.conn.lost(self)

    def eof_received(self) -> bool:
        if self.peer is None:
            self.early_eof = True  # passed on once the upstream socket is there
            return True
        if self.framer is not None:
            self.conn.tracker.eof(self)  # type: ignore[union-attr]
        if self.held is not None:
            self.held.append(None)
            return True
        self._pass_eof()
        return True  # half-closed: the answer may still come back

    def _pass_eof(self) -> None:
        if self.shaper is not None:
            self.shaper.put(None)
        elif self.peer is not None and self.peer.transport is not None and self.peer.transport.can_write_eof():
            with contextlib.suppress(OSError, RuntimeError):
                self.peer.transport.write_eof()

    def connection_lost(self, exc: Exception | None) -> None:
        self.writable.set()
        self.conn.lost(self)

    def pause_writing(self) -> None:
        # Our socket's buffer is full: stop reading from the side that fills it.
        self.writable.clear()
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.pause_reading()

    def resume_writing(self) -> None:
        self.writable.set()
        if self.peer is not None and self.peer.transport is not None and not self.peer.transport.is_closing():
            self.peer.transport.resume_reading()


class _Shaper:
    """The shaped path of one direction: chunks queued with the time they are due, written by one
    task, so a delay holds each chunk for its time without holding up the reading of the next (no
    throughput collapse), and order is kept when toxics change while bytes are queued."""

    def __init__(self, side: _Side):
        self.side = side
        self.queue: asyncio.Queue[tuple[float, bytes | None | Callable[[], None]]] = asyncio.Queue()
        self.last_due = 0.0
        self.task = asyncio.get_running_loop().create_task(self._run())
        side.conn.tasks.append(self.task)

    def put(self, data: bytes | None | Callable[[], None]) -> None:
        t = self.side.conn.link.stream(self.side.upstream)
        due = asyncio.get_running_loop().time()
        if isinstance(data, bytes) and (t.latency_ms or t.jitter_ms):
            jitter = random.uniform(-t.jitter_ms, t.jitter_ms) if t.jitter_ms else 0.0
            due += max(0.0, t.latency_ms + jitter) / 1000.0
        due = max(due, self.last_due)  # jitter never reorders a stream
        self.last_due = due
        self.queue.put_nowait((due, data))

    async def _run(self) -> None:
        try:
            await self._forward()
        except (ConnectionError, OSError):
            self.side.conn.abort()
        except Exception:
            # A bug here must not stall a connection forever: the client sees a reset instead.
            self.side.conn.abort()
            raise

    async def _forward(self) -> None:
        side, loop = self.side, asyncio.get_running_loop()
        out = side.peer
        assert out is not None
        while True:
            due, data = await self.queue.get()
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            if callable(data):
                data()  # a marker: every byte before it is written
                continue
            if out.transport is None or out.transport.is_closing():
                return
            if data is None:
                if out.transport.can_write_eof():
                    with contextlib.suppress(OSError, RuntimeError):
                        out.transport.write_eof()
                return
            t = side.conn.link.stream(side.upstream)
            # A rate is kept by cutting the bytes into 10 ms portions and waiting each one's time
            # before it goes: the last byte arrives when it would have on a link that slow.
            size = min([n for n in (t.slice_bytes, max(1, int(t.rate / 100)) if t.rate else 0) if n]
                       or [len(data)])
            pieces = [data[i:i + size] for i in range(0, len(data), size)]
            for i, piece in enumerate(pieces):
                if t.rate:
                    await asyncio.sleep(len(piece) / t.rate)
                if side.conn.link.toxics.blackhole:
                    side.conn.lost_bytes = True
                    break
                if out.transport.is_closing():
                    return
                out.transport.write(piece)
                await out.writable.wait()
                t = side.conn.link.stream(side.upstream)
                if t.slice_bytes and t.slice_ms and i < len(pieces) - 1:
                    await asyncio.sleep(t.slice_ms / 1000.0)
            if self.queue.empty() and not side.conn.link.stream(side.upstream).shaped():
                side.shaper = None  # back on the cheap path; nothing is queued that it could overtake
                return


class _Conn:
    """One proxied connection: the client's socket and the upstream one."""

    def __init__(self, link: Link):
        self.link = link
        self.client = _Side(self, upstream=True)
        self.server = _Side(self, upstream=False)
        self.tasks: list[asyncio.Task[Any]] = []
        self.lost_bytes = False  # a blackhole dropped some of its bytes
        self.closed = False
        self.tracker: Tracker | None = None

    def accepted(self) -> None:
        t = self.link.toxics
        if t.reset or t.down:
            self.abort()
            return
        self.link.conns.add(self)
        if self.link.http:
            self.tracker = Tracker(self, self.link.accepted)
        else:
            self.link.positions.untracked += 1
        if t.blackhole:
            self.lost_bytes = True  # accepted, read, never answered, until the blackhole lifts and resets it
            return
        assert self.client.transport is not None
        self.client.transport.pause_reading()  # until the upstream socket is there to take the bytes
        self.tasks.append(asyncio.get_running_loop().create_task(self._connect()))

    async def _connect(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            await loop.create_connection(lambda: self.server, *self.link.upstream)
        except OSError:
            self.abort()  # the upstream refuses: so does the link
            return
        if self.closed or self.link.toxics.reset or self.link.toxics.down:
            self.abort()
            return
        self.client.peer, self.server.peer = self.server, self.client
        early, self.client.early = self.client.early, []
        for data in early:
            self.client.data_received(data)
        if self.client.early_eof:
            self.client.eof_received()
        if self.client.transport is not None and not self.client.transport.is_closing():
            self.client.transport.resume_reading()

    def abort(self) -> None:
        self.closed = True
        self.link.conns.discard(self)
        for side in (self.client, self.server):
            _abort(side.transport)
        for t in self.tasks:
            t.cancel()

    def lost(self, side: _Side) -> None:
        """One socket closed: close the other once what is queued for it is written."""
        if self.closed:
            return
        if side.held is not None:
            side.lost_held = True  # the peer is closed once what is held for it was released
            return
        other = self.server if side is self.client else self.client
        if other.transport is not None and not other.transport.is_closing():
            if side.shaper is not None and not side.shaper.task.done():
                side.shaper.task.add_done_callback(lambda _t: other.transport.close())  # type: ignore[union-attr]
                return
            other.transport.close()
        self.closed = True
        self.link.conns.discard(self)

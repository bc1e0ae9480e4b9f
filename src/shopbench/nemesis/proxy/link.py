"""One named link of the fault proxy: a listener forwarding to one upstream address, its named
toxics (toxics.py) and what they do to its connections when they change, and its request
positions (positions.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from shopbench.nemesis.proxy.dataplane import HOST, _Conn, _Side
from shopbench.nemesis.proxy.positions import Positions
from shopbench.nemesis.proxy.toxics import Toxic, Toxics, combine


class _Accept(_Side):
    """The client's side, made by the listener."""

    def __init__(self, link: Link):
        super().__init__(_Conn(link), upstream=True)
        self.conn.client = self

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.conn.link.accepted += 1
        self.conn.accepted()


class Link:
    """One named link: a listener forwarding to one upstream address."""

    def __init__(self, name: str, upstream: tuple[str, int], listen_port: int = 0, host: str = HOST,
                 http: bool = False):
        self.name = name
        self.upstream = upstream
        self.host = host
        self.port = listen_port
        self.named: dict[str, Toxic] = {}  # the toxics, by name (toxics.py)
        self.toxics = Toxics()  # what they do to the link as a whole
        self.up = self.down = Toxics()  # ... and to each stream
        self.conns: set[_Conn] = set()
        self.server: asyncio.AbstractServer | None = None
        self.accepted = 0
        self.http = http  # frame HTTP/1.x on new connections: number requests, honour armed positions
        self.positions = Positions()

    async def listen(self) -> None:
        loop = asyncio.get_running_loop()
        self.server = await loop.create_server(lambda: _Accept(self), self.host, self.port, reuse_address=True,
                                               backlog=1024)
        self.port = self.server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            self.server = None
        for c in list(self.conns):
            c.abort()

    def stream(self, upstream: bool) -> Toxics:
        return self.up if upstream else self.down

    async def add_toxic(self, toxic: Toxic) -> None:
        self.named[toxic.name] = toxic
        await self._apply()

    async def remove_toxic(self, name: str) -> bool:
        found = self.named.pop(name, None) is not None
        await self._apply()
        return found

    async def set(self, changes: Mapping[str, Any]) -> None:
        """The `set` command: change the toxic named "set" (on both streams), made when needed."""
        old = self.named.get("set")
        values = {**(old.values if old else {}), **changes}
        values = {k: v for k, v in values.items() if v}
        if values:
            self.named["set"] = Toxic("set", "both", values)
        else:
            self.named.pop("set", None)
        await self._apply()

    async def clear(self) -> None:
        self.named = {}
        await self._apply()

    async def _apply(self) -> None:
        """Recompute what the toxics do, and act on what changed for existing connections."""
        was = self.toxics
        toxics = list(self.named.values())
        now = self.toxics = combine(toxics, None)
        self.up, self.down = combine(toxics, "upstream"), combine(toxics, "downstream")
        if now.reset or now.down:
            for c in list(self.conns):
                c.abort()
        if was.blackhole and not now.blackhole:
            for c in list(self.conns):
                if c.lost_bytes:
                    c.abort()
        if now.down and self.server is not None:
            self.server.close()
            self.server = None
        if not now.down and self.server is None:
            await self.listen()

    def state(self) -> dict[str, Any]:
        return {"name": self.name, "listen": f"{self.host}:{self.port}", "port": self.port,
                "upstream": f"{self.upstream[0]}:{self.upstream[1]}", "toxics": asdict(self.toxics),
                "named": {name: tx.state() for name, tx in self.named.items()},
                "active": self.toxics.active(), "connections": len(self.conns), "accepted": self.accepted,
                "listening": self.server is not None, "http": self.http, "requests": self.positions.count,
                "armed": [r.state() for r in self.positions.rules.values()]}

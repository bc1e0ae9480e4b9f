"""The fault proxy's control server: the links and the control channel in one asyncio loop, one
JSON object a line over a loopback TCP port (commands: add, state, set, clear)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import threading
from dataclasses import asdict
from typing import Any

from shopbench.configfile import parse_hostport
from shopbench.nemesis.proxy.dataplane import HOST, TOXIC_FIELDS, Link, Toxics


class ProxyServer:
    """The links and the control channel, in one asyncio loop."""

    def __init__(self) -> None:
        self.links: dict[str, Link] = {}

    async def add(self, name: str, upstream: tuple[str, int], listen_port: int = 0) -> Link:
        if name in self.links:
            raise ValueError(f"link {name!r} exists already")
        link = Link(name, upstream, listen_port)
        await link.listen()
        self.links[name] = link
        return link

    async def command(self, cmd: dict[str, Any]) -> dict[str, Any]:
        op = cmd.get("op")
        if op == "add":
            link = await self.add(cmd["link"], parse_hostport(cmd["upstream"]), int(cmd.get("listen") or 0))
            return {"ok": True, "link": link.state()}
        if op == "state":
            return {"ok": True, "links": {n: lk.state() for n, lk in self.links.items()}}
        if op in ("set", "clear"):
            names = [cmd["link"]] if cmd.get("link") else list(self.links)
            for name in names:
                if name not in self.links:
                    return {"ok": False, "error": f"no link {name!r}; links: {', '.join(self.links) or 'none'}"}
            changes = cmd.get("toxics") or {} if op == "set" else asdict(Toxics())
            bad = sorted(set(changes) - set(TOXIC_FIELDS))
            if bad:
                return {"ok": False, "error": f"unknown toxic {bad[0]!r}; toxics: {', '.join(TOXIC_FIELDS)}"}
            for name in names:
                await self.links[name].set(changes)
            return {"ok": True, "links": {n: self.links[n].state() for n in names}}
        return {"ok": False, "error": f"unknown op {op!r}"}

    async def _control(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while line := await reader.readline():
                try:
                    reply = await self.command(json.loads(line))
                except Exception as exc:  # noqa: BLE001 - a bad command gets an answer, not a dead proxy
                    reply = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
                writer.write(json.dumps(reply).encode() + b"\n")
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    async def serve(self, specs: list[tuple[str, tuple[str, int], int]], control_port: int = 0,
                    exit_on_stdin_eof: bool = False) -> None:
        for name, upstream, listen in specs:
            await self.add(name, upstream, listen)
        control = await asyncio.start_server(self._control, HOST, control_port)
        ready = {"ok": True, "pid": os.getpid(), "control": control.sockets[0].getsockname()[1],
                 "links": {n: lk.state() for n, lk in self.links.items()}}
        sys.stdout.write(json.dumps(ready) + "\n")
        sys.stdout.flush()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        if exit_on_stdin_eof:
            # The parent holds our stdin; when it ends (even by SIGKILL) the pipe closes and we go.
            threading.Thread(target=lambda: (sys.stdin.buffer.read(), asyncio.run_coroutine_threadsafe(
                _set(stop), loop)), daemon=True).start()
        with contextlib.suppress(NotImplementedError):
            import signal

            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        control.close()
        for link in self.links.values():
            await link.close()


async def _set(event: asyncio.Event) -> None:
    event.set()

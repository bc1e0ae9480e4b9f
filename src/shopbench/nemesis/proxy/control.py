"""The fault proxy's control server: the links and the control channel in one asyncio loop, one
JSON object a line over a loopback TCP port (commands: add, state, add_toxic, remove_toxic, set, clear,
and the request-position ops http, requests, arm, disarm, release, wait)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
from typing import Any

from shopbench.configfile import parse_hostport
from shopbench.nemesis.proxy.dataplane import HOST
from shopbench.nemesis.proxy.link import Link
from shopbench.nemesis.proxy.positions import EVENTS
from shopbench.nemesis.proxy.toxics import TOXIC_FIELDS, Toxic, check

POSITION_OPS = ("http", "requests", "arm", "disarm", "release", "wait")


class ProxyServer:
    """The links and the control channel, in one asyncio loop."""

    def __init__(self, http: bool = False) -> None:
        self.links: dict[str, Link] = {}
        self.http = http  # new links frame HTTP/1.x (request positions) from their first connection

    async def add(self, name: str, upstream: tuple[str, int], listen_port: int = 0, http: bool | None = None) -> Link:
        if name in self.links:
            raise ValueError(f"link {name!r} exists already")
        link = Link(name, upstream, listen_port, http=self.http if http is None else bool(http))
        await link.listen()
        self.links[name] = link
        return link

    async def command(self, cmd: dict[str, Any]) -> dict[str, Any]:
        op = cmd.get("op")
        if op == "add":
            link = await self.add(cmd["link"], parse_hostport(cmd["upstream"]), int(cmd.get("listen") or 0),
                                  cmd.get("http"))
            return {"ok": True, "link": link.state()}
        if op in POSITION_OPS:
            return await self._positions(op, cmd)
        if op == "state":
            return {"ok": True, "links": {n: lk.state() for n, lk in self.links.items()}}
        if op in ("set", "clear"):
            names = [cmd["link"]] if cmd.get("link") else list(self.links)
            for name in names:
                if name not in self.links:
                    return {"ok": False, "error": f"no link {name!r}; links: {', '.join(self.links) or 'none'}"}
            changes = cmd.get("toxics") or {}
            bad = sorted(set(changes) - set(TOXIC_FIELDS))
            if bad:
                return {"ok": False, "error": f"unknown toxic {bad[0]!r}; toxics: {', '.join(TOXIC_FIELDS)}"}
            for name in names:
                if op == "set":
                    await self.links[name].set(changes)
                else:
                    await self.links[name].clear()  # every toxic, whoever added it
                    self.links[name].positions.disarm()  # nothing stays held after a clear
            return {"ok": True, "links": {n: self.links[n].state() for n in names}}
        if op in ("add_toxic", "remove_toxic"):
            link = self.links.get(cmd.get("link") or "")
            if link is None:
                return {"ok": False, "error": f"no link {cmd.get('link')!r}; links: {', '.join(self.links) or 'none'}"}
            name = cmd.get("name")
            if op == "remove_toxic":
                removed = await link.remove_toxic(str(name))
                return {"ok": True, "removed": removed, "link": link.state()}
            values = cmd.get("toxics") or {}
            problem = check(name, cmd.get("stream", "both"), values)
            if problem is None and name in link.named:
                problem = f"link {link.name!r} has a toxic named {name!r} already"
            if problem:
                return {"ok": False, "error": problem}
            await link.add_toxic(Toxic(name, cmd.get("stream", "both"), dict(values)))
            return {"ok": True, "link": link.state()}
        return {"ok": False, "error": f"unknown op {op!r}"}

    async def _positions(self, op: str, cmd: dict[str, Any]) -> dict[str, Any]:
        """The request-position ops (see positions.py and docs/network-faults.md)."""
        names = [cmd["link"]] if cmd.get("link") else list(self.links) if op in ("http", "disarm") else []
        if not names:
            return {"ok": False, "error": f"{op} needs a link; links: {', '.join(self.links) or 'none'}"}
        for name in names:
            if name not in self.links:
                return {"ok": False, "error": f"no link {name!r}; links: {', '.join(self.links) or 'none'}"}
        links = [self.links[n] for n in names]
        pos = links[0].positions
        if op == "http":
            for link in links:
                link.http = bool(cmd.get("on", True))
            return {"ok": True, "links": {lk.name: lk.state() for lk in links}}
        if op == "requests":
            out = {"ok": True, "link": names[0], "count": pos.count, "requests": list(pos.records.values()),
                   "opaque_connections": pos.opaque, "untracked_connections": pos.untracked}
            if cmd.get("reset"):
                pos.reset()
            return out
        if op == "arm":
            if not links[0].http:
                return {"ok": False, "error": f"link {names[0]!r} does not frame HTTP: send "
                                              f'{{"op": "http", "link": "{names[0]}", "on": true}} first'}
            rule = pos.arm(cmd.get("n"), str(cmd.get("mode")), float(cmd.get("seconds") or 0),
                           float(cmd.get("hold_max") or 60.0))
            return {"ok": True, "armed": rule.state()}
        if op == "disarm":
            for link in links:
                link.positions.disarm()
            return {"ok": True}
        if op == "release":
            return {"ok": True, "released": pos.release(int(cmd["n"]))}
        kind = str(cmd.get("event"))  # wait
        if kind not in EVENTS:
            return {"ok": False, "error": f"unknown event {kind!r}; events: {', '.join(EVENTS)}"}
        n = int(cmd["n"])
        at = await pos.wait(n, kind, float(cmd.get("timeout") or 10.0))
        if at is None:
            return {"ok": False, "timeout": True, "error": f"request {n} on {names[0]} had no {kind} event within "
                                                          f"{float(cmd.get('timeout') or 10.0):g} s"}
        return {"ok": True, "n": n, "event": kind, "t": at, "record": pos.records.get(n)}

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
            # Watched by the loop, not a thread: a thread blocked in a read of sys.stdin holds its
            # lock, and the interpreter's exit then waits a second for it.
            fd = sys.stdin.fileno()

            def stdin_readable() -> None:
                try:
                    ended = not os.read(fd, 65536)
                except OSError:
                    ended = True
                if ended:
                    loop.remove_reader(fd)
                    stop.set()

            loop.add_reader(fd, stdin_readable)
        with contextlib.suppress(NotImplementedError):
            import signal

            # SIGINT is a terminal's Ctrl-C meant for shopbench, which heals, settles through the
            # links and then ends us: ignored. SIGTERM (shopbench's stop) ends us.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            loop.add_signal_handler(signal.SIGTERM, stop.set)
        await stop.wait()
        control.close()
        for link in self.links.values():
            await link.close()

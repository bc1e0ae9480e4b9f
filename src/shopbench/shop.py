"""The reference shop as three local processes, started and controlled through `processes`.

shopbench never imports `refshop`: it runs `python -m refshop SERVICE …` like any user's service,
so whatever works here works on a user's shop.

With `links=True` every connection between the shop's parts goes through the fault proxy
(`shopbench.nemesis.proxy`), one link each: the order service reaches stock and payment through
`order->stock` and `order->payment`, and the load reaches the services through `client->order`,
`client->stock` and `client->payment` (the `target`). `links.json` in the data directory tells
the nemesis where the proxy listens; health checks go straight to the services.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from shopbench.errors import UsageError
from shopbench.processes import STOPPED, ServiceSpec, Supervisor, free_ports
from shopbench.target import Target

SERVICES = ("stock", "payment", "order")
LINKS = {"client->order": "order", "client->stock": "stock", "client->payment": "payment",
         "order->stock": "stock", "order->payment": "payment"}  # link -> the service it leads to
FLAWS = ("lost-update", "no-compensation", "no-recovery", "double-charge", "early-ack", "oversell",
         "abort-on-timeout", "retry-new-txid")
HOST = "127.0.0.1"


class RefShop:
    """The reference shop in `data_dir`: databases, logs, pid state and `urls.json` live there."""

    def __init__(
        self,
        data_dir: str | Path,
        port_base: int | None = None,
        flaw: str | None = None,
        extra_args: dict[str, list[str]] | None = None,
        links: bool = False,
    ):
        if flaw is not None and flaw not in FLAWS:
            raise UsageError(f"--flaw {flaw!r} is not a reference-shop flaw; choose one of {', '.join(FLAWS)}.")
        self.data_dir = Path(data_dir).resolve()
        self.flaw = flaw
        self.extra_args = extra_args or {}
        self.supervisor = Supervisor(self.data_dir / "services")
        self.links = links
        self.proxy: Any = None  # the LinkProxy while it runs
        self.link_ports: dict[str, int] = {}
        if port_base is None:
            self.ports = dict(zip(SERVICES, free_ports(len(SERVICES), HOST), strict=True))
        else:
            self.ports = {"order": port_base, "stock": port_base + 1, "payment": port_base + 2}

    @classmethod
    def attach(cls, data_dir: str | Path) -> RefShop:
        """The shop a previous command started in `data_dir` (for `shop status`, `shop down`)."""
        data_dir = Path(data_dir)
        meta_path = data_dir / "refshop.json"
        try:
            meta = json.loads(meta_path.read_text())
        except (OSError, json.JSONDecodeError):
            raise UsageError(f"{meta_path}: no reference shop was started in {data_dir}.") from None
        shop = cls(data_dir, flaw=meta.get("flaw"))
        shop.ports = meta["ports"]
        shop.link_ports = meta.get("links") or {}
        return shop

    def url(self, name: str) -> str:
        return f"http://{HOST}:{self.ports[name]}"

    def link_url(self, link: str) -> str:
        """The URL of the service `link` leads to, through the proxy when the shop has links."""
        if link in self.link_ports:
            return f"http://{HOST}:{self.link_ports[link]}"
        return self.url(LINKS[link])

    @property
    def target(self) -> Target:
        return Target(order_url=self.link_url("client->order"), payment_url=self.link_url("client->payment"),
                      stock_url=self.link_url("client->stock"))

    def spec(self, name: str) -> ServiceSpec:
        cmd = [sys.executable, "-m", "refshop", name, "--host", HOST, "--port", str(self.ports[name]),
               "--db", str(self.data_dir / f"{name}.db")]
        if name == "order":
            cmd += ["--stock-url", self.link_url("order->stock"), "--payment-url", self.link_url("order->payment")]
        if self.flaw:
            cmd += ["--flaw", self.flaw]
        cmd += self.extra_args.get(name, [])
        # Unbuffered so a service's last words before a SIGKILL reach its log.
        return ServiceSpec(name=name, command=cmd, env={"PYTHONUNBUFFERED": "1"},
                           health_url=f"{self.url(name)}/health")

    def start(self) -> Target:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        started = []
        try:
            if self.links:
                self._start_links()
            # All three at once: the order service calls the others per request, never at start.
            for name in SERVICES:
                self.supervisor.start(self.spec(name), wait=False)
                started.append(name)
            for name in SERVICES:
                self.supervisor.wait_healthy(name)
        except BaseException:
            for name in reversed(started):
                self.supervisor.stop(name)
            self._stop_links()
            raise
        (self.data_dir / "refshop.json").write_text(json.dumps({"ports": self.ports, "flaw": self.flaw,
                                                                "links": self.link_ports}))
        (self.data_dir / "urls.json").write_text(json.dumps(self.target.to_urls_json(), indent=2) + "\n")
        return self.target

    def _start_links(self) -> None:
        from shopbench.nemesis.network import LINKS_FILE, write_links_file
        from shopbench.nemesis.proxy import LinkProxy

        self.proxy = LinkProxy.start({link: (HOST, self.ports[svc]) for link, svc in LINKS.items()})
        self.link_ports = {link: self.proxy.port(link) for link in LINKS}
        write_links_file(self.data_dir / LINKS_FILE, self.proxy.address[1], self.proxy.pid, self.proxy.links)

    def _stop_links(self) -> None:
        from shopbench.nemesis.network import LINKS_FILE

        if self.proxy is not None:
            self.proxy.stop()
            self.proxy = None
            (self.data_dir / LINKS_FILE).unlink(missing_ok=True)

    def stop(self) -> None:
        for name in reversed(SERVICES):
            if name in self.supervisor.names():
                self.supervisor.stop(name)
        self._stop_links()

    def is_up(self) -> bool:
        """Any of its services still running (or paused): starting another would clash."""
        known = self.supervisor.names()
        return any(self.supervisor.state(n) != STOPPED for n in SERVICES if n in known)

    def kill(self, name: str) -> int | None:
        return self.supervisor.kill(name)

    def terminate(self, name: str) -> int | None:
        return self.supervisor.terminate(name)

    def pause(self, name: str) -> int | None:
        return self.supervisor.pause(name)

    def resume(self, name: str) -> int | None:
        return self.supervisor.resume(name)

    def restart(self, name: str) -> int:
        return self.supervisor.restart(name)

    def __enter__(self) -> RefShop:
        # Started for one run: its services die with shopbench, even when shopbench is SIGKILLed.
        self.supervisor.tied = True
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        for name in SERVICES:
            if name in self.supervisor.names() and self.supervisor.state(name) == "paused":
                self.supervisor.resume(name)
        self.stop()

"""The reference shop as three local processes, started and controlled through `processes`.

shopbench never imports `refshop`: it runs `python -m refshop SERVICE …` like any user's service,
so whatever works here works on a user's shop.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from shopbench.errors import UsageError
from shopbench.processes import STOPPED, ServiceSpec, Supervisor, free_port
from shopbench.target import Target

SERVICES = ("stock", "payment", "order")  # start order: order needs the other two
FLAWS = ("lost-update", "no-compensation", "no-recovery", "double-charge", "early-ack", "oversell")
HOST = "127.0.0.1"


class RefShop:
    """The reference shop in `data_dir`: databases, logs, pid state and `urls.json` live there."""

    def __init__(
        self,
        data_dir: str | Path,
        port_base: int | None = None,
        flaw: str | None = None,
        extra_args: dict[str, list[str]] | None = None,
    ):
        if flaw is not None and flaw not in FLAWS:
            raise UsageError(f"--flaw {flaw!r} is not a reference-shop flaw; choose one of {', '.join(FLAWS)}.")
        self.data_dir = Path(data_dir).resolve()
        self.flaw = flaw
        self.extra_args = extra_args or {}
        self.supervisor = Supervisor(self.data_dir / "services")
        if port_base is None:
            self.ports = {name: free_port(HOST) for name in SERVICES}
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
        return shop

    def url(self, name: str) -> str:
        return f"http://{HOST}:{self.ports[name]}"

    @property
    def target(self) -> Target:
        return Target(order_url=self.url("order"), payment_url=self.url("payment"), stock_url=self.url("stock"))

    def spec(self, name: str) -> ServiceSpec:
        cmd = [sys.executable, "-m", "refshop", name, "--host", HOST, "--port", str(self.ports[name]),
               "--db", str(self.data_dir / f"{name}.db")]
        if name == "order":
            cmd += ["--stock-url", self.url("stock"), "--payment-url", self.url("payment")]
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
            for name in SERVICES:
                self.supervisor.start(self.spec(name))
                started.append(name)
        except BaseException:
            for name in reversed(started):
                self.supervisor.stop(name)
            raise
        (self.data_dir / "refshop.json").write_text(json.dumps({"ports": self.ports, "flaw": self.flaw}))
        (self.data_dir / "urls.json").write_text(json.dumps(self.target.to_urls_json(), indent=2) + "\n")
        return self.target

    def stop(self) -> None:
        for name in reversed(SERVICES):
            if name in self.supervisor.names():
                self.supervisor.stop(name)

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
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        for name in SERVICES:
            if name in self.supervisor.names() and self.supervisor.state(name) == "paused":
                self.supervisor.resume(name)
        self.stop()

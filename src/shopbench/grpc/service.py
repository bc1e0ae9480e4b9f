"""The reference gRPC service (`python -m refgrpc`) as a local process under a `Supervisor`, so the
local fault backend can kill, pause and restart it like the reference shop's services."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from shopbench.errors import UsageError
from shopbench.processes import ServiceSpec, Supervisor, free_ports

FLAWS = ("no-auth", "stale-read", "lost-delete")
HOST = "127.0.0.1"
NAME = "vacancy"  # the service name fault plans use


def reference_protos() -> Path:
    """The folder of refgrpc's own .proto files (`pb/*.proto`), found without importing it."""
    spec = importlib.util.find_spec("refgrpc")
    if spec is None or not spec.submodule_search_locations:
        raise UsageError("the reference gRPC service (package refgrpc) is not installed; pass --target and --proto.")
    return Path(list(spec.submodule_search_locations)[0]) / "protos"


class RefGrpc:
    def __init__(self, data_dir: str | Path, users_file: Path, flaws: list[str] | None = None,
                 token_ttl: float = 10.0, protos: str | Path | None = None):
        """`protos`: serve another folder of seed 004's protos (`pb/*.proto`) than refgrpc's own."""
        for flaw in flaws or ():
            if flaw not in FLAWS:
                raise UsageError(f"--flaw {flaw!r} is not a reference gRPC service flaw; choose from "
                                 f"{', '.join(FLAWS)}.")
        self.data_dir = Path(data_dir).resolve()
        self.users_file = users_file
        self.flaws = list(flaws or ())
        self.token_ttl = token_ttl
        self.protos = Path(protos).resolve() if protos else None
        self.supervisor = Supervisor(self.data_dir / "services")
        self.port, self.health_port = free_ports(2, HOST)

    @property
    def target(self) -> str:
        return f"{HOST}:{self.port}"

    def spec(self) -> ServiceSpec:
        cmd = [sys.executable, "-m", "refgrpc", "--host", HOST, "--port", str(self.port),
               "--data", str(self.data_dir / "data"), "--users-file", str(self.users_file),
               "--token-ttl", str(self.token_ttl), "--health-port", str(self.health_port)]
        for flaw in self.flaws:
            cmd += ["--flaw", flaw]
        if self.protos:
            cmd += ["--protos", str(self.protos)]
        return ServiceSpec(name=NAME, command=cmd, env={"PYTHONUNBUFFERED": "1"},
                           health_url=f"http://{HOST}:{self.health_port}/health")

    def __enter__(self) -> RefGrpc:
        self.supervisor.start(self.spec())
        return self

    def __exit__(self, *exc: object) -> None:
        if NAME in self.supervisor.names():
            if self.supervisor.state(NAME) == "paused":
                self.supervisor.resume(NAME)
            self.supervisor.stop(NAME)

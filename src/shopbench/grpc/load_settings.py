"""What the gRPC runner hands its Locust users: target, protos, credentials (in memory only),
schedules and the per-call deadline. Installed before Locust starts, beside the Locust plugin's
session (`shopbench.locust_plugin.session`: writer, monitor, companions); `--processes` children
inherit both through fork."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shopbench.grpc.credentials import Credential


@dataclass
class GrpcSession:
    target: str
    proto_dir: Path | None  # None: the catalog came from server reflection
    credentials: list[Credential] = field(repr=False)
    every: dict[str, float]
    deadline: float = 5.0
    catalog: Any = None  # compiled once per process, lazily
    proto_includes: list[Any] = field(default_factory=list)
    token_ttl: float = 0.0  # --token-ttl: a token's lifetime when neither the answer nor the token says

    def get_catalog(self) -> Any:
        if self.catalog is None:
            from shopbench.grpc.protos import compile_dir

            self.catalog = compile_dir(self.proto_dir, self.proto_includes)
        return self.catalog


_current: GrpcSession | None = None


def install(session: GrpcSession | None) -> None:
    global _current
    _current = session


def current() -> GrpcSession:
    if _current is None:
        from shopbench.errors import UsageError

        raise UsageError("no gRPC session: run this locustfile through `shopbench grpc`.")
    return _current

"""A gRPC run's target: one HOST:PORT, recorded in run.json as `{"grpc": "HOST:PORT"}`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class GrpcTarget:
    address: str  # HOST:PORT

    def as_dict(self) -> dict[str, Any]:
        return {"grpc": self.address}

    def __str__(self) -> str:
        return self.address

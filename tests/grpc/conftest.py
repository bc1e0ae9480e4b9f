"""Fixtures for the gRPC tests: the reference gRPC service as a real process on a free loopback port,
and `shopbench grpc` as a real command."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent import futures
from pathlib import Path

import pytest

SRC = str(Path(__file__).resolve().parents[2] / "src")
HERE = str(Path(__file__).resolve().parent)
for path in (SRC, HERE):
    if path not in sys.path:
        sys.path.insert(0, path)
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (SRC, os.environ.get("PYTHONPATH")) if p)

from shopbench.grpc.credentials import generate, write_env  # noqa: E402
from shopbench.grpc.service import RefGrpc  # noqa: E402


@pytest.fixture
def make_service(tmp_path: Path) -> Iterator[Callable[..., RefGrpc]]:
    """make_service(flaws=[...], token_ttl=..., protos=DIR) -> a started RefGrpc with three generated
    users (`service.creds`); every one is stopped at the end."""
    started: list[RefGrpc] = []
    files: list[Path] = []

    def make(flaws: list[str] | None = None, token_ttl: float = 30.0, protos: Path | None = None) -> RefGrpc:
        creds = generate(3)
        users_file = write_env(creds)
        files.append(users_file)
        service = RefGrpc(tmp_path / f"svc{len(started)}", users_file, flaws, token_ttl, protos)
        service.__enter__()
        service.creds = creds  # type: ignore[attr-defined]
        started.append(service)
        return service

    yield make
    for service in started:
        service.__exit__(None, None, None)
    for f in files:
        f.unlink(missing_ok=True)


@pytest.fixture
def blocking_server() -> Iterator[tuple[str, threading.Event]]:
    """(target, release): a gRPC server whose `pb.VacancyService/GetVacancy` blocks until `release`
    is set, so no call to it can be answered before its deadline."""
    import grpc

    release = threading.Event()

    def blocked(request: bytes, context: grpc.ServicerContext) -> bytes:
        release.wait(30)
        return b""

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(
        "pb.VacancyService", {"GetVacancy": grpc.unary_unary_rpc_method_handler(blocked)}),))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield f"127.0.0.1:{port}", release
    finally:
        release.set()
        server.stop(0)

"""Message classes and method paths from a directory of `.proto` files, compiled at run time, or
from the server's reflection service when no .proto files are given.

grpcio-tools' protoc writes the `_pb2` modules into a cache directory named after a hash of the
protos (recompiled when they change); methods are read from the descriptors, so no `_pb2_grpc`
stub class is needed: a call is `channel.unary_unary(path, serializer, deserializer)`.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shopbench.errors import UsageError


@dataclass(frozen=True)
class Method:
    service: str  # full name, e.g. "vacancy.VacancyService"
    name: str  # e.g. "CreateVacancy"
    request: Any  # message class
    response: Any
    streaming: bool

    @property
    def path(self) -> str:
        return f"/{self.service}/{self.name}"


@dataclass
class Catalog:
    """Every RPC of the compiled protos, by method name (and by `Service.Method` when names clash)."""

    methods: dict[str, Method]
    modules: dict[str, Any]

    def method(self, name: str) -> Method:
        try:
            return self.methods[name]
        except KeyError:
            raise UsageError(f"the .proto files declare no RPC {name!r}; they declare "
                             f"{', '.join(sorted(self.methods)) or 'none'}.") from None

    def message(self, full_name: str) -> Any:
        from google.protobuf import message_factory, symbol_database

        return message_factory.GetMessageClass(symbol_database.Default().pool.FindMessageTypeByName(full_name))

    def services(self) -> dict[str, list[Method]]:
        out: dict[str, list[Method]] = {}
        for m in {id(m): m for m in self.methods.values()}.values():
            out.setdefault(m.service, []).append(m)
        return out


def _cache_dir(files: list[Path]) -> Path:
    digest = hashlib.sha256(b"".join(f.name.encode() + f.read_bytes() for f in files)).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"shopbench-protos-{digest}"


def compile_dir(proto_dir: str | Path) -> Catalog:
    """Compile every `*.proto` in `proto_dir` (once per content) and import the result."""
    from grpc_tools import protoc

    proto_dir = Path(proto_dir).resolve()
    files = sorted(proto_dir.glob("*.proto"))
    if not files:
        raise UsageError(f"--proto {proto_dir}: no .proto files there.")
    out = _cache_dir(files)
    if not (out / "done").exists():
        tmp = Path(tempfile.mkdtemp(prefix="shopbench-protos-"))
        include = Path(protoc.__file__).resolve().parent / "_proto"
        argv = ["protoc", f"-I{proto_dir}", f"-I{include}", f"--python_out={tmp}", *map(str, files)]
        if protoc.main(argv) != 0:
            raise UsageError(f"--proto {proto_dir}: protoc could not compile the .proto files (see above).")
        (tmp / "done").write_text("")
        try:
            os.replace(tmp, out)
        except OSError:  # a parallel process compiled the same protos first
            pass
    if str(out) not in sys.path:
        sys.path.insert(0, str(out))
    modules, methods = {}, {}
    for f in files:
        mod = importlib.import_module(f"{f.stem}_pb2")
        modules[f.stem] = mod
        for service in mod.DESCRIPTOR.services_by_name.values():
            _add_service(methods, service)
    return Catalog(methods, modules)


INFRASTRUCTURE = ("grpc.health.", "grpc.reflection.")


def _add_service(methods: dict[str, Method], service: Any) -> None:
    """Every method of a service descriptor, by `Service.Method` and (first come) by its bare name."""
    from google.protobuf import message_factory

    for m in service.methods:
        method = Method(service.full_name, m.name, message_factory.GetMessageClass(m.input_type),
                        message_factory.GetMessageClass(m.output_type), m.client_streaming or m.server_streaming)
        methods[f"{service.name}.{m.name}"] = method
        methods.setdefault(m.name, method)


def from_reflection(target: str, timeout: float = 10.0) -> Catalog:
    """Every RPC the server at `target` declares through server reflection (health and reflection
    themselves left out). The channel is closed before returning."""
    import grpc
    from google.protobuf.descriptor_pool import DescriptorPool
    from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

    from shopbench.errors import TargetError

    channel = grpc.insecure_channel(target)
    try:
        grpc.channel_ready_future(channel).result(timeout=timeout)
        db = ProtoReflectionDescriptorDatabase(channel)
        pool = DescriptorPool(db)
        methods: dict[str, Method] = {}
        for full_name in db.get_services():
            if full_name.startswith(INFRASTRUCTURE):
                continue
            _add_service(methods, pool.FindServiceByName(full_name))
    except grpc.FutureTimeoutError:
        raise TargetError(f"cannot connect to {target} within {timeout:g} s to read its services by "
                          "reflection.") from None
    except grpc.RpcError as exc:
        raise TargetError(f"{target} does not answer server reflection ({exc.code().name}); "
                          "pass --proto DIR.") from None
    finally:
        channel.close()
    if not methods:
        raise TargetError(f"{target} declares no service by reflection; pass --proto DIR.")
    return Catalog(methods, {})

"""The service's messages from `protos/` (or another folder laid out the same way: `pb/*.proto`
importing each other as "pb/…"), compiled at start-up with grpcio-tools.

protoc writes a descriptor set (data, not code) into a private temporary folder (mkdtemp: 0700, a
random name) that is removed at once; the descriptors go into a pool of their own. Nothing is
cached under a shared path and nothing is imported from disk: protoc takes milliseconds here.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

PROTOS = Path(__file__).resolve().parent / "protos"


class Protos:
    """Message classes and service descriptors by full name (`pb.Vacancy`, `pb.VacancyService`)."""

    def __init__(self, pool: Any):
        self.pool = pool

    def message(self, full_name: str) -> Any:
        from google.protobuf import message_factory

        return message_factory.GetMessageClass(self.pool.FindMessageTypeByName(full_name))

    def service(self, full_name: str) -> Any:
        return self.pool.FindServiceByName(full_name)

    def has_field(self, message: str, field: str) -> bool:
        return field in self.pool.FindMessageTypeByName(message).fields_by_name


def compile_protos(proto_dir: Path = PROTOS) -> Protos:
    from google.protobuf import descriptor_pb2, descriptor_pool
    from grpc_tools import protoc

    proto_dir = Path(proto_dir).resolve()
    names = sorted(str(f.relative_to(proto_dir)) for f in proto_dir.rglob("*.proto"))
    include = Path(protoc.__file__).resolve().parent / "_proto"
    with tempfile.TemporaryDirectory(prefix="refgrpc-protos-") as tmp:
        out = Path(tmp) / "set.pb"
        code = protoc.main(["protoc", f"-I{proto_dir}", f"-I{include}", "--include_imports",
                            f"--descriptor_set_out={out}", *names])
        if code != 0:
            raise RuntimeError(f"protoc failed on {proto_dir} (exit {code})")
        data = out.read_bytes()
    pool = descriptor_pool.DescriptorPool()
    for f in descriptor_pb2.FileDescriptorSet.FromString(data).file:
        pool.Add(f)
    return Protos(pool)

"""Message classes compiled from `protos/*.proto` at run time (grpcio-tools), cached by content.

No generated `_pb2` file is committed: protoc writes them into a cache directory named after a
hash of the protos, so a changed .proto is recompiled and an unchanged one is not.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import sys
import tempfile
from pathlib import Path
from types import ModuleType

PROTOS = Path(__file__).resolve().parent / "protos"


def compile_protos(proto_dir: Path = PROTOS) -> dict[str, ModuleType]:
    """{proto file stem: its imported `_pb2` module}."""
    from grpc_tools import protoc

    files = sorted(proto_dir.glob("*.proto"))
    digest = hashlib.sha256(b"".join(f.name.encode() + f.read_bytes() for f in files)).hexdigest()[:16]
    out = Path(tempfile.gettempdir()) / f"refgrpc-stubs-{digest}"
    if not (out / "done").exists():
        tmp = Path(tempfile.mkdtemp(prefix="refgrpc-stubs-"))
        include = Path(protoc.__file__).resolve().parent / "_proto"
        code = protoc.main(["protoc", f"-I{proto_dir}", f"-I{include}", f"--python_out={tmp}",
                            *map(str, files)])
        if code != 0:
            raise RuntimeError(f"protoc failed on {proto_dir} (exit {code})")
        (tmp / "done").write_text("")
        try:
            os.replace(tmp, out)
        except OSError:  # another process compiled the same protos first
            pass
    if str(out) not in sys.path:
        sys.path.insert(0, str(out))
    return {f.stem: importlib.import_module(f"{f.stem}_pb2") for f in files}

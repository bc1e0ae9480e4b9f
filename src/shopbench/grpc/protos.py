"""The RPCs of a gRPC service: from its `.proto` files, found and compiled the way protoc and buf find
them, or from the server's reflection service when no .proto files are given.

Finding (`proto_roots`): the folder given is searched recursively and is the include root, as
`protoc -I DIR` would have it; `--proto-include` adds roots; a `buf.work.yaml` (its `directories`)
or a `buf.yaml` (v2 `modules[].path`, v1 `build.excludes`) in the folder is honoured. When the
imports name their files from a folder above the one given (`--proto proto/pb` with
`import "pb/vacancy.proto"`), that folder becomes the root, as a user would pass `-I proto`.

Compiling: grpcio-tools' protoc writes a descriptor set (data, never code) into a private temporary
folder (mkdtemp: 0700, a random name, removed on every path out) and the descriptors are loaded into
a pool of the catalog's own. Nothing is cached and nothing is imported from disk: protoc takes a few
milliseconds for a service's protos, so a shared cache would buy nothing and cost an owner check
(another user's folder on `sys.path` ran their code as us); and two catalogs of different protos
with the same file names (a user's `pb/vacancy.proto` and ours) live side by side in one process.
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shopbench.errors import UsageError

IMPORT = re.compile(r'^\s*import\s+(?:public\s+|weak\s+)?"([^"]+)"\s*;', re.MULTILINE)
SKIP_DIRS = {".git", "node_modules", ".venv", "venv", "__pycache__"}
BUF_WORK, BUF = "buf.work.yaml", "buf.yaml"


@dataclass(frozen=True)
class Method:
    service: str  # full name, e.g. "pb.VacancyService"
    name: str  # e.g. "CreateVacancy"
    request: Any  # message class
    response: Any
    client_streaming: bool = False
    server_streaming: bool = False

    @property
    def path(self) -> str:
        return f"/{self.service}/{self.name}"

    @property
    def streaming(self) -> bool:
        return self.client_streaming or self.server_streaming

    @property
    def kind(self) -> str:
        """grpcio's name for the call shape: unary_unary, unary_stream, stream_unary, stream_stream."""
        return f"{'stream' if self.client_streaming else 'unary'}_{'stream' if self.server_streaming else 'unary'}"


@dataclass
class Catalog:
    """Every RPC of the compiled protos, by method name (and by `Service.Method` when names clash)."""

    methods: dict[str, Method]
    pool: Any = None  # the descriptor pool the message classes come from

    def method(self, name: str) -> Method:
        try:
            return self.methods[name]
        except KeyError:
            raise UsageError(f"the service declares no RPC {name!r}; it declares "
                             f"{', '.join(sorted(self.methods)) or 'none'}.") from None

    def message(self, full_name: str) -> Any:
        from google.protobuf import message_factory

        return message_factory.GetMessageClass(self.pool.FindMessageTypeByName(full_name))

    def services(self) -> dict[str, list[Method]]:
        out: dict[str, list[Method]] = {}
        for m in {id(m): m for m in self.methods.values()}.values():
            out.setdefault(m.service, []).append(m)
        return out

    def name_of(self, m: Method) -> str:
        """The name a call uses: the bare method name, or `Service.Method` when another service took it."""
        return m.name if self.methods.get(m.name) is m else f"{m.service.rsplit('.', 1)[-1]}.{m.name}"


# -- finding the files -------------------------------------------------------------------------------

def _buf_roots(folder: Path) -> tuple[list[Path], list[Path]] | None:
    """(roots, excluded folders) from a buf workspace or module file in `folder`, or None."""
    import yaml

    for name in (BUF_WORK, BUF):
        f = folder / name
        if not f.is_file():
            continue
        try:
            doc = yaml.safe_load(f.read_text()) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise UsageError(f"{f}: cannot read it as YAML ({exc}).") from None
        if not isinstance(doc, dict):
            raise UsageError(f"{f}: expected a YAML mapping, found {type(doc).__name__}.")
        if name == BUF_WORK:
            dirs = doc.get("directories") or []
            if not isinstance(dirs, list) or not dirs:
                raise UsageError(f"{f}: `directories` should list the module folders, found {dirs!r}.")
            return [folder / str(d) for d in dirs], []
        modules = doc.get("modules")
        if modules:  # buf.yaml v2
            if not isinstance(modules, list):
                raise UsageError(f"{f}: `modules` should be a list of {{path: …}}, found {modules!r}.")
            roots = [folder / str(m.get("path", ".") if isinstance(m, dict) else m) for m in modules]
            excludes = [folder / str(e) for m in modules if isinstance(m, dict) for e in m.get("excludes") or ()]
            return roots, excludes
        build = doc.get("build") if isinstance(doc.get("build"), dict) else {}
        return [folder], [folder / str(e) for e in build.get("excludes") or ()]
    return None


def _protos_under(root: Path, excludes: list[Path]) -> list[Path]:
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and here / d not in excludes)
        found += [here / f for f in sorted(filenames) if f.endswith(".proto")]
    return found


def _well_known() -> Path:
    from grpc_tools import protoc

    return Path(protoc.__file__).resolve().parent / "_proto"


def proto_roots(folder: str | Path, includes: list[str | Path] | tuple = ()) -> tuple[list[Path], list[Path]]:
    """(include roots, the .proto files to compile) for `--proto folder` (+ `--proto-include`)."""
    given = Path(folder).resolve()
    if not given.is_dir():
        raise UsageError(f"--proto {folder}: no such folder (give the folder that holds the service's .proto files).")
    extra = []
    for inc in includes:
        p = Path(inc).resolve()
        if not p.is_dir():
            raise UsageError(f"--proto-include {inc}: no such folder.")
        extra.append(p)
    buf = _buf_roots(given)
    roots, excludes = buf if buf is not None else ([given], [])
    files = [f for r in roots for f in _protos_under(r, excludes)]
    if not files:
        raise UsageError(f"--proto {folder}: no .proto files in it or in its subfolders.")
    if buf is None:
        roots = [_root_for_imports(given, files, extra)]
    return roots + extra, files


def _resolves(name: str, roots: list[Path]) -> bool:
    return any((r / name).is_file() for r in roots)


def _root_for_imports(given: Path, files: list[Path], extra: list[Path]) -> Path:
    """`given`, or the folder above it from which the files' own imports name them (protoc's -I)."""
    candidates = [given, *list(given.parents)[:4]]
    wk = _well_known()
    for candidate in candidates:
        roots = [candidate, *extra, wk]
        if all(_resolves(name, roots) for f in files for name in IMPORT.findall(_read(f))):
            return candidate
    # name the first import nothing resolves from the given folder: that is what protoc would say
    roots = [given, *extra, wk]
    for f in files:
        for name in IMPORT.findall(_read(f)):
            if not _resolves(name, roots):
                tried = ", ".join(str(c) for c in [*candidates, *extra])
                raise UsageError(f"--proto {given}: {f.relative_to(given)} imports \"{name}\", found under none of the "
                                 f"roots tried ({tried}); add the folder it is under with --proto-include DIR.")
    return given  # pragma: no cover - every import resolved from `given` above


def _read(f: Path) -> str:
    try:
        return f.read_text(errors="replace")
    except OSError as exc:
        raise UsageError(f"--proto: cannot read {f} ({exc.strerror or exc}).") from None


# -- compiling ---------------------------------------------------------------------------------------

def compile_dir(proto_dir: str | Path, includes: list[str | Path] | tuple = ()) -> Catalog:
    """Every RPC declared in the .proto files found under `proto_dir`."""
    roots, files = proto_roots(proto_dir, includes)
    names = []
    for f in files:
        root = next((r for r in roots if f.is_relative_to(r)), None)
        names.append(str(f.relative_to(root)) if root is not None else str(f))
    return catalog_of(_descriptor_set(roots, names, str(proto_dir)))


def _descriptor_set(roots: list[Path], names: list[str], label: str) -> bytes:
    """protoc's FileDescriptorSet (with imports) of `names`; its messages as one sentence on failure."""
    from grpc_tools import protoc

    with tempfile.TemporaryDirectory(prefix="shopbench-protos-") as tmp:  # mkdtemp: 0700, random name
        out, err = Path(tmp) / "set.pb", Path(tmp) / "protoc.err"
        argv = ["protoc", *(f"-I{r}" for r in roots), f"-I{_well_known()}", "--include_imports",
                f"--descriptor_set_out={out}", *names]
        code = _with_stderr_to(err, lambda: protoc.main(argv))
        if code != 0:
            said = " ".join(err.read_text(errors="replace").split())[:600] or f"exit {code}"
            raise UsageError(f"--proto {label}: protoc could not compile the .proto files (roots "
                             f"{', '.join(map(str, roots))}): {said}")
        return out.read_bytes()


def _with_stderr_to(path: Path, fn: Any) -> Any:
    """Run `fn` with file descriptor 2 (where protoc, C++, writes) sent to `path`."""
    saved = os.dup(2)
    try:
        with open(path, "wb") as f:
            os.dup2(f.fileno(), 2)
            try:
                return fn()
            finally:
                os.dup2(saved, 2)
    finally:
        os.close(saved)


def catalog_of(descriptor_set: bytes) -> Catalog:
    """A catalog over a FileDescriptorSet, in a descriptor pool of its own."""
    from google.protobuf import descriptor_pb2, descriptor_pool

    pool = descriptor_pool.DescriptorPool()
    fds = descriptor_pb2.FileDescriptorSet.FromString(descriptor_set)
    for f in fds.file:
        pool.Add(f)
    methods: dict[str, Method] = {}
    for f in fds.file:
        fd = pool.FindFileByName(f.name)
        for service in fd.services_by_name.values():
            _add_service(methods, service)
    return Catalog(methods, pool)


INFRASTRUCTURE = ("grpc.health.", "grpc.reflection.")


def _add_service(methods: dict[str, Method], service: Any) -> None:
    """Every method of a service descriptor, by `Service.Method` and (first come) by its bare name."""
    from google.protobuf import message_factory

    if service.full_name.startswith(INFRASTRUCTURE):
        return
    for m in service.methods:
        method = Method(service.full_name, m.name, message_factory.GetMessageClass(m.input_type),
                        message_factory.GetMessageClass(m.output_type), m.client_streaming, m.server_streaming)
        methods[f"{service.name}.{m.name}"] = method
        methods.setdefault(m.name, method)


def from_reflection(target: str, timeout: float = 10.0) -> Catalog:
    """Every RPC the server at `target` declares through server reflection (health and reflection
    themselves left out), asked without a token. The channel is closed before returning."""
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
            _add_service(methods, pool.FindServiceByName(full_name))
    except grpc.FutureTimeoutError:
        raise TargetError(f"cannot connect to {target} within {timeout:g} s to read its services by "
                          "reflection.") from None
    except grpc.RpcError as exc:
        if exc.code() == grpc.StatusCode.UNAUTHENTICATED:
            raise TargetError(f"{target} answers server reflection only with a token (UNAUTHENTICATED), and signing "
                              "in needs its RPCs first: pass --proto DIR (the folder of its .proto files).") from None
        raise TargetError(f"{target} does not answer server reflection ({exc.code().name}); "
                          "pass --proto DIR.") from None
    finally:
        channel.close()
    if not methods:
        raise TargetError(f"{target} declares no service by reflection; pass --proto DIR.")
    return Catalog(methods, pool)

"""Protos found the way protoc and buf find them, compiled without a shared cache: the seed's
repository layout as checked out, include roots, buf workspaces, errors that name the file, the
import and the roots tried, and nothing left behind or imported from disk."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import pytest

from shopbench.errors import UsageError
from shopbench.grpc.protos import compile_dir
from shopbench.grpc.service import reference_protos

SEED_REPO = Path(__file__).resolve().parent / "seed_repo"
SEED_PROTO = SEED_REPO / "proto"


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text('syntax = "proto3";\n' + text)
    return root


def test_the_seed_repository_as_checked_out() -> None:
    catalog = compile_dir(SEED_PROTO)  # proto/pb/*.proto, imports "pb/vacancy.proto"
    services = {m.service for m in catalog.methods.values()}
    assert services == {"pb.AuthService", "pb.UserService", "pb.VacancyService"}
    listing = catalog.method("GetVacancies")
    assert (listing.kind, listing.response.DESCRIPTOR.full_name) == ("unary_stream", "pb.Vacancy")
    update = catalog.method("UpdateVacancy").request.DESCRIPTOR
    assert all(f.has_presence for f in update.fields if f.name != "Id")
    division = update.fields_by_name["Division"].enum_type
    assert division.full_name == "pb.Vacancy.DIVISION" and division.values_by_name["DEVELOPMENT"].number == 0
    assert "version" not in catalog.message("pb.Vacancy").DESCRIPTOR.fields_by_name


def test_the_package_folder_itself_finds_its_root_above() -> None:
    """`--proto proto/pb`: the imports say "pb/…", so the root is the folder above, as -I proto."""
    catalog = compile_dir(SEED_PROTO / "pb")
    assert catalog.method("SignInUser").service == "pb.AuthService"


def test_an_unresolvable_import_names_the_file_the_import_and_the_roots(tmp_path: Path) -> None:
    write(tmp_path / "api", {"svc.proto": 'package x;\nimport "common/types.proto";\n'})
    with pytest.raises(UsageError) as err:
        compile_dir(tmp_path / "api")
    text = str(err.value)
    assert 'svc.proto imports "common/types.proto"' in text and str(tmp_path / "api") in text
    assert "--proto-include" in text
    # the folder that holds it, given as another root, resolves it
    write(tmp_path / "shared", {"common/types.proto": "package common;\nmessage T { string v = 1; }\n"})
    (tmp_path / "api" / "svc.proto").write_text(
        'syntax = "proto3";\npackage x;\nimport "common/types.proto";\n'
        "service S { rpc Get(common.T) returns (stream common.T); }\n")
    assert compile_dir(tmp_path / "api", [tmp_path / "shared"]).method("Get").server_streaming


def test_a_buf_workspace_names_the_roots(tmp_path: Path) -> None:
    write(tmp_path / "proto", {"acme/v1/a.proto": 'package acme.v1;\nimport "acme/v1/b.proto";\n'
                                                  "service A { rpc Do(B) returns (B); }\n",
                               "acme/v1/b.proto": "package acme.v1;\nmessage B {}\n"})
    write(tmp_path / "vendor", {"broken.proto": "this is not a proto"})
    (tmp_path / "buf.work.yaml").write_text("version: v1\ndirectories:\n  - proto\n")
    assert compile_dir(tmp_path).method("Do").service == "acme.v1.A"  # vendor/ is outside the workspace
    (tmp_path / "buf.work.yaml").unlink()
    (tmp_path / "buf.yaml").write_text("version: v2\nmodules:\n  - path: proto\n")
    assert compile_dir(tmp_path).method("Do").service == "acme.v1.A"


def test_a_protoc_error_is_one_sentence_naming_the_file(tmp_path: Path) -> None:
    write(tmp_path, {"bad.proto": "message M { strin x = 1; }\n"})
    with pytest.raises(UsageError) as err:
        compile_dir(tmp_path)
    assert "bad.proto" in str(err.value) and "strin" in str(err.value)
    with pytest.raises(UsageError, match="no .proto files"):
        (tmp_path / "empty").mkdir()
        compile_dir(tmp_path / "empty")
    with pytest.raises(UsageError, match="no such folder"):
        compile_dir(tmp_path / "missing")


def test_nothing_is_left_behind_nor_imported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No shared cache: protoc's output goes to a private folder that is gone afterwards, and no
    generated module is imported (nor any folder put on sys.path)."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    path_before, modules_before = list(sys.path), set(sys.modules)
    compile_dir(SEED_PROTO)
    assert list(tmp_path.iterdir()) == []
    assert sys.path == path_before and not {m for m in set(sys.modules) - modules_before if "_pb2" in m}


def test_two_apis_with_the_same_file_names_live_side_by_side() -> None:
    """The reference's pb/vacancy.proto has a version; the seed's does not: both in one process."""
    ours, seeds = compile_dir(reference_protos()), compile_dir(SEED_PROTO)
    assert "version" in ours.message("pb.Vacancy").DESCRIPTOR.fields_by_name
    assert "version" not in seeds.message("pb.Vacancy").DESCRIPTOR.fields_by_name
    assert "expires_in" not in seeds.method("SignInUser").response.DESCRIPTOR.fields_by_name


def test_reflection_behind_a_token_says_to_pass_proto() -> None:
    from concurrent import futures

    import grpc
    from grpc_reflection.v1alpha import reflection

    from shopbench.errors import TargetError
    from shopbench.grpc.protos import from_reflection

    class DenyAll(grpc.ServerInterceptor):
        def intercept_service(self, continuation, details):  # noqa: ANN001, ANN201
            def deny(request_iterator, context):  # noqa: ANN001, ANN202
                context.abort(grpc.StatusCode.UNAUTHENTICATED, "token required")

            return grpc.stream_stream_rpc_method_handler(deny)

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2), interceptors=[DenyAll()])
    reflection.enable_server_reflection((reflection.SERVICE_NAME,), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        with pytest.raises(TargetError, match="only with a token.*--proto DIR"):
            from_reflection(f"127.0.0.1:{port}")
    finally:
        server.stop(0)

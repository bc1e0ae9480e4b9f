"""`shopbench grpc` against a server of seed 004's exact API (the reference service serving
tests/grpc/seed_repo's protos: no version, no expires_in), reached as a user of the seed's
repository would: `--proto proto` from the repository as checked out, and by server reflection."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from grpc_helpers import ops_of, run_shopbench, verdict_of

pytestmark = pytest.mark.slow
SEED_REPO = Path(__file__).resolve().parent / "seed_repo"
LOAD = ["--headless", "-u", "3", "-r", "3", "-t", "4s", "--every", "crud=1s,list=1.5s"]


def test_the_seed_repository_with_proto_proto(tmp_path: Path, make_service) -> None:
    service = make_service(token_ttl=3, protos=SEED_REPO / "proto")
    repo = tmp_path / "repo"
    shutil.copytree(SEED_REPO, repo)
    shutil.copy(service.users_file, repo / ".env")  # where the seed keeps its credentials
    proc = run_shopbench("grpc", *LOAD, "--target", service.target, "--proto", "proto", "--out", "run", cwd=repo)
    assert proc.returncode == 0, proc.stderr[-3000:]
    verdict = verdict_of(repo / "run")
    assert verdict["result"] == "valid" and verdict["vacancy"]["counts"]["created"] >= 9
    assert verdict["vacancy"]["checks"]["stale_read"].startswith("by contents and updated_at")
    # the expired case was probed on every protected RPC, streaming ones included: the token's exp said when
    assert verdict["auth"]["probed"]["GetVacancies"] == {"none": "UNAUTHENTICATED", "malformed": "UNAUTHENTICATED",
                                                        "expired": "UNAUTHENTICATED"}
    assert verdict["auth"]["needs_token"] == ["CreateVacancy", "DeleteVacancy", "GetMe", "GetVacancies",
                                              "GetVacancy", "UpdateVacancy"]
    ops = ops_of(repo / "run")
    assert ops[0]["f"] == "SignInUser"  # signed in before anything else, the baseline list included
    lists = [o for o in ops if o["f"] == "GetVacancies" and o["scenario"] == "list"]
    assert lists and all("messages" in o["value"]["stream"] for o in lists if o["type"] == "ok")
    updates = [o for o in ops if o["f"] == "UpdateVacancy" and o["scenario"] == "crud"]
    assert {len(o["args"]["fields"]) for o in updates} - {5}  # subsets, not always every field


def test_the_seed_api_by_reflection_catches_a_stale_read(tmp_path: Path, make_service) -> None:
    service = make_service(["stale-read"], token_ttl=3, protos=SEED_REPO / "proto")
    proc = run_shopbench("grpc", *LOAD, "--target", service.target, "--credentials", str(service.users_file),
                         "--out", "run", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr[-3000:]
    verdict = verdict_of(tmp_path / "run")
    assert set(verdict["anomaly_types"]) == {"stale_read"}
    assert {a["by"] for a in verdict["anomalies"]} == {"contents and updated_at"}
    assert json.loads((tmp_path / "run" / "run.json").read_text())["config"]["proto"] == "server reflection"

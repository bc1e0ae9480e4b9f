"""`shopbench grpc` end to end: real processes, real gRPC over loopback."""

from __future__ import annotations

import base64
import json
from collections import defaultdict
from pathlib import Path

import pytest
from grpc_helpers import KILL_CONFIG, ops_of, run_shopbench, verdict_of

pytestmark = pytest.mark.slow
LOAD = ["--headless", "-u", "3", "-r", "3", "-t", "4s", "--every", "crud=1s,list=1.5s"]
# how every refgrpc token (a JWT) begins
TOKEN_MARK = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').decode().rstrip("=")


def write_env(path: Path, n: int = 3) -> list[str]:
    passwords = [f"Pw-{i}-s3cr3t-{path.parent.name[-6:]}" for i in range(1, n + 1)]
    path.write_text("".join(f"USER_{i}_EMAIL=user{i}@example.test\nUSER_{i}_PASSWORD={pw}\n"
                            for i, pw in enumerate(passwords, 1)))
    return passwords


def test_reference_run_is_valid_round_robin_on_schedule_and_keeps_no_secret(tmp_path: Path) -> None:
    passwords = write_env(tmp_path / ".env")  # picked up from the working directory
    proc = run_shopbench("grpc", *LOAD, "--token-ttl", "3", "--out", "run", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    run = tmp_path / "run"
    verdict = verdict_of(run)
    assert verdict["result"] == "valid" and verdict["checker"] == "grpc"
    assert set(verdict["auth"]["probed"]["GetVacancy"]) == {"none", "malformed", "expired"}
    ops = ops_of(run)
    load = [o for o in ops if o["process"].startswith("l-")]
    # round robin: three users, three credentials, one each
    first: dict[str, int] = {}
    for o in sorted(load, key=lambda o: o["t0"]):
        if o["f"] == "SignInUser":
            first.setdefault(o["process"], o["args"]["user"])
    assert sorted(first.values()) == [0, 1, 2]
    # both schedules ran on their own clock: every start 1 s / 1.5 s after the previous one
    starts: dict[tuple[str, str], set[float]] = defaultdict(set)
    for o in load:
        if o["scenario"] in ("crud", "list"):
            starts[(o["process"], o["scenario"])].add(o["intended"])
    for (_, scenario), intended in starts.items():
        gaps = {round(b - a, 3) for a, b in zip(sorted(intended), sorted(intended)[1:], strict=False)}
        assert gaps == {1.0 if scenario == "crud" else 1.5}, (scenario, gaps)
        assert len(intended) >= (3 if scenario == "crud" else 2)
    schedule = verdict["schedule"]
    assert schedule["crud"]["starts"] >= 9 and schedule["list"]["starts"] >= 6
    assert schedule["list"]["lateness_ms"]["max"] < 500  # the list never waits for a flow
    # no password or token in any file of the run directory, nor in what was printed
    secrets = [pw.encode() for pw in passwords] + [TOKEN_MARK.encode()]
    for f in run.rglob("*"):
        if f.is_file():
            data = f.read_bytes()
            assert not [s for s in secrets if s in data], f
    assert not [pw for pw in passwords if pw in proc.stdout + proc.stderr]
    assert (run / "report.html").exists()


@pytest.mark.parametrize("flaw,expected", [
    ("no-auth", {"auth_not_enforced"}),
    ("stale-read", {"stale_read"}),
    ("lost-delete", {"read_after_delete", "listed_after_delete"}),
])
def test_flaws_are_caught(tmp_path: Path, flaw: str, expected: set[str]) -> None:
    proc = run_shopbench("grpc", *LOAD, "--token-ttl", "2", "--flaw", flaw, "--out", "run", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr[-3000:]
    verdict = verdict_of(tmp_path / "run")
    assert verdict["result"] == "invalid"
    assert set(verdict["anomaly_types"]) == expected
    for a in verdict["anomalies"]:
        if flaw == "no-auth":
            assert a["rpc"] in a["message"]
        else:
            assert a["vacancy"] in a["message"] and a["timeline"]
    # `shopbench check` judges the run directory again, offline, to the same verdict
    again = run_shopbench("check", "run", "--json", cwd=tmp_path)
    assert again.returncode == 1 and json.loads(again.stdout)["anomaly_types"] == verdict["anomaly_types"]
    if flaw == "no-auth":
        rpcs = {a["rpc"] for a in verdict["anomalies"]}
        assert rpcs == {"CreateVacancy", "UpdateVacancy", "GetVacancy", "DeleteVacancy", "GetVacancies", "GetMe"}


def test_killed_service_still_passes(tmp_path: Path) -> None:
    proc = run_shopbench("grpc", "--headless", "-u", "4", "-r", "4", "-t", "5s", "--every", "crud=0.3s,list=0.5s",
                         "--token-ttl", "3", "--faults", str(KILL_CONFIG), "--out", "run", cwd=tmp_path)
    verdict = verdict_of(tmp_path / "run")
    assert verdict["result"] != "invalid", verdict["anomalies"][:3]
    assert verdict["result"] == "valid" or verdict["unknown_reasons"]
    assert proc.returncode in (0, 4)
    fault = verdict["faults"][0]
    assert fault["action"] == "kill" and fault["restored"] and fault["answered_again"]
    # the load saw the outage (refused calls are definite fails) and went on after it
    ops = ops_of(tmp_path / "run")
    assert any(o["status"] == 14 for o in ops)
    assert any(o["type"] == "ok" and o["f"] == "CreateVacancy" and o["wall"] > fault["end"] for o in ops)


def test_a_given_target_with_its_protos_and_credentials(tmp_path: Path, make_service) -> None:
    from shopbench.grpc.service import reference_protos

    service = make_service(token_ttl=3)
    proc = run_shopbench("grpc", *LOAD, "--target", service.target, "--proto", str(reference_protos()),
                         "--credentials", str(service.users_file), "--out", "run", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    verdict = verdict_of(tmp_path / "run")
    assert verdict["result"] == "valid" and verdict["vacancy"]["counts"]["created"] >= 9


def test_stubs_from_server_reflection_and_local_processes(tmp_path: Path, make_service) -> None:
    """No --proto: the RPCs come from the service's reflection; two Locust processes share the
    round robin and ship their history to the master."""
    service = make_service(token_ttl=3)
    proc = run_shopbench("grpc", "--headless", "-u", "4", "-r", "4", "-t", "4s", "--every", "crud=1s,list=1.5s",
                         "--processes", "2", "--target", service.target, "--credentials", str(service.users_file),
                         "--out", "run", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    verdict = verdict_of(tmp_path / "run")
    assert verdict["result"] == "valid" and set(verdict["auth"]["probed"]) == {
        "CreateVacancy", "UpdateVacancy", "GetVacancy", "DeleteVacancy", "GetVacancies", "GetMe", "SignUpUser",
        "VerifyEmail"}
    ops = ops_of(tmp_path / "run")
    first: dict[str, int] = {}
    for o in sorted(ops, key=lambda o: o["t0"]):
        if o["f"] == "SignInUser" and o["process"].startswith("w"):
            first.setdefault(o["process"], o["args"]["user"])
    assert len(first) == 4 and {p[:2] for p in first} == {"w0", "w1"}
    assert sorted(first.values()) == [0, 0, 1, 2]


def test_usage_errors(tmp_path: Path) -> None:
    proc = run_shopbench("grpc", "--target", "127.0.0.1:1", "--headless", cwd=tmp_path)
    assert proc.returncode == 2 and "credentials" in proc.stderr
    proc = run_shopbench("grpc", "--every", "crud=soon", cwd=tmp_path)
    assert proc.returncode == 2 and "--every" in proc.stderr
    write_env(tmp_path / "users.env")
    proc = run_shopbench("grpc", "--target", "127.0.0.1:1", "--credentials", "users.env", "--headless",
                         "--out", "run", cwd=tmp_path)
    assert proc.returncode == 3 and "127.0.0.1:1" in proc.stderr
    assert (tmp_path / "run" / "run.json").exists()

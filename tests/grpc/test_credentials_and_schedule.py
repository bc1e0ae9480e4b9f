"""The .env credentials, the round robin, and the schedules' parsing and lateness figures."""

from __future__ import annotations

from pathlib import Path

import pytest

from shopbench.errors import UsageError
from shopbench.grpc.credentials import RoundRobin, load_credentials
from shopbench.workload.seed004 import lateness, parse_every


def test_env_file_in_numeric_order(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text("# users\nSERVICE_HOST=x\nUSER_10_EMAIL=j@x\nUSER_10_PASSWORD=pj\nexport USER_2_EMAIL='b@x'\n"
                   'USER_2_PASSWORD="p=b"\nUSER_1_EMAIL=a@x\nUSER_1_PASSWORD=pa\n')
    creds = load_credentials(env)
    assert [(c.index, c.email, c.password) for c in creds] == [(0, "a@x", "pa"), (1, "b@x", "p=b"), (2, "j@x", "pj")]
    assert "pa" not in repr(creds)


def test_env_file_errors(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text("USER_1_EMAIL=a@x\n")
    with pytest.raises(UsageError, match="USER_1_PASSWORD"):
        load_credentials(env)
    env.write_text("OTHER=1\n")
    with pytest.raises(UsageError, match="no USER_n_EMAIL"):
        load_credentials(env)
    with pytest.raises(UsageError, match="cannot read"):
        load_credentials(tmp_path / "missing.env")


def test_round_robin(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text("".join(f"USER_{i}_EMAIL=u{i}@x\nUSER_{i}_PASSWORD=p{i}\n" for i in (1, 2, 3)))
    robin = RoundRobin(load_credentials(env))
    assert [robin.next().email for _ in range(7)] == ["u1@x", "u2@x", "u3@x", "u1@x", "u2@x", "u3@x", "u1@x"]


def test_parse_every() -> None:
    assert parse_every(None) == {"crud": 30.0, "list": 45.0}
    assert parse_every("crud=1s,list=1500ms") == {"crud": 1.0, "list": 1.5}
    assert parse_every("list=2m") == {"crud": 30.0, "list": 120.0}
    for bad in ("crud", "crud=fast", "other=1s", "crud=0s"):
        with pytest.raises(UsageError):
            parse_every(bad)


def test_lateness_from_the_first_call_of_each_start() -> None:
    def o(scenario: str, process: str, intended: float, wall: float) -> dict:
        return {"scenario": scenario, "process": process, "intended": intended, "wall": wall}

    ops = [o("crud", "u0", 100.0, 100.010), o("crud", "u0", 100.0, 100.5), o("crud", "u0", 101.0, 101.002),
           o("list", "u0", 100.0, 100.001), o("list", "u1", 100.0, 100.300), o("probe", "u0", 1.0, 9.0)]
    out = lateness(ops)
    assert out["crud"]["starts"] == 2 and out["crud"]["lateness_ms"]["max"] == pytest.approx(10.0, abs=0.01)
    assert out["list"]["starts"] == 2 and out["list"]["lateness_ms"]["max"] == pytest.approx(300.0, abs=0.01)

"""The local backend on real reference-shop processes: verified by pid, /proc state and /health."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from nemesis_helpers import wait_for

from shopbench.cli.app import main
from shopbench.nemesis import Nemesis, make_backend, parse_fault_plan, read_timeline
from shopbench.processes import PAUSED, RUNNING, STOPPED, free_port, health_ok
from shopbench.shop import RefShop

pytestmark = pytest.mark.slow
SERVICES = ("order", "stock", "payment")


def healthy(shop: RefShop, name: str) -> bool:
    return health_ok(f"{shop.url(name)}/health", timeout=0.5)


def assert_whole(shop: RefShop) -> None:
    for name in SERVICES:
        assert shop.supervisor.state(name) == RUNNING, name
        assert healthy(shop, name), name


@pytest.mark.parametrize("action", ["kill", "terminate"])
def test_kill_and_terminate_then_recover(healthy_shop: RefShop, action: str) -> None:
    backend = make_backend("local", supervisor=healthy_shop.supervisor)
    old = healthy_shop.supervisor.pid("stock")
    (hit,) = backend.apply(action, "stock-service")  # seed 001's name for the same service
    assert hit.result == "ok" and hit.target == f"pid {old}"
    assert healthy_shop.supervisor.state("stock") == STOPPED
    assert not Path(f"/proc/{old}").exists() or Path(f"/proc/{old}/stat").read_text().split(") ")[1][0] == "Z"
    assert not healthy(healthy_shop, "stock")
    (back,) = backend.recover(action, "stock", [hit])
    new = healthy_shop.supervisor.pid("stock")
    assert back.result == "ok" and back.target == f"pid {new}" and new != old
    assert healthy(healthy_shop, "stock")


def test_pause_is_sigstop_and_resume_is_sigcont(healthy_shop: RefShop) -> None:
    backend = make_backend("local", supervisor=healthy_shop.supervisor)
    pid = healthy_shop.supervisor.pid("payment")
    (hit,) = backend.apply("pause", "payment")
    assert hit.result == "ok"
    assert Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] in ("T", "t")
    assert not healthy(healthy_shop, "payment")  # stopped processes do not answer
    (again,) = backend.apply("pause", "payment")
    assert again.result == "skipped"
    (back,) = backend.recover("pause", "payment", [hit])
    assert back.result == "ok" and healthy_shop.supervisor.pid("payment") == pid  # the same process
    assert healthy(healthy_shop, "payment")


def test_restart_gives_a_new_healthy_process(healthy_shop: RefShop) -> None:
    backend = make_backend("local", supervisor=healthy_shop.supervisor)
    old = healthy_shop.supervisor.pid("order")
    (hit,) = backend.apply("restart", "order")
    new = healthy_shop.supervisor.pid("order")
    assert hit.result == "ok" and new != old and hit.target == f"pid {old} -> {new}"
    assert healthy(healthy_shop, "order")


def test_nemesis_keyboard_interrupt_restores_the_real_shop(healthy_shop: RefShop, tmp_path: Path) -> None:
    backend = make_backend("local", supervisor=healthy_shop.supervisor)
    plan = parse_fault_plan({"kill_triggers": [
        {"type": "time", "threshold": 0, "services": ["stock"], "action": "pause"},
        {"type": "time", "threshold": 0.05, "services": ["order-service"], "recovery_time": 0},
    ]}, backend=backend)
    with pytest.raises(KeyboardInterrupt), Nemesis(plan, backend, tmp_path / "faults.jsonl") as nem:
        assert wait_for(lambda: len(nem.entries) == 2)
        assert healthy_shop.supervisor.state("stock") == PAUSED
        assert healthy_shop.supervisor.state("order") == STOPPED
        raise KeyboardInterrupt
    assert_whole(healthy_shop)
    recovers = [x for x in read_timeline(tmp_path / "faults.jsonl") if x["role"] == "recover"]
    assert {(x["service"], x["result"]) for x in recovers} == {("stock", "ok"), ("order", "ok")}


SCRIPT = textwrap.dedent("""
    import sys, time
    from shopbench.nemesis import Nemesis, make_backend, parse_fault_plan
    backend = make_backend("local", data_dir=sys.argv[1])
    plan = parse_fault_plan({"kill_triggers": [
        {"type": "time", "threshold": 0, "services": ["stock"], "action": "pause"},
        {"type": "time", "threshold": 0, "services": ["order"], "recovery_time": 0},
        {"type": "time", "threshold": 0, "services": ["payment"], "action": "terminate", "recovery_time": 0},
    ]}, backend=backend)
    with Nemesis(plan, backend, timeline_path=sys.argv[2]) as nem:
        deadline = time.monotonic() + 30
        while len(nem.entries) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        print("faulted", flush=True)
        time.sleep(60)
    print("not interrupted", flush=True)
""")


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, -signal.SIGINT), (signal.SIGTERM, 128 + signal.SIGTERM)])
def test_signal_to_a_faulting_process_restores_every_service(healthy_shop: RefShop, tmp_path: Path,
                                                              sig: signal.Signals, code: int) -> None:
    script = tmp_path / "faulter.py"
    script.write_text(SCRIPT)
    timeline = tmp_path / "faults.jsonl"
    proc = subprocess.Popen([sys.executable, str(script), str(healthy_shop.supervisor.state_dir), str(timeline)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        assert line.strip() == "faulted", proc.stderr.read() if proc.stderr else ""
        assert healthy_shop.supervisor.state("stock") == PAUSED
        assert healthy_shop.supervisor.state("order") == STOPPED
        assert healthy_shop.supervisor.state("payment") == STOPPED
        proc.send_signal(sig)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    # SIGINT: an uncaught KeyboardInterrupt (Python re-raises the signal); SIGTERM: SystemExit(143).
    assert proc.returncode == code
    assert_whole(healthy_shop)
    recovers = [x for x in read_timeline(timeline) if x["role"] == "recover"]
    assert sorted(x["service"] for x in recovers) == ["order", "payment", "stock"]
    assert all(x["result"] == "ok" and x["reason"] == "run end" for x in recovers)


def test_users_own_services_from_a_toml_services_file(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    port = free_port()
    www = tmp_path / "www"
    www.mkdir()
    services = tmp_path / "services.toml"
    services.write_text(textwrap.dedent(f"""
        [services.web]
        command = "{sys.executable} -m http.server {port} --bind 127.0.0.1"
        cwd = "www"
        health_url = "http://127.0.0.1:{port}/"
    """))
    state = tmp_path / "state"
    common = ["--services-file", str(services), "--data", str(state)]
    assert main(["services", "start", *common]) == 0
    try:
        backend = make_backend("local", services_file=services, data_dir=state)
        pid = backend.supervisor.pid("web")
        assert pid and health_ok(f"http://127.0.0.1:{port}/")
        assert main(["services", "kill", "web", *common]) == 0
        assert backend.supervisor.state("web") == STOPPED and not health_ok(f"http://127.0.0.1:{port}/")
        assert main(["services", "status", *common]) == 0
        assert "stopped" in capsys.readouterr().out
        plan = parse_fault_plan({"kill_triggers": [{"type": "time", "threshold": 0, "services": ["web"],
                                                    "action": "restart"}]}, backend=backend)
        with Nemesis(plan, backend) as nem:
            assert wait_for(lambda: nem.entries, timeout=30)
        assert backend.supervisor.state("web") == RUNNING and health_ok(f"http://127.0.0.1:{port}/")
        assert backend.supervisor.pid("web") != pid
    finally:
        assert main(["services", "stop", *common]) == 0
    assert make_backend("local", services_file=services, data_dir=state).supervisor.state("web") == STOPPED


def test_bad_services_file_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    bad = tmp_path / "services.json"
    bad.write_text(json.dumps({"services": [{"name": "web", "comand": "python"}]}))
    assert main(["services", "list", "--services-file", str(bad)]) == 2
    assert "services[0].comand is not a known field" in capsys.readouterr().err


def test_cli_kill_on_the_reference_shop(healthy_shop: RefShop, capsys: pytest.CaptureFixture) -> None:
    data = str(healthy_shop.supervisor.state_dir)
    old = healthy_shop.supervisor.pid("payment")
    assert main(["services", "kill", "payment-service", "--data", data]) == 0
    assert f"pid {old}" in capsys.readouterr().out
    assert healthy_shop.supervisor.state("payment") == STOPPED
    assert main(["services", "kill", "nonesuch", "--data", data]) == 2
    assert "unknown service 'nonesuch'" in capsys.readouterr().err
    assert main(["services", "start", "payment", "--data", data]) == 0
    assert_whole(healthy_shop)
    time.sleep(0)  # keep the shop whole for the next test (the fixture also checks)

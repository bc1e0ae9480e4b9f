"""Faults on real multi-process services: a gunicorn master with two workers and a `sh -c` wrapper,
started through a services file by the local backend, and a gunicorn shopbench did not start."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from nemesis_helpers import wait_for

from shopbench.errors import TargetError, UsageError
from shopbench.nemesis import make_backend
from shopbench.nemesis.backends.local import load_services_file
from shopbench.processes import free_port, http_status

APP = textwrap.dedent('''
    def app(environ, start_response):
        path = environ.get("PATH_INFO", "/")
        status = "200 OK" if path in ("/", "/health") else "404 Not Found"
        start_response(status, [("Content-Type", "text/plain")])
        return [b"hello " + path.encode()]
''')


def refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        return False
    except ConnectionRefusedError:
        return True
    except OSError:
        return False


def gunicorn_cmd(port: int) -> str:
    return f"{sys.executable} -m gunicorn -w 2 -b 127.0.0.1:{port} --graceful-timeout 2 app:app"


def write_shop(folder: Path, body: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "app.py").write_text(APP)
    path = folder / "services.toml"
    path.write_text(body)
    return path


class Shop:
    def __init__(self, path: Path, port: int):
        self.path, self.port = path, port
        self.backend = make_backend("local", services_file=path)

    def tree(self, name: str = "web") -> list[psutil.Process]:
        return self.backend.supervisor.tree(name)

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def stop(self) -> None:
        sup = self.backend.supervisor
        for name in sup.names():
            for p in sup.tree(name):
                try:
                    p.send_signal(signal.SIGCONT)
                except psutil.Error:
                    pass
            sup.stop(name)


@pytest.fixture
def gunicorn_shop(tmp_path: Path) -> Iterator[Shop]:
    port = free_port()
    path = write_shop(tmp_path / "shop", f'''
[services.web]
command = "{gunicorn_cmd(port)}"
health_url = "http://127.0.0.1:{port}/health"
start_timeout = 30
''')
    shop = Shop(path, port)
    try:
        shop.backend.start("web")
        assert wait_for(lambda: len(shop.tree()) == 3, timeout=20)  # gunicorn forks its workers after binding
        yield shop
    finally:
        shop.stop()


def test_kill_reaches_master_and_workers_and_the_port_refuses(gunicorn_shop: Shop) -> None:
    before = gunicorn_shop.tree()
    assert len(before) == 3, [p.cmdline() for p in before]  # master + 2 workers
    t0 = time.time()
    (hit,) = gunicorn_shop.backend.apply("kill", "web")
    assert hit.result == "ok" and hit.landed, hit
    assert hit.landed_at - t0 < 0.5, hit
    assert not [p for p in before if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert refused(gunicorn_shop.port)
    assert "none of the 3 processes" in hit.evidence and "refuses" in hit.evidence
    # Restoring starts a whole new tree.
    (back,) = gunicorn_shop.backend.recover("kill", "web", [hit])
    assert back.result == "ok" and back.landed
    assert http_status(gunicorn_shop.url()) == 200
    assert not {p.pid for p in before} & {p.pid for p in gunicorn_shop.tree()}


def test_pause_stops_every_process_and_requests_hang_until_resume(gunicorn_shop: Shop) -> None:
    procs = gunicorn_shop.tree()
    (hit,) = gunicorn_shop.backend.apply("pause", "web")
    assert hit.landed, hit
    assert all(p.status() == psutil.STATUS_STOPPED for p in procs)
    assert http_status(gunicorn_shop.url(), timeout=0.5) is None  # a new request times out
    assert "all 3 processes" in hit.evidence and "no answer" in hit.evidence
    (resumed,) = gunicorn_shop.backend.apply("resume", "web")
    assert resumed.landed, resumed
    assert http_status(gunicorn_shop.url(), timeout=2) == 200
    assert all(p.status() != psutil.STATUS_STOPPED for p in procs)


def test_restart_brings_a_new_healthy_tree(gunicorn_shop: Shop) -> None:
    old = {p.pid for p in gunicorn_shop.tree()}
    (hit,) = gunicorn_shop.backend.apply("restart", "web")
    assert hit.landed, hit
    assert not any(psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE for pid in old)
    assert wait_for(lambda: len(gunicorn_shop.tree()) == 3, timeout=20)
    assert not old & {p.pid for p in gunicorn_shop.tree()}
    assert http_status(gunicorn_shop.url("/health")) == 200


def test_terminate_ends_the_whole_tree(gunicorn_shop: Shop) -> None:
    before = gunicorn_shop.tree()
    (hit,) = gunicorn_shop.backend.apply("terminate", "web")
    assert hit.landed, hit
    assert all(not p.is_running() or p.status() == psutil.STATUS_ZOMBIE for p in before)
    assert refused(gunicorn_shop.port)


def test_sh_c_wrapper_and_its_child_are_killed(tmp_path: Path) -> None:
    port = free_port()
    path = write_shop(tmp_path / "shop", f'''
[services.wrapped]
command = ["sh", "-c", "{sys.executable} -m http.server {port} --bind 127.0.0.1; echo never"]
health_tcp = "127.0.0.1:{port}"
''')
    shop = Shop(path, port)
    try:
        shop.backend.start("wrapped")
        before = shop.tree("wrapped")
        assert len(before) == 2, [p.cmdline() for p in before]
        (hit,) = shop.backend.apply("kill", "wrapped")
        assert hit.landed, hit
        assert all(not p.is_running() or p.status() == psutil.STATUS_ZOMBIE for p in before)
        assert refused(port)
    finally:
        shop.stop()


def test_health_by_listening_port_and_any_answer_below_500(tmp_path: Path) -> None:
    port, port2 = free_port(), free_port()
    path = write_shop(tmp_path / "shop", f'''
[services.noroute]
command = "{gunicorn_cmd(port)}"
health_url = "http://127.0.0.1:{port}/no-such-route"

[services.bare]
command = "{sys.executable} -m http.server {port2} --bind 127.0.0.1"
''')
    shop = Shop(path, port)
    try:
        assert shop.backend.start("noroute").result == "ok"  # a 404 is an answer: it is up
        assert shop.backend.start("bare").result == "ok"  # no health given: its listening port
        assert shop.backend.supervisor.healthy("bare")
        (hit,) = shop.backend.apply("kill", "bare")
        assert hit.landed and f"127.0.0.1:{port2} refuses" in hit.evidence, hit
    finally:
        shop.stop()


def test_start_that_times_out_stops_what_it_started_and_quotes_the_log(tmp_path: Path) -> None:
    path = write_shop(tmp_path / "shop", f'''
[services.mute]
command = ["{sys.executable}", "-c", "import time; print('booting, no port yet', flush=True); time.sleep(60)"]
health_tcp = "127.0.0.1:{free_port()}"
start_timeout = 1
''')
    shop = Shop(path, 0)
    with pytest.raises(TargetError) as err:
        shop.backend.start("mute")
    assert "booting, no port yet" in str(err.value) and "start_timeout" in str(err.value)
    assert shop.backend.supervisor.state("mute") == "stopped"
    assert not [p for p in psutil.process_iter(["cmdline"]) if "booting, no port yet" in " ".join(
        p.info["cmdline"] or []) and p.status() != psutil.STATUS_ZOMBIE]


def test_services_file_used_from_another_folder_finds_its_state(gunicorn_shop: Shop, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    relative = os.path.relpath(gunicorn_shop.path, elsewhere)
    backend = make_backend("local", services_file=relative)
    (row,) = backend.status(["web"])
    assert row.state == "running" and row.target == f"pid {gunicorn_shop.backend.supervisor.pid('web')}"
    (hit,) = backend.apply("pause", "web")
    assert hit.landed
    backend.apply("resume", "web")
    assert not (elsewhere / ".shopbench").exists()


def test_a_running_gunicorn_is_adopted_killed_and_restarted_from_its_command(tmp_path: Path) -> None:
    port = free_port()
    folder = tmp_path / "shop"
    path = write_shop(folder, f'''
[services.by-port]
command = "{gunicorn_cmd(port)}"
port = {port}
''')
    outsider = subprocess.Popen(gunicorn_cmd(port).split(), cwd=folder, start_new_session=True,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    shop = Shop(path, port)
    try:
        assert wait_for(lambda: http_status(f"http://127.0.0.1:{port}/") == 200, timeout=30)
        ((name, pid, how),) = shop.backend.adopt()
        assert (name, pid) == ("by-port", outsider.pid) and "port" in how
        assert wait_for(lambda: len(shop.tree("by-port")) == 3, timeout=20)
        (hit,) = shop.backend.apply("kill", "by-port")
        assert hit.landed, hit
        outsider.wait(timeout=5)  # (the supervisor may have reaped it already: it is our child here)
        assert not psutil.pid_exists(outsider.pid)
        assert refused(port)
        (back,) = shop.backend.recover("kill", "by-port", [hit])
        assert back.landed, back
        assert http_status(f"http://127.0.0.1:{port}/") == 200
        assert shop.backend.supervisor.pid("by-port") != outsider.pid
    finally:
        if outsider.poll() is None:
            os.killpg(outsider.pid, signal.SIGKILL)
            outsider.wait()
        shop.stop()


def test_adoption_by_command_line_match_and_pid_file(tmp_path: Path) -> None:
    port = free_port()
    folder = tmp_path / "shop"
    path = write_shop(folder, f'''
[services.by-match]
command = "{gunicorn_cmd(port)} --pid web.pid -n shopweb{port}"
match = "shopweb{port}"

[services.by-pid-file]
command = "{gunicorn_cmd(port)} --pid web.pid"
pid_file = "web.pid"
''')
    # Named: with setproctitle installed gunicorn rewrites its command line to "gunicorn: master [NAME]".
    outsider = subprocess.Popen([*gunicorn_cmd(port).split(), "--pid", "web.pid", "-n", f"shopweb{port}"], cwd=folder,
                                start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    shop = Shop(path, port)
    try:
        assert wait_for(lambda: http_status(f"http://127.0.0.1:{port}/") == 200 and (folder / "web.pid").exists(),
                        timeout=30)
        assert wait_for(lambda: len(psutil.Process(outsider.pid).children()) == 2, timeout=20)
        found = {name: (pid, how) for name, pid, how in shop.backend.adopt()}
        assert found["by-match"][0] == outsider.pid and "command line" in found["by-match"][1]
        assert found["by-pid-file"][0] == outsider.pid and "pid file" in found["by-pid-file"][1]
        (hit,) = shop.backend.apply("pause", "by-match")
        assert hit.landed and "all 3 processes" in hit.evidence, hit
        (hit,) = shop.backend.apply("resume", "by-match")
        assert hit.landed
    finally:
        os.killpg(outsider.pid, signal.SIGKILL)
        outsider.wait()
        shop.stop()


def test_a_service_not_running_is_skipped_and_plan_warns(tmp_path: Path) -> None:
    port = free_port()
    path = write_shop(tmp_path / "shop", f'''
[services.web]
command = "{gunicorn_cmd(port)}"
health_url = "http://127.0.0.1:{port}/health"
''')
    backend = make_backend("local", services_file=path)
    (hit,) = backend.apply("kill", "web")
    assert hit.result == "skipped" and hit.landed is False
    assert "not started by shopbench" in hit.error and "port, match or pid_file" in hit.error
    assert "cannot be adopted" in backend.cannot_land("web", "pause")


def test_services_file_errors_name_file_field_and_what_is_allowed(tmp_path: Path) -> None:
    cases = {
        '[services.web]\ncommand = "x"\nhealth_url = "ftp://x"\n': "services[0].health_url is 'ftp://x'; it must be",
        '[services.web]\ncommand = "x"\nport = 70000\n': "services[0].port is 70000; it must be the TCP port",
        '[services.web]\ncommand = "x"\nhealth_tcp = "nohost"\n': "services[0].health_tcp is 'nohost'",
        '[services.web]\ncommand = "x"\nmatch = "("\n': "services[0].match is '('",
        '[services.web]\ncommnd = "x"\n': "services[0].commnd is not a known field; allowed: name, command",
        'x = 1\n': "field services is missing",
    }
    for i, (text, expect) in enumerate(cases.items()):
        path = tmp_path / f"s{i}.toml"
        path.write_text(text)
        with pytest.raises(UsageError) as err:
            load_services_file(path)
        assert str(path) in str(err.value) and expect in str(err.value), str(err.value)
        assert "\n" not in str(err.value)


def test_request_to_paused_service_gets_no_answer_direct_urllib(gunicorn_shop: Shop) -> None:
    gunicorn_shop.backend.apply("pause", "web")
    try:
        with pytest.raises(OSError):
            urllib.request.urlopen(gunicorn_shop.url(), timeout=0.5)  # noqa: S310
    finally:
        gunicorn_shop.backend.apply("resume", "web")


def test_cli_plan_warns_and_adopt_takes_over(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    import json

    from shopbench.cli.app import main

    port = free_port()
    folder = tmp_path / "shop"
    path = write_shop(folder, f'''
[services.web]
command = "{gunicorn_cmd(port)}"
port = {port}

[services.ghost]
command = "{sys.executable} -m http.server {free_port()}"
''')
    config = tmp_path / "kill_config.json"
    config.write_text(json.dumps({"kill_triggers": [
        {"type": "time", "threshold": 1, "services": ["web", "ghost"], "recovery_time": 1}]}))
    assert main(["services", "plan", str(config), "--services-file", str(path)]) == 0
    out = capsys.readouterr().out
    assert "kill web) cannot land" in out and "kill ghost) cannot land" in out
    outsider = subprocess.Popen(gunicorn_cmd(port).split(), cwd=folder, start_new_session=True,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert wait_for(lambda: http_status(f"http://127.0.0.1:{port}/") == 200, timeout=30)
        assert main(["services", "adopt", "web", "--services-file", str(path)]) == 0
        out = " ".join(capsys.readouterr().out.split())
        assert f"web: pid {outsider.pid}, found by listening on port {port}" in out
        assert main(["services", "plan", str(config), "--services-file", str(path)]) == 0
        out = capsys.readouterr().out
        assert "kill web) cannot land" not in out and "kill ghost) cannot land" in out
        assert main(["services", "kill", "web", "--services-file", str(path)]) == 0
        out = " ".join(capsys.readouterr().out.split())
        assert "web (pid" in out and "killed (SIGKILL) in" in out and "refuses connections" in out
        assert refused(port)
    finally:
        if outsider.poll() is None:
            os.killpg(outsider.pid, signal.SIGKILL)
        outsider.wait()
        Shop(path, port).stop()


def test_no_permission_to_signal_is_an_unlanded_fault_with_the_reason(gunicorn_shop: Shop,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    # Tests run as one user; a service of another user is simulated by the kernel's answer.
    def denied(*_args: object) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "killpg", denied)
    monkeypatch.setattr(psutil.Process, "send_signal", lambda self, sig: (_ for _ in ()).throw(
        psutil.AccessDenied(self.pid)))
    (hit,) = gunicorn_shop.backend.apply("kill", "web")
    assert hit.result == "error" and hit.landed is False
    assert "no permission to send SIGKILL" in hit.error and "another user" in hit.error
    monkeypatch.undo()
    assert http_status(gunicorn_shop.url()) == 200  # nothing was hit

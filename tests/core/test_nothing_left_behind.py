"""The suite-wide fixture of tests/conftest.py fails a test that leaves a process, a listening
port or a paused process behind, and cleans up after it (checked on an inner pytest run)."""

import shutil
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]
CONFTEST = Path(__file__).resolve().parents[1] / "conftest.py"

LEAKY = '''
import os, signal, socket, subprocess, sys

def test_clean():
    subprocess.run([sys.executable, "-c", "pass"], check=True)

def test_leaks_a_child(tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    (tmp_path / "pid").write_text(str(proc.pid))

def test_leaks_a_listening_child():
    child = subprocess.Popen([sys.executable, "-c",
                              "import socket, time; s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(); "
                              "print(s.getsockname()[1], flush=True); time.sleep(60)"], stdout=subprocess.PIPE)
    child.stdout.readline()

def test_leaves_its_fixture_paused(paused_server):
    os.kill(paused_server.pid, signal.SIGSTOP)

def test_leaks_a_port_in_process():
    test_leaks_a_port_in_process.sock = s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen()
'''

FIXTURES = '''
import subprocess, sys
import pytest

@pytest.fixture(scope="module")
def paused_server():
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield proc
    proc.kill()
    proc.wait()
'''


def test_a_leaking_test_fails_and_what_it_left_is_ended(pytester: pytest.Pytester) -> None:
    shutil.copy(CONFTEST, pytester.path / "conftest.py")
    with open(pytester.path / "conftest.py", "a") as f:
        f.write(FIXTURES)
    pytester.makepyfile(test_leaky=LEAKY)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q", "-p", "no:randomly")
    result.assert_outcomes(passed=5, errors=4)
    out = result.stdout.str()
    assert "test_leaky.py::test_leaks_a_child left behind:" in out and "time.sleep(60)" in out
    assert "listening on 127.0.0.1:" in out
    assert "(paused: SIGSTOPped)" in out
    assert "still listens on 127.0.0.1:" in out
    assert "test_clean left behind" not in out
    # the leaked child was killed by pid: nothing of it outlives the inner run
    import psutil

    pid = int(next(pytester.path.parent.glob("**/test_leaks_a_child0/pid")).read_text())
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE

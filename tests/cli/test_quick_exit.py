"""The `shopbench` entry point skips Python's module teardown but keeps exit codes, output and the
atexit hooks (the nemesis' last-resort restore is one)."""

import subprocess
import sys

RUN = ("import atexit, sys\n"
       "atexit.register(lambda: print('hook ran', flush=True))\n"
       "sys.argv = ['shopbench', *sys.argv[1:]]\n"
       "from shopbench.cli.app import run\n"
       "run()\n"
       "print('not reached')\n")


def _shopbench(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", RUN, *args], capture_output=True, text=True, timeout=60)


def test_exit_code_output_and_atexit_hooks_survive_the_quick_exit():
    done = _shopbench("--version")
    assert done.returncode == 0
    assert done.stdout.splitlines() == [done.stdout.splitlines()[0], "hook ran"]
    assert done.stdout.startswith("shopbench ")


def test_an_error_keeps_its_exit_code():
    done = _shopbench("check", "/no/such/run")
    assert done.returncode == 2, done.stderr
    assert "hook ran" in done.stdout and "not reached" not in done.stdout
    assert "no/such/run" in done.stderr


def test_python_dash_m_is_the_same_command():
    done = subprocess.run([sys.executable, "-m", "shopbench", "--version"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.startswith("shopbench ")

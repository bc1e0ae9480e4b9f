"""Helpers for stress end-to-end tests: each run is a real `shopbench stress` subprocess (Locust
monkey-patches whatever process imports it, so never this one), with its own reference shop on
free loopback ports, ended by the run itself."""

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LOAD_SKIP = ("populate", "settle", "state")


class Run:
    def __init__(self, path: Path, code: int, output: str):
        self.path, self.code, self.output = path, code, output

    @property
    def verdict(self):
        return json.loads((self.path / "verdict.json").read_text())

    @property
    def manifest(self):
        return json.loads((self.path / "run.json").read_text())

    def ops(self, load_only=True):
        with open(self.path / "ops.jsonl", "rb") as f:
            ops = [json.loads(line) for line in f if line.strip()]
        return [o for o in ops if not load_only or o["process"] not in LOAD_SKIP]

    def by_scenario(self):
        return Counter((o["scenario"], o["f"], o["type"]) for o in self.ops())


def _run(cmd: list[str], out: Path, timeout: float) -> Run:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    try:
        output, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)  # its own session: the run, its Locust children and its shop
        output, _ = proc.communicate()
        pytest.fail(f"stress run timed out:\n{output[-3000:]}")
    return Run(out, proc.returncode, output)


@pytest.fixture
def stress(tmp_path):
    """stress(*args, timeout=) -> Run: `shopbench stress --headless ... --out TMP` in a subprocess."""
    def run(*args: str, timeout: float = 120.0) -> Run:
        out = tmp_path / f"run{len(list(tmp_path.iterdir()))}"
        cmd = [str(Path(sys.executable).parent / "shopbench"), "stress", "--headless", "--out", str(out), *args]
        return _run(cmd, out, timeout)
    return run


@pytest.fixture
def python_script(tmp_path):
    """python_script(code, out) -> Run: run a Python snippet in a subprocess (for the runner's API)."""
    def run(code: str, out: Path, timeout: float = 120.0) -> Run:
        script = tmp_path / "script.py"
        script.write_text(code)
        return _run([sys.executable, str(script)], out, timeout)
    return run

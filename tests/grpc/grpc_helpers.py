"""Helpers of the gRPC tests (a module of its own: importing `conftest` depends on collection order)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
KILL_CONFIG = HERE / "kill_config.json"


def run_shopbench(*args: str, cwd: Path, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "shopbench", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout)


def verdict_of(run: Path) -> dict:
    return json.loads((run / "verdict.json").read_text())


def ops_of(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "ops.jsonl").read_text().splitlines() if line.strip()]

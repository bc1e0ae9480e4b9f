"""One convention for output (README "Output"): the summary and the verdict on stdout for every
command, logs and progress on stderr; --json prints the verdict alone on stdout."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from shopbench.cli.app import main

VERDICT = {"valid": True, "result": "valid", "checkouts": {"ok": 3, "fail": 1, "info": 0}, "warnings": []}


@pytest.fixture
def fake_stress(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """`run_stress` replaced by one that logs on stderr and stdout (as Locust and our progress do)
    and leaves a finished run directory: what the command prints is the command's own doing."""
    import shopbench.runner.stress as runner

    run = tmp_path / "run"

    def run_stress(cfg: Any, **kw: Any) -> int:
        import sys

        run.mkdir()
        (run / "run.json").write_text(json.dumps({"kind": "stress", "phases": [{"name": "load", "start": 1.0,
                                                                                   "end": 3.5}]}))
        (run / "verdict.json").write_text(json.dumps(VERDICT))
        print("a log line from the run", file=sys.stderr)
        print("a line printed by Locust or a library")
        kw["on_run"](run)
        return 0

    monkeypatch.setattr(runner, "run_stress", run_stress)
    return run


def test_stress_prints_its_summary_on_stdout_and_logs_on_stderr(fake_stress: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["stress", "--headless"]) == 0
    out, err = capsys.readouterr()
    out = " ".join(out.split())  # Rich wraps long paths at the terminal's width
    assert "VALID" in out and "phases" in out and f"run directory: {fake_stress}" in out
    assert "VALID" not in err and "a log line from the run" in err


def test_stress_json_prints_the_verdict_alone_on_stdout(fake_stress: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["stress", "--headless", "--json"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out) == VERDICT  # nothing else on stdout, not even what the run printed there
    assert "a line printed by Locust or a library" in err and "VALID" not in err


def test_grpc_prints_its_summary_on_stdout(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from types import SimpleNamespace

    from shopbench.runner.grpc import print_summary

    run = SimpleNamespace(path=tmp_path, file=lambda name: tmp_path / name)
    print_summary({"valid": True, "result": "valid", "vacancy": {"counts": {"created": 3}}}, run)
    out, err = capsys.readouterr()
    assert "VALID" in out and "run directory" in out and not err

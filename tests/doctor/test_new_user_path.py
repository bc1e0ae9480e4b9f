"""Acceptance of issue 25 on a shop we did not write (gunicorn, two workers per service, behind nginx,
no removeItem): `shopbench doctor`, then the commands it prints, then verdicts whose every line says
what to do. Also: the shop's gateway logs no request we were not asked to send (/openapi.json), and
the burst fitted under its connections leaves no checkout indeterminate."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from gateway_shop import GatewayShop

pytestmark = pytest.mark.slow
SHOPBENCH = str(Path(sys.executable).parent / "shopbench")


def run(args: list[str], cwd: Path, timeout: float = 240) -> tuple[int, str, str]:
    proc = subprocess.Popen([SHOPBENCH, *args], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, env={**os.environ, "COLUMNS": "200"})
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        pytest.fail(f"shopbench {shlex.join(args)} timed out:\n{out[-2000:]}\n{err[-2000:]}")
    return proc.returncode, out, err


def flat(text: str) -> str:
    return " ".join(text.split())


def test_doctor_then_its_commands_then_verdicts_that_say_what_to_do(gateway_shop: GatewayShop,
                                                                     tmp_path: Path) -> None:
    shop = gateway_shop
    # Without doctor, the default stress run stops at the door, naming the flag that gets past it.
    code, out, err = run(["stress", "--urls", str(shop.urls_file), "--headless", "-u", "2", "-t", "3s",
                          "--out", str(tmp_path / "first")], tmp_path)
    assert code == 3 and "run stress with --without remove_item" in flat(err), out + err
    faults = tmp_path / "kill_config.json"
    faults.write_text(json.dumps({"kill_triggers": [
        {"type": "time", "threshold": 1, "services": ["order"], "action": "kill", "recovery_time": 1},
        {"type": "time", "threshold": 3, "services": ["stock"], "action": "pause", "duration": 1}]}))
    code, out, err = run(["doctor", "--urls", str(shop.urls_file), "--services-file", str(shop.services_file),
                          "--faults", str(faults)], tmp_path)
    text = flat(out)
    assert code == 0, out + err
    assert "remove_item" in text and "answered 404: no such route" in text
    (row,) = [line for line in out.splitlines() if "stress --mix seed000" in line]
    assert "yes" in row and "--without remove_item" in row
    for name in ("order", "stock", "payment"):  # the gunicorns, adopted by their port
        (row,) = [line for line in out.splitlines() if line.startswith(f"│ {name} ")]
        assert "pid" in row and "yes" in row and "found by listening on port" in row, row
    assert "kill_triggers[1] (pause stock at 3 s) overlaps kill_triggers[0] (kill order at 1 s)" in text
    assert "worker_connections" in text and "--concurrency" in text
    commands = [line.strip() for line in out.splitlines() if line.strip().startswith("shopbench ")]
    consistency, stress = commands[0], commands[1]
    assert "--concurrency" in consistency and "--without remove_item" in stress and "--faults" in stress

    # The printed consistency command, smaller (and without faults) to stay quick.
    args = [a for a in shlex.split(consistency)[1:]]
    args = args[:args.index("--faults")] if "--faults" in args else args
    code, out, err = run(args + ["--orders", "300", "--users", "300", "--items", "30", "--out", str(tmp_path / "c")],
                         tmp_path)
    assert code == 0, out[-3000:] + err[-3000:]
    verdict = json.loads((tmp_path / "c" / "verdict.json").read_text())
    assert verdict["result"] == "valid" and verdict["checkouts"]["info"] == 0, verdict["checkouts"]
    assert "These are the seed script's numbers" in flat(out) and "VALID" in out and "VALID" not in err
    assert "connections closed" not in out  # under the gateway's limit, none of our requests lost its connection

    # The printed stress command, shorter, with its faults (the kill and the pause).
    args = shlex.split(stress)[1:]
    args[args.index("-t") + 1] = "6s"
    args[args.index("-u") + 1] = "10"
    code, out, err = run(args + ["--out", str(tmp_path / "s")], tmp_path)
    verdict = json.loads((tmp_path / "s" / "verdict.json").read_text())
    assert verdict["result"] != "invalid", verdict.get("anomalies")
    text = flat(out)
    assert "operations over" in text and "run directory:" in text and "operations over" not in err
    for reason in verdict.get("unknown_reasons") or ():
        assert "--" in reason or "`" in reason, reason  # every UNKNOWN names a flag or a command
    assert "remove_item" not in {op["f"] for op in map(json.loads, (tmp_path / "s" / "ops.jsonl").open())}

    sent = shop.access_log.read_text()
    assert "/orders/checkout/" in sent and "openapi.json" not in sent  # no request the shop did not ask for

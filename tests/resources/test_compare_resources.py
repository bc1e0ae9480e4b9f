"""`shopbench compare` shows each service's mean and peak CPU and RSS from each run's resources.jsonl."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from rich.console import Console

from shopbench.report.compare import rows, summarize, table
from shopbench.report.terminal import print_resources
from shopbench.resources import ProcessTree, ResourceSampler, run_summary
from shopbench.rundir import OPS, RunDir

pytestmark = pytest.mark.slow

HOG = "b = bytearray({mib} << 20)\nfor i in range(0, len(b), 4096): b[i] = 1\nimport time; time.sleep(60)"


def sampled_run(tmp_path, name: str, mib: int):
    run = RunDir.create("stress", tmp_path / name, {})
    run.file(OPS).touch()
    proc = subprocess.Popen([sys.executable, "-c", HOG.format(mib=mib)], start_new_session=True)
    try:
        time.sleep(1.0)  # the memory is touched
        sampler = ResourceSampler(interval=0.2, sources=[ProcessTree("stock", lambda: proc.pid)])
        sampler.bind(run, None)
        with sampler.during():
            time.sleep(0.8)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
    run.finish("valid", 0)
    return run.path


def test_compare_shows_mean_and_peak_cpu_and_rss_per_service(tmp_path):
    small, big = sampled_run(tmp_path, "small", 10), sampled_run(tmp_path, "big", 60)
    summaries = [summarize(small), summarize(big)]
    labelled = dict(rows(summaries))
    rss = labelled["stock RSS MiB mean / peak"]
    small_peak, big_peak = (int(cell.split(" / ")[1].replace(",", "")) for cell in rss)
    assert 10 <= small_peak < 40 and big_peak >= small_peak + 45
    assert "stock CPU % mean / peak" in labelled and "generator main CPU % mean / peak" in labelled
    console = Console(record=True, width=200)
    console.print(table(summaries))
    assert "stock RSS MiB mean / peak" in console.export_text()


def test_terminal_resources_table_names_restarts(tmp_path):
    console = Console(record=True, width=200)
    print_resources(console, run_summary(sampled_run(tmp_path, "one", 10)))
    text = console.export_text()
    assert "stock" in text and "generator main" in text and "restarts" not in text
    print_resources(console, {"services": {"order": {"cpu_mean": 12.0, "cpu_peak": 80.0, "rss_mean": 50 << 20,
                                                     "rss_peak": 60 << 20, "samples": 9, "up_samples": 7,
                                                     "pids": [1, 2]}}})
    text = console.export_text()
    assert "12 / 80" in text and "50 / 60" in text and "7/9, 1 restart" in text
    assert run_summary(tmp_path) is None  # a run that sampled nothing: no table, no error


def test_the_summary_warns_of_a_saturated_generator_once(tmp_path):
    import orjson

    from shopbench.report.terminal import print_summary

    lines = [{"wall": float(t), "kind": "generator", "name": "main", "backend": "self", "pid": 1, "container": None,
              "up": True, "procs": 1, "cpu": 97.0, "rss": 1 << 20, "fds": 9, "threads": 2, "conns": None}
             for t in range(5)]
    (tmp_path / "resources.jsonl").write_bytes(b"".join(orjson.dumps(line) + b"\n" for line in lines))
    console = Console(record=True, width=300)
    print_summary(console, {"valid": True, "result": "valid", "warnings": []}, {"kind": "consistency"}, str(tmp_path))
    text = console.export_text()
    assert text.count("warning: the load generator was saturated: process main averaged 97 % of a core") == 1
    assert "generator main" in text

"""A report of seed 000's default consistency run (100 items, 1,000 users, 1,000 checkouts at once)
weighs under 1 MB and still draws every chart (issue 15: it was 4.8 MB with Plotly embedded)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from test_report_pages import CHROMIUM, SHOPBENCH, assert_rendered, figures_of, load_in_chromium


@pytest.mark.slow
def test_default_consistency_report_is_under_one_megabyte(tmp_path):
    out = tmp_path / "run"
    done = subprocess.run([sys.executable, "-c", SHOPBENCH, "consistency", "--seed", "1", "--out", str(out)],
                          capture_output=True, text=True, timeout=240, env={**os.environ, "PYTHONUNBUFFERED": "1"},
                          cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    page = out / "report.html"
    size = page.stat().st_size
    assert size < 1_000_000, f"report.html is {size:,} bytes"
    text = page.read_text()
    figures = figures_of(text)
    assert {"chart-throughput", "chart-checkouts", "chart-users", "chart-errors"} <= set(figures)
    assert sum(f["series"][0]["label"] == "p50" for f in figures.values()) >= 1
    if CHROMIUM is not None:
        assert assert_rendered(*load_in_chromium(page, tmp_path)) == len(figures)

"""report.html and compare pages from real runs against the reference shop, checked as a browser sees them."""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from rich.console import Console

from shopbench.cli.app import main
from shopbench.report.compare import build_compare, summarize, table
from shopbench.report.html import build_report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="Debian's chromium is not installed: `apt-get install chromium` to run the browser test")


SHOPBENCH = "import sys; from shopbench.cli.app import main; sys.exit(main())"


def figures_of(page: str) -> dict:
    blob = re.search(r'<script type="application/json" id="shopbench-figures">(.*?)</script>', page, re.S).group(1)
    return orjson.loads(blob.replace("<\\/", "</"))


def load_in_chromium(page: Path, tmp: Path, screenshot: Path | None = None) -> tuple[str, list[str]]:
    """The DOM after scripts ran, and every console message the page logged."""
    profile = tmp / "chromium-profile"
    base = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
            f"--user-data-dir={profile}", "--virtual-time-budget=8000", "--enable-logging=stderr", "--v=0"]
    done = subprocess.run([*base, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120)
    console = [line for line in done.stderr.splitlines() if ":CONSOLE" in line]
    if screenshot is not None:
        subprocess.run([*base, "--window-size=1300,2400", f"--screenshot={screenshot}", page.as_uri()],
                       capture_output=True, timeout=120)
    return done.stdout, console


def assert_rendered(dom: str, console: list[str]) -> int:
    root = re.search(r"<html[^>]*>", dom).group(0)
    assert "data-js-errors" not in root, root
    assert console == [], console
    expected = int(re.search(r'data-charts-expected="(\d+)"', root).group(1))
    rendered = int(re.search(r'data-charts-rendered="(\d+)"', root).group(1))
    assert expected > 0 and rendered == expected
    # Every chart container holds uPlot's canvas with ink inside the plot area, and every series was drawn.
    charts = re.findall(r'<div class="chart"[^>]*>', dom)
    assert len(charts) == expected
    for tag in charts:
        inked = int(re.search(r'data-inked-pixels="(\d+)"', tag).group(1))
        drawn = re.search(r'data-series-drawn="(\d+)"', tag).group(1)
        assert inked > 500 and drawn == re.search(r'data-series-expected="(\d+)"', tag).group(1), tag
    assert dom.count("<canvas") >= expected
    return expected


@pytest.mark.slow
def test_report_has_every_section_and_needs_no_network(valid_run: Path, tmp_path):
    out = build_report(valid_run, out=tmp_path / "report.html")
    page = out.read_text()
    # Self-contained: no script, stylesheet or image is fetched from anywhere.
    assert not re.search(r"<(script|link|img)[^>]+(src|href)=\"(https?:)?//", page)
    assert page.count("uPlot (v1.6.32)") == 1 and "Plotly" not in page
    assert len(page.encode()) < 1_000_000
    order = [page.index(f'id="{s}"') for s in ("verdict", "checkouts", "throughput", "load", "faults", "config")]
    assert order == sorted(order)
    assert "VALID" in page and "stock inconsistencies (client log)" in page and "checkout:p95&lt;500ms" in page
    assert "computed exactly from the" in page.replace("Computed", "computed")
    figures = figures_of(page)
    # Every time chart shades the pause of the stock service and labels it.
    for fig in figures.values():  # every chart of a run's report is a time chart
        assert fig["kind"] == "time"
        (window,) = fig["windows"]
        assert window["label"] == "pause stock" and 0 < window["x0"] < window["x1"]
        assert all(len(line["values"]) == len(fig["x"]) for line in fig["series"])
    assert {"chart-throughput", "chart-checkouts", "chart-users", "chart-errors", "chart-resources-cpu",
            "chart-resources-rss"} <= set(figures)
    latency = [f for name, f in figures.items() if name.startswith("chart-latency")]
    assert latency and all([t["label"] for t in f["series"]] == ["p50", "p95", "p99"] for f in latency)
    # The resource charts: one line per service and one (dashed) for the generator, real figures.
    cpu, rss = figures["chart-resources-cpu"], figures["chart-resources-rss"]
    assert [line["label"] for line in cpu["series"]] == ["order", "payment", "stock", "generator main"]
    assert [line["dash"] for line in rss["series"]] == [False, False, False, True]
    assert all(any(v for v in line["values"] if v is not None) for line in rss["series"])
    assert 'id="resources"' in page
    assert 'id="recovery"' in page and "throughput recovery (s)" in page
    assert "indeterminate → resolved: the order is paid" in page


@pytest.mark.slow
def test_invalid_report_lists_every_anomaly_escaped(invalid_run: Path, tmp_path):
    page = build_report(invalid_run, out=tmp_path / "report.html").read_text()
    assert "INVALID" in page and "acknowledged-lost" in page and "money-created" in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert(1)" not in page
    assert "error_rate&lt;1%" in page and "missed" in page


@pytest.mark.slow
@pytest.mark.browser
@needs_chromium
def test_report_renders_in_headless_chromium(valid_run: Path, invalid_run: Path, tmp_path):
    for name, run in (("valid", valid_run), ("invalid", invalid_run)):
        page = build_report(run, out=tmp_path / f"{name}.html")
        dom, console = load_in_chromium(page, tmp_path, screenshot=tmp_path / f"{name}.png")
        # throughput, checkout latency, outcomes, users, errors, CPU and memory
        assert assert_rendered(dom, console) >= 7
        assert 'id="chart-resources-cpu"' in dom and 'id="chart-resources-rss"' in dom
        assert ("INVALID" if name == "invalid" else "VALID") in dom
        assert (tmp_path / f"{name}.png").stat().st_size > 10_000


@pytest.mark.slow
def test_compare_two_runs_one_valid_one_invalid(valid_run: Path, invalid_run: Path, tmp_path, capsys):
    out = tmp_path / "compare.html"
    code = main(["compare", str(valid_run), str(invalid_run), "--out", str(out)])
    printed = capsys.readouterr().out
    assert code == 0 and "VALID" in printed and "INVALID" in printed and str(out) in printed.replace("\n", "")
    page = out.read_text()
    cells = re.findall(r'data-row="verdict">\s*(\w+)', page)
    assert cells == ["VALID", "INVALID"]
    valid, invalid = summarize(valid_run), summarize(invalid_run)
    assert valid.valid is True and invalid.valid is False and invalid.anomaly_count == 3
    assert valid.checkout_p95 is not None and valid.rps > 0 and valid.recovery[0]["label"] == "pause stock"
    assert 0 < valid.success_rate < 1


@pytest.mark.slow
def test_real_consistency_runs_report_and_compare(tmp_path):
    """`shopbench consistency` on the reference shop, correct and with the lost-update flaw."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    runs = {}
    for name, flags in (("good", []), ("flawed", ["--flaw", "lost-update", "--stock", "20", "--credit", "5"])):
        out = tmp_path / name
        cmd = [sys.executable, "-c", SHOPBENCH, "consistency", "--items", "5", "--users", "60", "--orders", "120",
               "--concurrency", "60", "--seed", "3", "--out", str(out), *flags]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=180, env=env, cwd=tmp_path)
        assert done.returncode in (0, 1), done.stderr[-2000:]
        runs[name] = out
    assert summarize(runs["good"]).valid is True
    assert summarize(runs["flawed"]).valid is False
    for out in runs.values():
        page = build_report(out).read_text()
        assert "Checkout outcomes" in page and figures_of(page)["chart-throughput"]["series"]
    path, summaries = build_compare([runs["good"], runs["flawed"]], tmp_path / "cmp.html")
    buf = io.StringIO()
    Console(file=buf, width=160).print(table(summaries))
    assert "VALID" in buf.getvalue() and "INVALID" in buf.getvalue()
    if CHROMIUM is not None:
        for page in (runs["flawed"] / "report.html", path):
            assert_rendered(*load_in_chromium(page, tmp_path))

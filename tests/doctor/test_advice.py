"""The doctor's advice from its findings (pure): which runs are possible with which flags, and the
command lines it ends with."""

from __future__ import annotations

from shopbench.doctor.advice import commands, runs
from shopbench.doctor.examine import BATCH, PROBED, Endpoint, Findings
from shopbench.doctor.gateway import ConnectionLimit


def findings(bad: dict[str, str] | None = None, held: int | None = None, **kw) -> Findings:
    bad = bad or {}
    eps = [Endpoint(op, bad.get(op, "ok")) for op in PROBED] + [Endpoint(op, "not tried") for op in BATCH]
    gateway = None if held is None else ConnectionLimit(held + 32, held, "closed", 2048)
    return Findings(target={}, endpoints=eps, gateway=gateway, gateway_url="http://127.0.0.1:1",
                    urls_file="urls.json", **kw)


def by_name(f: Findings) -> dict:
    return {r.name: r for r in runs(f)}


def test_a_shop_without_remove_item_runs_seed000_with_the_flag() -> None:
    f = findings({"remove_item": "missing"}, held=448)
    r = by_name(f)
    assert r["stress --mix seed000"].ok and r["stress --mix seed000"].flags == ["--without remove_item"]
    assert r["consistency burst"].ok and r["stress --mix seed002"].ok
    assert r["stress --mix checkout-only"].ok is None  # batch_init is never tried
    assert commands(f) == [
        "shopbench consistency --urls urls.json --concurrency 201",
        "shopbench stress --urls urls.json --headless -u 50 -r 10 -t 60s --without remove_item"]


def test_a_shop_that_holds_every_connection_gets_the_seeds_burst() -> None:
    assert commands(findings())[0] == "shopbench consistency --urls urls.json"


def test_a_missing_checkout_leaves_only_the_reads_and_names_the_driver() -> None:
    f = findings({"checkout": "missing"})
    r = by_name(f)
    assert not r["consistency burst"].ok and "--driver" in r["consistency burst"].why
    assert "checkout (POST /orders/checkout/{order_id})" in r["stress --mix seed000"].why
    assert commands(f) == []
    assert commands(findings({"find_order": "broken"})) == []  # no verdict without reading the state back


def test_faults_and_services_files_reach_the_commands() -> None:
    f = findings(faults_file="kill.json", services_file="services.toml")
    assert all(cmd.endswith("--faults kill.json --services-file services.toml") for cmd in commands(f))

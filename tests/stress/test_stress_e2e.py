"""`shopbench stress` end to end against the reference shop: short headless runs, few users."""

import pytest

pytestmark = pytest.mark.slow

SIX = ["create-item-and-stock", "checkout-one-item", "checkout-two-items", "add-remove-add-checkout",
       "checkout-out-of-stock", "checkout-no-credit"]


def locust_totals(run):
    return run.manifest["locust"]


def test_seed000_scenarios_count_expected_successes_and_failures(stress):
    # Locust draws each iteration's scenario from its unseeded `random` (--seed does not reach it). At
    # the default weights create-item-and-stock is 1 in 20: missing from this machine's ~320 draws in
    # 1e-7 of runs, from the ~100 of a machine three times slower in 1 of 170. Equal weights: every
    # scenario is 1 in 6, and one is missing from 100 draws in 6 * (5/6)**100 = 7e-8 of runs.
    run = stress("-u", "6", "-r", "6", "-t", "4s", "--wait", "0-0.05", "--seed", "1", "--weights", "1,1,1,1,1,1")
    assert run.code == 0, run.output[-3000:]
    counts = run.by_scenario()
    seen = {s for s, _, _ in counts}
    assert set(SIX) <= seen
    for doomed in ("checkout-out-of-stock", "checkout-no-credit"):
        assert counts[(doomed, "checkout", "fail")] > 0
        assert counts[(doomed, "checkout", "ok")] == 0
    for good in ("checkout-one-item", "checkout-two-items", "add-remove-add-checkout"):
        assert counts[(good, "checkout", "ok")] > 0
        assert counts[(good, "checkout", "fail")] == 0
    assert counts[("add-remove-add-checkout", "remove_item", "ok")] > 0
    totals = locust_totals(run)
    # The doomed checkouts' 4xx are Locust successes: nothing failed, and Locust counted every op.
    assert totals["failures"] == 0
    assert totals["requests"] == len(run.ops()) > 0
    verdict = run.verdict
    assert verdict["valid"] is True and verdict["anomaly_count"] == 0
    assert verdict["slo"]["measured"]["errors"] == 0
    assert (run.path / "locust_stats.csv").exists() and (run.path / "locust.html").exists()


def test_seed002_user_types_against_the_reference_shop(stress):
    run = stress("--mix", "seed002", "-u", "8", "-r", "8", "-t", "4s", "--wait", "0-0.05", "--slo-preset", "seed002")
    assert run.code == 0, run.output[-3000:]
    scenarios = {s for s, _, _ in run.by_scenario()}
    assert {"inventory-manager", "race:order-processor", "monitor", "race:hot-item"} <= scenarios
    assert locust_totals(run)["failures"] == 0
    results = {r["slo"]: r for r in run.verdict["slo"]["results"]}
    assert set(results) == {"get:avg<200ms", "post:avg<500ms", "error_rate<1%", "overselling==0",
                            "negative_stock==0"}
    assert all(r["passed"] for r in results.values())


def test_probes_get_4xx_and_a_failed_slo_fails_the_run(stress):
    run = stress("--mix", "probes", "-u", "4", "-r", "4", "-t", "3s", "--wait", "0", "--slo", "all:p50<0.0001ms")
    assert run.code == 1, run.output[-3000:]
    ops = run.ops()
    probed = [o for o in ops if o["expect"] == "fail"]
    kinds = {o["scenario"] for o in probed}
    assert {"probe:unknown-id", "probe:negative-amount", "probe:non-numeric", "probe:huge-amount",
            "probe:overdraw", "probe:double-checkout"} <= kinds
    assert all(o["type"] == "fail" for o in probed)
    assert locust_totals(run)["failures"] == 0
    verdict = run.verdict
    assert verdict["anomaly_count"] == 0  # the shop is right ...
    assert verdict["slo"]["valid"] is False and "slo" in verdict["failed_sections"]  # ... the SLO is not met
    assert verdict["valid"] is False


def test_lost_update_shop_is_caught_under_the_hot_item_race(stress):
    run = stress("--mix", "hot-items", "--flaw", "lost-update", "-u", "20", "-r", "20", "-t", "4s", "--wait", "0")
    assert run.code == 1, run.output[-3000:]
    verdict = run.verdict
    assert verdict["valid"] is False
    types = {a["type"] for a in verdict["anomalies"]}
    assert types & {"stock_drift", "negative_stock"}
    assert verdict["slo"]["measured"]["overselling"] > 0


def test_correct_shop_passes_the_hot_item_race(stress):
    run = stress("--mix", "hot-items", "-u", "20", "-r", "20", "-t", "4s", "--wait", "0", "--slo", "error_rate<1%")
    assert run.code == 0, run.output[-3000:]
    counts = run.by_scenario()
    # The race really happened: some buyers got the item, some were refused for lack of stock.
    assert counts[("race:hot-item", "checkout", "ok")] > 0
    assert counts[("race:hot-item", "checkout", "fail")] > 0
    assert run.verdict["valid"] is True


def test_open_model_counts_dropped_arrivals_and_records_intended_starts(stress):
    run = stress("--arrival-rate", "300", "--max-users", "1", "-t", "3s", "--slo", "iteration:p99<60s")
    assert run.code == 0, run.output[-3000:]
    ops = run.ops()
    assert ops and all(o["intended"] is not None for o in ops)
    verdict = run.verdict
    assert verdict["load"]["dropped"] > 0
    assert verdict["slo"]["measured"]["latency_ms"]["iteration"]["count"] > 0


def test_own_locustfile_with_shopbench_user(stress):
    # Locust draws each task at random (overdraw is 1 in 4) and waits 0.1-0.5 s between them: 3 users
    # made ~28 draws, and none was an overdraw in 0.75**28 = 1 run in 3,000. 12 users make ~100 (1e-12).
    run = stress("-f", "examples/my_locustfile.py", "-u", "12", "-r", "12", "-t", "3s")
    assert run.code == 0, run.output[-3000:]
    scenarios = {o["scenario"] for o in run.ops()}
    assert {"gift-card", "race:gift-card-checkout", "overdraw"} <= scenarios
    assert run.verdict["valid"] is True


SLOW_IMPORT = """
import time

from locust import constant, task

from shopbench import ShopUser

started = time.monotonic()
while time.monotonic() - started < 3:  # a locustfile that computes for 3 s at import, never yielding
    pass


class Reader(ShopUser):
    wait_time = constant(0.05)

    @task
    def read(self):
        self.driver.create_user(expect="ok")
"""


def test_run_time_counts_from_the_start_of_the_load_not_from_before_the_locustfile_loaded(stress, tmp_path):
    """-t's timer is set once Locust has loaded the locustfile; gevent's cached "now" from before
    that would end the load early (here: at once)."""
    locustfile = tmp_path / "slow_import.py"
    locustfile.write_text(SLOW_IMPORT)
    run = stress("-f", str(locustfile), "-u", "1", "-r", "10", "-t", "2s")
    assert run.code == 0, run.output[-3000:]
    walls = [o["wall"] for o in run.ops()]
    assert walls and max(walls) - min(walls) >= 1.5, (len(walls), run.output[-2000:])

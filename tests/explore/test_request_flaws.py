"""The two flaws a late or lost answer exposes (issue 22.5), judged by the ledger: when the first
answer of every saga step on one service leaves later than the order service waits for it (the
step applied, its answer late), each flaw loses stock or money, and the correct shop stays whole."""

from __future__ import annotations

import pytest

from shopbench.runner.consistency import run_consistency
from shopbench.shop import RefShop
from shopbench.workload.consistency import ConsistencyConfig

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(("flaw", "service", "expected"), [
    (None, "stock", set()),
    ("abort-on-timeout", "stock", {"stock_drift"}),
    (None, "payment", set()),
    ("retry-new-txid", "payment", {"user_credit_drift"}),
])
def test_a_late_answer_exposes_the_flaw(tmp_path, flaw, service, expected):
    cfg = ConsistencyConfig(items=4, stock=10, price=2, users=6, credit=10, orders=6, concurrency=6, seed=1,
                            settle_timeout=10)
    extra = {"order": ["--attempt-timeout", "0.4"], service: ["--reply-delay", "0.8"]}
    with RefShop(tmp_path / "shop", flaw=flaw, extra_args=extra) as shop:
        result = run_consistency(cfg, target=shop.target, out=str(tmp_path / "run"))
    found = set(result.verdict["anomaly_types"])
    assert (found >= expected) if expected else not found, result.verdict["anomaly_types"]
    assert result.exit_code == (1 if expected else 0)

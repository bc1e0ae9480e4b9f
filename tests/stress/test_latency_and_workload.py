"""Latency percentiles (exact), workload configuration parsing and skewed choice."""

import random
from collections import Counter

import pytest

from shopbench.errors import UsageError
from shopbench.latency import nearest_rank, summarize
from shopbench.locust_plugin.config import build_config, parse_mix, parse_wait, parse_weights
from shopbench.workload.skew import Chooser, IdRange, Pool, Skew, parse_skew


def test_exact_percentiles_are_observed_values():
    values = list(range(1, 101))
    assert nearest_rank(values, 50) == 50
    assert nearest_rank(values, 95) == 95
    assert nearest_rank(values, 99.9) == 100
    s = summarize([3.0, 1.0, 2.0])
    assert (s["method"], s["min"], s["max"], s["p50"], s["avg"]) == ("exact", 1.0, 3.0, 2.0, 2.0)


def test_skew_parsing():
    assert parse_skew("uniform") == Skew()
    assert parse_skew("zipf:1.1") == Skew("zipf", 1.1)
    for bad in ("zipf:-1", "zipf:x", "pareto"):
        with pytest.raises(UsageError, match="--skew"):
            parse_skew(bad)


def test_zipf_concentrates_on_few_ids_uniform_does_not():
    rng = random.Random(7)
    zipf = Counter(Chooser(100, Skew("zipf", 1.2), rng).index() for _ in range(20000))
    uniform = Counter(Chooser(100, Skew(), rng).index() for _ in range(20000))
    assert zipf.most_common(1)[0][1] > 20000 * 0.15
    assert uniform.most_common(1)[0][1] < 20000 * 0.03


def test_pool_round_trips_with_ranges():
    pool = Pool(items=IdRange(100000), users=["a", "b"], hot_items=["h"])
    back = Pool.from_dict(pool.to_dict())
    assert back.items == IdRange(100000) and back.items[99999] == "99999" and list(back.users) == ["a", "b"]


def test_mix_weights_and_wait():
    assert parse_mix("seed002") == {"inventory": 30, "order": 50, "monitor": 20, "hot": 10}
    assert parse_mix("order:5,hot:1") == {"order": 5, "hot": 1}
    with pytest.raises(UsageError, match="--mix"):
        parse_mix("buyers:3")
    assert parse_weights("1,2,3,4,5,6", {"seed000": 1}) == ({"seed000": 1}, [1, 2, 3, 4, 5, 6])
    with pytest.raises(UsageError, match="6 weights"):
        parse_weights("1,2", {"seed000": 1})
    assert parse_weights("1,2", {"order": 5, "hot": 1}) == ({"order": 1, "hot": 2}, None)
    assert parse_wait("1-3") == (1.0, 3.0) and parse_wait("0") == (0.0, 0.0)
    with pytest.raises(UsageError, match="--wait"):
        parse_wait("3-1")


def test_build_config_checkout_only_mode():
    cfg = build_config(mode="checkout-only", init_items=10, init_users=10, init_orders=20)
    assert cfg.components == {"checkout-only": 1} and cfg.needs_batch and cfg.init_orders == 20
    with pytest.raises(UsageError, match="--mode"):
        build_config(mode="turbo")
    with pytest.raises(UsageError, match="--arrival-rate"):
        build_config(arrival_rate=0)


def test_config_from_a_master_round_trips_and_bad_fields_are_named():
    import pytest

    from shopbench.errors import UsageError
    from shopbench.locust_plugin.config import StressConfig

    cfg = build_config(mix="order:5,hot:1", wait="0-0.5", arrival_rate=30)
    assert StressConfig.from_dict({**cfg.to_dict(), "from_a_newer_master": 1}) == cfg
    with pytest.raises(UsageError) as err:
        StressConfig.from_dict({**cfg.to_dict(), "max_users": "many", "wait": [1]})
    assert "max_users" in str(err.value) and "wait" in str(err.value)

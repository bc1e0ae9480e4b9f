"""The ledger's parts on their own: amounts and baselines, the anomaly list and its words, checkout
packing, culprits. What the whole check does with them is in test_ledger.py and its neighbours."""

from __future__ import annotations

from shopbench.checker.ledger import amounts, anomalies, checkouts, culprits
from shopbench.checker.ledger.amounts import Batch, as_int, baseline, batch_index, price_of
from shopbench.checker.ledger.anomalies import Anomalies, counted, ids, interval


def test_as_int_reads_ints_and_decimal_strings_only():
    assert [as_int(v) for v in (7, 0, -3, "12", "0")] == [7, 0, -3, 12, 0]
    assert [as_int(v) for v in ("1.5", "-3", "", "x", None, 1.0, True, [1])] == [None] * 8


def test_batch_index_is_the_position_a_batch_init_gave():
    assert [batch_index(i) for i in ("0", "17", "9")] == [0, 17, 9]
    assert [batch_index(i) for i in ("007", "00", "u3", "", "-1", "1.0")] == [None] * 6


def test_baseline_of_a_batch_entity_replaces_not_adds_and_widens_when_indeterminate():
    table = {"1": [1, 2, 3, 4]}
    batches = [Batch(3, 5, True), Batch(2, 8, False)]
    assert baseline("1", table, batches) == [6, 10, 3, 4]  # 5 for sure, maybe re-created with 8; plus adds
    assert table == {"1": [1, 2, 3, 4]}  # the history's own entry is not changed
    assert baseline("2", table, batches) == [5, 5, 0, 0]  # only the first batch reached it
    assert baseline("0", {}, [Batch(2, 4, False)]) == [0, 4, 0, 0]  # maybe created with 4, maybe never
    assert baseline("0", {}, [Batch(2, 4, False), Batch(2, 6, True)]) == [6, 6, 0, 0]  # a definite one settles it
    assert baseline("0", {}, [Batch(2, 9, True), Batch(2, 4, False)]) == [4, 9, 0, 0]
    assert baseline("5", {}, batches) is None and baseline("5", table, []) is None
    assert baseline("1", table, []) is table["1"] and baseline("u1", {"u1": [2, 2, 0, 0]}, batches) == [2, 2, 0, 0]


def test_price_of_prefers_the_state_then_the_creation_then_the_latest_batch():
    batches = [Batch(3, 1, True, 7), Batch(2, 1, True, None), Batch(1, 1, True, 9)]
    assert price_of("0", {"0": {"price": 4}}, {"0": 5}, batches) == 4
    assert price_of("0", {"0": {"price": "4"}}, {"0": 5}, batches) == 5
    assert price_of("0", {}, {}, batches) == 9  # the latest batch covering it
    assert price_of("1", {}, {}, batches) == 7  # the batch of 2 has no price: the one before
    assert price_of("3", {}, {}, batches) is None and price_of("x", {}, {}, batches) is None


def test_anomalies_are_counted_by_type_and_listed_up_to_the_cap(monkeypatch):
    monkeypatch.setattr(anomalies, "MAX_LISTED", 2)
    found = Anomalies()
    for t in ("stock_drift", "stock_drift", "negative_stock"):
        found.add(t, f"a {t}", item_id="0")
    assert found.count == 3 and found.by_type == {"stock_drift": 2, "negative_stock": 1}
    assert found.listed == [{"type": "stock_drift", "message": "a stock_drift", "item_id": "0"}] * 2


def test_the_words_messages_share():
    assert ids(["a", "b"]) == "a, b" and ids([]) == ""
    assert ids(str(i) for i in range(5)) == "0, 1, 2, 3, 4"
    assert ids(str(i) for i in range(7)) == "0, 1, 2, 3, 4 and 2 more"
    assert [counted(n, "unit") for n in (0, 1, 2)] == ["0 units", "1 unit", "2 units"]
    assert counted(1, "order", "orders") == "1 order" and counted(3, "entry", "entries") == "3 entries"
    assert interval(3, 3) == "3" and interval(-1, 4) == "[-1, 4]"


def test_checkout_answers_pack_into_one_int_and_back():
    packed = sum(checkouts.pack(k) for k in ["ok"] * 3 + ["fail"] * 2 + ["info"] * 5)
    assert checkouts.unpack(packed) == (3, 2, 5)
    assert checkouts.unpack(checkouts.pack("info")) == (0, 0, 1) and checkouts.MASK == (1 << 21) - 1


def test_culprits_are_the_orders_past_the_budget_in_completion_order():
    done = {"a": 3.0, "b": 1.0, "c": 2.0}
    assert culprits.in_completion_order(["a", "b", "c", "z"], done) == ["b", "c", "a", "z"]
    assert culprits.in_completion_order(["y", "x"], {}) == ["x", "y"]
    size = {"a": 2, "b": 1, "c": 1}.get
    assert culprits.beyond(["a", "b", "c"], 2, size, done) == ["a"]  # b, c fit in 2; a is past it
    assert culprits.beyond(["a", "b", "c"], 0, size, done) == ["b", "c", "a"]
    assert culprits.beyond(["a", "b", "c"], 4, size, done) == []
    order = {"items": [["1", 2], ["2", 1], ["1", "3"]]}
    assert culprits.units(order, "1") == 5 and culprits.units(order, "9") == 0 and culprits.units({}, "1") == 0
    assert culprits.overspent(7, 2, 5, ["o"]) == {"overspent": 2, "budget": [2, 5], "charged_in_paid_orders": 7,
                                                  "overspent_orders": ["o"], "culprit_orders": ["o"]}


def test_describe_names_each_orders_answers_and_end():
    named = [{"order_id": "o1", "paid": False, "ok": 0, "fail": 2, "info": 1},
             {"order_id": "o2", "paid": True, "ok": 1, "fail": 0, "info": 0}]
    assert culprits.describe(named) == "o1 (4xx x2, indeterminate, unpaid), o2 (2xx, paid)"
    assert amounts.IN_LO == 0 and amounts.OUT_HI == 3

"""Populate's choice between batch_init and one call per entity, on a stand-in driver."""

from __future__ import annotations

import itertools

import pytest

from shopbench.driver import Outcome
from shopbench.errors import TargetError
from shopbench.workload.populate import populate_items, populate_users


class NoBatchShop:
    """Answers 404 to batch_init (as a shop without it would), everything else ok."""

    def __init__(self, batch_kind: str = "fail"):
        self.batch_kind = batch_kind
        self.calls: list[str] = []
        self._ids = itertools.count()

    def _out(self, kind: str, data=None) -> Outcome:
        return Outcome(kind, {"ok": 200, "fail": 404, "info": None}[kind], data, None if kind == "ok" else "no", 0.0)

    def batch_init_stock(self, n, stock, price):
        self.calls.append("batch_init_stock")
        return self._out(self.batch_kind)

    def batch_init_users(self, n, credit):
        self.calls.append("batch_init_users")
        return self._out(self.batch_kind)

    def create_item(self, price):
        self.calls.append("create_item")
        return self._out("ok", {"item_id": f"i{next(self._ids)}"})

    def add_stock(self, item_id, amount):
        self.calls.append("add_stock")
        return self._out("ok")

    def create_user(self):
        self.calls.append("create_user")
        return self._out("ok", {"user_id": f"u{next(self._ids)}"})

    def add_funds(self, user_id, amount):
        self.calls.append("add_funds")
        return self._out("ok")


def test_auto_falls_back_to_one_call_per_entity_on_4xx():
    shop = NoBatchShop()
    items, mode = populate_items(shop, 3, 2, 1, mode="auto", pool_size=2)
    users, umode = populate_users(shop, 2, 0, mode="auto", pool_size=2)
    assert mode == umode == "api" and len(items) == 3 and len(users) == 2
    assert shop.calls.count("add_stock") == 3 and "add_funds" not in shop.calls  # credit 0: nothing to add


def test_batch_mode_refused_is_a_clear_error():
    with pytest.raises(TargetError, match="--populate batch"):
        populate_items(NoBatchShop(), 3, 2, 1, mode="batch", pool_size=2)


def test_indeterminate_batch_stops_the_run():
    with pytest.raises(TargetError, match="may or may not have taken effect"):
        populate_users(NoBatchShop("info"), 3, 1, mode="auto", pool_size=2)


def test_api_mode_never_tries_batch():
    shop = NoBatchShop()
    populate_items(shop, 2, 1, 1, mode="api", pool_size=2)
    assert "batch_init_stock" not in shop.calls

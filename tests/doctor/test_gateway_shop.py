"""The test shop we did not write behaves as a course shop does: gunicorn with two workers per
service behind nginx, no removeItem route, no health route, no /openapi.json; started and ended by
process group, nothing left behind."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

import psutil
import pytest
from gateway_shop import GatewayShop


def status(url: str, method: str = "GET") -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method=method), timeout=5) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@pytest.mark.slow
def test_gateway_shop_serves_the_api_without_remove_item_and_leaves_nothing(nginx: str, tmp_path: Path) -> None:
    with GatewayShop(tmp_path) as shop:
        base = shop.gateway_url
        trees = {name: [proc.pid, *(c.pid for c in psutil.Process(proc.pid).children(recursive=True))]
                 for name, proc in shop.procs.items()}
        for name in ("order", "stock", "payment"):
            assert len(trees[name]) == 3, trees  # a gunicorn master and two workers
        code, body = status(base + "/stock/item/create/3", "POST")
        item = json.loads(body)["item_id"]
        assert status(f"{base}/stock/add/{item}/1", "POST")[0] == 200
        user = json.loads(status(base + "/payment/create_user", "POST")[1])["user_id"]
        assert status(f"{base}/payment/add_funds/{user}/3", "POST")[0] == 200
        order = json.loads(status(f"{base}/orders/create/{user}", "POST")[1])["order_id"]
        assert status(f"{base}/orders/addItem/{order}/{item}/1", "POST")[0] == 200
        assert status(f"{base}/orders/removeItem/{order}/{item}", "DELETE")[0] == 404
        assert status(f"{base}/orders/checkout/{order}", "POST")[0] == 200
        assert json.loads(status(f"{base}/orders/find/{order}")[1])["paid"] is True
        assert json.loads(status(f"{base}/payment/find_user/{user}")[1])["credit"] == 0
        assert status(f"{base}/orders/checkout/{order}", "POST")[0] == 400  # already paid
        assert status(base + "/openapi.json")[0] == 404
        assert status(base + "/health")[0] == 404
        assert json.loads(shop.urls_file.read_text()) == {"ORDER_URL": base, "PAYMENT_URL": base, "STOCK_URL": base}
    everything = [pid for pids in trees.values() for pid in pids]
    assert not [pid for pid in everything if psutil.pid_exists(pid)
                and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE]

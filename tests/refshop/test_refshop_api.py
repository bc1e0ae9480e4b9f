"""The docs/shop-api.md contract of the reference shop, endpoint by endpoint, including the 4xx cases."""

from __future__ import annotations

import subprocess
import sys

import pytest
from refshop_helpers import call, ok

pytestmark = pytest.mark.slow

BAD_NUMBERS = ["abc", "-1", "1.5", "+3", "1e3", "99999999999999", str(10**12 + 1), "%D9%A3", "%201"]


def expect_4xx(method: str, url: str) -> dict:
    status, body = call(method, url)
    assert 400 <= status < 500, f"{method} {url} -> {status} {body}"
    assert isinstance(body, dict) and isinstance(body.get("error"), str) and body["error"], body
    return body


def new_item(shop, price: int = 3, stock: int = 0) -> str:
    item_id = ok("POST", f"{shop.target.stock_url}/stock/item/create/{price}")["item_id"]
    if stock:
        ok("POST", f"{shop.target.stock_url}/stock/add/{item_id}/{stock}")
    return item_id


def new_user(shop, credit: int = 0) -> str:
    user_id = ok("POST", f"{shop.target.payment_url}/payment/create_user")["user_id"]
    if credit:
        ok("POST", f"{shop.target.payment_url}/payment/add_funds/{user_id}/{credit}")
    return user_id


def new_order(shop, user_id: str) -> str:
    return ok("POST", f"{shop.target.order_url}/orders/create/{user_id}")["order_id"]


def test_health_and_openapi(shop):
    for url in (shop.target.stock_url, shop.target.payment_url, shop.target.order_url):
        assert ok("GET", f"{url}/health") == {"status": "ok"}
        schema = ok("GET", f"{url}/openapi.json")
        assert schema["openapi"].startswith("3.") and schema["paths"]
    assert "/orders/checkout/{order_id}" in ok("GET", f"{shop.target.order_url}/openapi.json")["paths"]
    assert "/stock/find/{item_id}" in ok("GET", f"{shop.target.stock_url}/openapi.json")["paths"]
    assert "/payment/pay/{user_id}/{amount}" in ok("GET", f"{shop.target.payment_url}/openapi.json")["paths"]


def test_unknown_route_and_method_are_json_4xx(shop):
    for url in (shop.target.stock_url, shop.target.payment_url, shop.target.order_url):
        assert call("GET", f"{url}/no/such/route")[0] == 404
        expect_4xx("GET", f"{url}/no/such/route")
    expect_4xx("GET", f"{shop.target.stock_url}/stock/add/0/1")  # wrong method
    expect_4xx("POST", f"{shop.target.stock_url}/stock/item/create/")


def test_stock_endpoints(shop):
    s = shop.target.stock_url
    item = new_item(shop, price=7)
    assert ok("GET", f"{s}/stock/find/{item}") == {"stock": 0, "price": 7}
    ok("POST", f"{s}/stock/add/{item}/10")
    ok("POST", f"{s}/stock/subtract/{item}/4")
    assert ok("GET", f"{s}/stock/find/{item}") == {"stock": 6, "price": 7}
    expect_4xx("POST", f"{s}/stock/subtract/{item}/7")  # not enough stock: unchanged
    assert ok("GET", f"{s}/stock/find/{item}")["stock"] == 6
    ok("POST", f"{s}/stock/subtract/{item}/6")
    assert ok("GET", f"{s}/stock/find/{item}")["stock"] == 0
    for bad in BAD_NUMBERS:
        expect_4xx("POST", f"{s}/stock/item/create/{bad}")
        expect_4xx("POST", f"{s}/stock/add/{item}/{bad}")
        expect_4xx("POST", f"{s}/stock/subtract/{item}/{bad}")
    for unknown in ("nope", "0" * 70, "a%20b"):
        expect_4xx("GET", f"{s}/stock/find/{unknown}")
        expect_4xx("POST", f"{s}/stock/add/{unknown}/1")
        expect_4xx("POST", f"{s}/stock/subtract/{unknown}/1")
    assert ok("GET", f"{s}/stock/find/{item}")["stock"] == 0


def test_stock_batch_init_overwrites(shop):
    s = shop.target.stock_url
    assert "msg" in ok("POST", f"{s}/stock/batch_init/5/10/2")
    ok("POST", f"{s}/stock/subtract/4/3")
    assert ok("GET", f"{s}/stock/find/4") == {"stock": 7, "price": 2}
    ok("POST", f"{s}/stock/batch_init/5/20/3")
    assert ok("GET", f"{s}/stock/find/0") == {"stock": 20, "price": 3}
    assert ok("GET", f"{s}/stock/find/4") == {"stock": 20, "price": 3}
    expect_4xx("GET", f"{s}/stock/find/5")
    for bad in ("x/1/1", "1/x/1", "1/1/x", "-1/1/1", "10000001/1/1", "1/99999999999999/1"):
        expect_4xx("POST", f"{s}/stock/batch_init/{bad}")
    created = new_item(shop)
    assert not created.isdigit()  # created ids never collide with batch ids


def test_payment_endpoints(shop):
    p = shop.target.payment_url
    user = new_user(shop)
    assert ok("GET", f"{p}/payment/find_user/{user}") == {"user_id": user, "credit": 0}
    ok("POST", f"{p}/payment/add_funds/{user}/50")
    ok("POST", f"{p}/payment/pay/{user}/20")
    assert ok("GET", f"{p}/payment/find_user/{user}")["credit"] == 30
    expect_4xx("POST", f"{p}/payment/pay/{user}/31")  # not enough credit: unchanged
    assert ok("GET", f"{p}/payment/find_user/{user}")["credit"] == 30
    for bad in BAD_NUMBERS:
        expect_4xx("POST", f"{p}/payment/add_funds/{user}/{bad}")
        expect_4xx("POST", f"{p}/payment/pay/{user}/{bad}")
    for unknown in ("nope", "x" * 100):
        expect_4xx("GET", f"{p}/payment/find_user/{unknown}")
        expect_4xx("POST", f"{p}/payment/add_funds/{unknown}/1")
        expect_4xx("POST", f"{p}/payment/pay/{unknown}/1")
    assert ok("GET", f"{p}/payment/find_user/{user}")["credit"] == 30


def test_payment_batch_init(shop):
    p = shop.target.payment_url
    ok("POST", f"{p}/payment/batch_init/3/100")
    ok("POST", f"{p}/payment/pay/2/40")
    ok("POST", f"{p}/payment/batch_init/3/100")
    assert ok("GET", f"{p}/payment/find_user/2") == {"user_id": "2", "credit": 100}
    expect_4xx("GET", f"{p}/payment/find_user/3")
    for bad in ("x/1", "1/x", "-1/1", "1/-1", "1/1.5"):
        expect_4xx("POST", f"{p}/payment/batch_init/{bad}")


def test_order_lifecycle_and_both_add_item_forms(shop):
    o = shop.target.order_url
    a, b = new_item(shop, price=3, stock=10), new_item(shop, price=5, stock=10)
    user = new_user(shop, credit=100)
    order = new_order(shop, user)
    assert ok("GET", f"{o}/orders/find/{order}") == {
        "order_id": order, "paid": False, "items": [], "user_id": user, "total_cost": 0}
    ok("POST", f"{o}/orders/addItem/{order}/{a}")  # older form: quantity 1
    ok("POST", f"{o}/orders/addItem/{order}/{b}/2")
    ok("POST", f"{o}/orders/addItem/{order}/{a}/2")  # same item again: one line, quantity 3
    found = ok("GET", f"{o}/orders/find/{order}")
    assert sorted(map(tuple, found["items"])) == sorted([(a, 3), (b, 2)])
    assert found["total_cost"] == 3 * 3 + 2 * 5
    ok("DELETE", f"{o}/orders/removeItem/{order}/{b}")
    found = ok("GET", f"{o}/orders/find/{order}")
    assert found["items"] == [[a, 3]] and found["total_cost"] == 9
    ok("POST", f"{o}/orders/addItem/{order}/{b}")
    assert ok("GET", f"{o}/orders/find/{order}")["total_cost"] == 14
    assert ok("POST", f"{o}/orders/checkout/{order}")["paid"] is True
    found = ok("GET", f"{o}/orders/find/{order}")
    assert found["paid"] is True and found["total_cost"] == 14
    assert ok("GET", f"{shop.target.stock_url}/stock/find/{a}")["stock"] == 7
    assert ok("GET", f"{shop.target.stock_url}/stock/find/{b}")["stock"] == 9
    assert ok("GET", f"{shop.target.payment_url}/payment/find_user/{user}")["credit"] == 86
    # A paid order cannot be checked out again nor changed.
    expect_4xx("POST", f"{o}/orders/checkout/{order}")
    expect_4xx("POST", f"{o}/orders/addItem/{order}/{a}")
    expect_4xx("POST", f"{o}/orders/addItem/{order}/{a}/1")
    expect_4xx("DELETE", f"{o}/orders/removeItem/{order}/{a}")
    assert ok("GET", f"{shop.target.payment_url}/payment/find_user/{user}")["credit"] == 86
    assert ok("GET", f"{shop.target.stock_url}/stock/find/{a}")["stock"] == 7


def test_order_bad_input(shop):
    o = shop.target.order_url
    item = new_item(shop, price=1, stock=1)
    order = new_order(shop, new_user(shop))
    expect_4xx("POST", f"{o}/orders/create/no-such-user")
    for bad in BAD_NUMBERS + ["0"]:
        expect_4xx("POST", f"{o}/orders/addItem/{order}/{item}/{bad}")
    expect_4xx("POST", f"{o}/orders/addItem/{order}/no-such-item")
    expect_4xx("POST", f"{o}/orders/addItem/{order}/no-such-item/1")
    expect_4xx("POST", f"{o}/orders/addItem/no-such-order/{item}")
    expect_4xx("DELETE", f"{o}/orders/removeItem/{order}/{item}")  # not in the order
    expect_4xx("DELETE", f"{o}/orders/removeItem/no-such-order/{item}")
    expect_4xx("GET", f"{o}/orders/find/no-such-order")
    expect_4xx("POST", f"{o}/orders/checkout/no-such-order")
    for bad in ("x/1/1/1", "1/0/1/1", "1/1/0/1", "1/1/1/-1", "2000000/1/1/1"):
        expect_4xx("POST", f"{o}/orders/batch_init/{bad}")
    assert ok("GET", f"{o}/orders/find/{order}")["items"] == []


def test_checkout_failures_have_no_effect(shop):
    o, s, p = shop.target.order_url, shop.target.stock_url, shop.target.payment_url
    item, scarce = new_item(shop, price=2, stock=5), new_item(shop, price=2, stock=0)
    rich, poor = new_user(shop, credit=1000), new_user(shop, credit=3)
    # Out of stock on the second line: nothing happens.
    order = new_order(shop, rich)
    ok("POST", f"{o}/orders/addItem/{order}/{item}/2")
    ok("POST", f"{o}/orders/addItem/{order}/{scarce}/1")
    expect_4xx("POST", f"{o}/orders/checkout/{order}")
    assert ok("GET", f"{o}/orders/find/{order}")["paid"] is False
    assert ok("GET", f"{s}/stock/find/{item}")["stock"] == 5
    assert ok("GET", f"{p}/payment/find_user/{rich}")["credit"] == 1000
    # Out of credit: the reserved stock is given back.
    order = new_order(shop, poor)
    ok("POST", f"{o}/orders/addItem/{order}/{item}/2")
    expect_4xx("POST", f"{o}/orders/checkout/{order}")
    assert ok("GET", f"{o}/orders/find/{order}")["paid"] is False
    assert ok("GET", f"{s}/stock/find/{item}")["stock"] == 5
    assert ok("GET", f"{p}/payment/find_user/{poor}")["credit"] == 3
    # Fixed by removing a line: now it succeeds.
    ok("DELETE", f"{o}/orders/removeItem/{order}/{item}")
    ok("POST", f"{o}/orders/addItem/{order}/{item}/1")
    ok("POST", f"{o}/orders/checkout/{order}")
    assert ok("GET", f"{p}/payment/find_user/{poor}")["credit"] == 1
    assert ok("GET", f"{s}/stock/find/{item}")["stock"] == 4


def test_order_batch_init(shop):
    o = shop.target.order_url
    ok("POST", f"{shop.target.stock_url}/stock/batch_init/10/100/4")
    ok("POST", f"{shop.target.payment_url}/payment/batch_init/5/1000")
    assert "msg" in ok("POST", f"{o}/orders/batch_init/20/10/5/4")
    for i in range(20):
        found = ok("GET", f"{o}/orders/find/{i}")
        assert found["paid"] is False and found["total_cost"] == 8
        assert sum(q for _, q in found["items"]) == 2
        assert all(0 <= int(it) < 10 for it, _ in found["items"]) and 0 <= int(found["user_id"]) < 5
    ok("POST", f"{o}/orders/checkout/3")
    ok("POST", f"{o}/orders/batch_init/20/10/5/4")  # overwrites: order 3 is new and unpaid again
    assert ok("GET", f"{o}/orders/find/3")["paid"] is False
    expect_4xx("GET", f"{o}/orders/find/20")
    assert ok("GET", f"{o}/internal/order/pending")["pending"] == 0


@pytest.mark.parametrize("argv, needle", [
    (["stock", "--port", "1", "--db", "x.db", "--flaw", "bogus"], "unknown flaw 'bogus'"),
    (["order", "--port", "1", "--db", "x.db"], "--stock-url"),
    (["warehouse", "--port", "1", "--db", "x.db"], "invalid choice"),
])
def test_cli_rejects_bad_usage_with_exit_2(tmp_path, argv, needle):
    proc = subprocess.run([sys.executable, "-m", "refshop", *argv], cwd=tmp_path, capture_output=True, text=True,
                          timeout=30)
    assert proc.returncode == 2
    assert needle in proc.stderr and "Traceback" not in proc.stderr

"""Bad input never gets a 5xx; SIGTERM shuts a service down cleanly; data survives restarts."""

from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from refshop_helpers import call, ok

pytestmark = pytest.mark.slow

TEMPLATES = [
    ("stock", "POST", "/stock/item/create/{}"),
    ("stock", "POST", "/stock/batch_init/{}/{}/{}"),
    ("stock", "GET", "/stock/find/{}"),
    ("stock", "POST", "/stock/add/{}/{}"),
    ("stock", "POST", "/stock/subtract/{}/{}"),
    ("payment", "POST", "/payment/batch_init/{}/{}"),
    ("payment", "GET", "/payment/find_user/{}"),
    ("payment", "POST", "/payment/add_funds/{}/{}"),
    ("payment", "POST", "/payment/pay/{}/{}"),
    ("order", "POST", "/orders/create/{}"),
    ("order", "POST", "/orders/batch_init/{}/{}/{}/{}"),
    ("order", "GET", "/orders/find/{}"),
    ("order", "POST", "/orders/addItem/{}/{}/{}"),
    ("order", "POST", "/orders/addItem/{}/{}"),
    ("order", "DELETE", "/orders/removeItem/{}/{}"),
    ("order", "POST", "/orders/checkout/{}"),
]

# Mostly hostile, sometimes valid: existing ids, small numbers, and garbage of every kind.
segment = st.one_of(
    st.sampled_from(["0", "1", "2", "-1", "1.5", "1e9", "999999999999999999999", str(2**63), "nan", "true"]),
    st.integers(min_value=-(10**20), max_value=10**20).map(str),
    st.text(min_size=1, max_size=40),
)


@pytest.fixture(scope="module")
def populated(shop):
    t = shop.target
    ok("POST", f"{t.stock_url}/stock/batch_init/3/1000/1")
    ok("POST", f"{t.payment_url}/payment/batch_init/3/1000")
    ok("POST", f"{t.order_url}/orders/batch_init/3/3/3/1")
    return shop


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(template=st.sampled_from(TEMPLATES), args=st.lists(segment, min_size=4, max_size=4))
def test_no_input_gets_a_5xx(populated, template, args):
    service, method, path = template
    base = {"stock": populated.target.stock_url, "payment": populated.target.payment_url,
            "order": populated.target.order_url}[service]
    quoted = [urllib.parse.quote(a, safe="") for a in args]
    url = base + path.format(*quoted[: path.count("{}")])
    status, body = call(method, url)
    assert status < 500, (url, status, body)
    if status >= 400:
        assert isinstance(body, dict) and body.get("error"), (url, status, body)


@pytest.mark.parametrize("body", [b"", b"not json", b"[]", b'{"lines": 3}', b'{"lines": [["a"]]}',
                                  b'{"lines": [["0", -1]]}', b'{"lines": [["0", true]]}',
                                  b'{"lines": [["0", 1e3]]}', b'{"lines": [["0", 99999999999999999999999]]}'])
def test_internal_reserve_rejects_malformed_bodies(populated, body):
    req = urllib.request.Request(f"{populated.target.stock_url}/internal/stock/reserve/t-{hash(body)}",
                                 data=body, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            status = resp.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    assert status == 400


def test_sigterm_stops_each_service_cleanly_and_data_survives(make_shop):
    shop = make_shop()
    t = shop.target
    ok("POST", f"{t.stock_url}/stock/batch_init/2/10/3")
    ok("POST", f"{t.payment_url}/payment/batch_init/2/50")
    order = ok("POST", f"{t.order_url}/orders/create/1")["order_id"]
    ok("POST", f"{t.order_url}/orders/addItem/{order}/1/2")
    ok("POST", f"{t.order_url}/orders/checkout/{order}")
    for name in ("order", "stock", "payment"):
        # 20 s of grace, not the supervisor's 5: on a loaded machine a slow stop is still a clean one.
        assert shop.supervisor.terminate(name, timeout=20) is not None
        # Its last words prove it stopped by itself: one still running after the grace is SIGKILLed, silent.
        log = (shop.data_dir / "services" / f"{name}.log").read_text()
        assert f"refshop {name} stopped" in log and "Traceback" not in log
        shop.restart(name)
    for name in ("order", "stock", "payment"):  # and SIGKILL loses nothing acknowledged
        shop.kill(name)
        shop.restart(name)
    assert ok("GET", f"{t.stock_url}/stock/find/1") == {"stock": 8, "price": 3}
    assert ok("GET", f"{t.payment_url}/payment/find_user/1")["credit"] == 44
    assert ok("GET", f"{t.order_url}/orders/find/{order}")["paid"] is True
    assert call("POST", f"{t.order_url}/orders/checkout/{order}")[0] == 400

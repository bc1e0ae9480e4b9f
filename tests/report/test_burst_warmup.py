"""The consistency burst opens its connections before the start signal (issue 15): a thousand
simultaneous connects overflow a server's listen backlog and cost each dropped client a 1 s SYN
retransmit. Checked on a real reference shop."""

from __future__ import annotations

import psutil
import pytest

from shopbench.driver import GeventTransport, new_driver
from shopbench.shop import RefShop
from shopbench.workload.consistency import fire_checkouts


def established_to(port: int) -> int:
    return sum(1 for c in psutil.net_connections("tcp")
               if c.raddr and c.raddr.port == port and c.status == psutil.CONN_ESTABLISHED)


@pytest.mark.slow
def test_warm_opens_idle_connections_that_the_requests_reuse(tmp_path):
    with RefShop(tmp_path / "shop") as shop:
        port = int(shop.target.order_url.rsplit(":", 1)[1])
        transport = GeventTransport(shop.target, concurrency=300)
        try:
            assert transport.warm("order", 250, at_once=64) == 250
            assert established_to(port) >= 250
            # Requests take the warm connections: no new connection is opened for them.
            ops = []
            drivers = {}

            def make_driver(process: str):
                drivers[process] = new_driver(transport, ops.append, process)
                return drivers[process]

            assert fire_checkouts(make_driver, [f"no-such-order-{i}" for i in range(250)], 250) == 250
            assert len(ops) == 250 and all(op.type == "fail" for op in ops)  # unknown orders: a 4xx each
            assert established_to(port) <= 300
        finally:
            transport.close()


@pytest.mark.slow
def test_warm_against_nothing_listening_opens_nothing_and_does_not_raise(tmp_path):
    with RefShop(tmp_path / "shop") as shop:
        target = shop.target
    transport = GeventTransport(target, timeout=1.0, concurrency=10)  # the shop is stopped now
    try:
        assert transport.warm("order", 10) == 0
    finally:
        transport.close()

"""The reference shop's own bookkeeping: a failed COMMIT does not leave the shared connection inside
a transaction, and an order whose saga is unfinished in the database cannot change its lines."""

import sqlite3
from types import SimpleNamespace

import pytest

from refshop.common import ApiError, tx
from refshop.order import Orders


def test_a_failed_commit_rolls_back_and_the_connection_stays_usable():
    conn = sqlite3.connect(":memory:", isolation_level=None)
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("CREATE TABLE parent (id INTEGER PRIMARY KEY)")
    conn.execute("CREATE TABLE child (id INTEGER, parent INTEGER REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED)")
    with pytest.raises(sqlite3.IntegrityError):  # the deferred check fails at COMMIT, not at the INSERT
        with tx(conn) as c:
            c.execute("INSERT INTO child VALUES (1, 42)")
    assert not conn.in_transaction
    with tx(conn) as c:  # the next write works (it used to fail: "cannot start a transaction within a transaction")
        c.execute("INSERT INTO parent VALUES (1)")
    assert conn.execute("SELECT count(*) FROM child").fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM parent").fetchone()[0] == 1


def test_an_order_with_a_started_saga_is_not_modifiable_even_when_no_task_drives_it(tmp_path):
    orders = Orders(SimpleNamespace(db=str(tmp_path / "order.db"), stock_url="http://127.0.0.1:1",
                                    payment_url="http://127.0.0.1:1", checkout_timeout=1.0, step_delay=0.0,
                                    flaws=[]))
    with tx(orders.conn) as c:
        c.execute("INSERT INTO orders (id, user_id, paid, items, total_cost) VALUES ('o1', 'u1', 0, '[]', 0)")
        c.execute("INSERT INTO orders (id, user_id, paid, items, total_cost) VALUES ('o2', 'u1', 0, '[]', 0)")
        # o1's driving task raised (a bug, the database failing): it left `active`, the saga stays started
        c.execute("INSERT INTO sagas (txid, order_id, user_id, lines, amount, state, created, updated) "
                  "VALUES ('t1', 'o1', 'u1', '[]', 0, 'started', 0, 0)")
    assert orders.active == {}
    with pytest.raises(ApiError) as err:
        orders._modifiable("o1")
    assert err.value.status == 409
    assert orders._modifiable("o2") == ([], 0)

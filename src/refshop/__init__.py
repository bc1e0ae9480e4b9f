"""refshop: the reference order/stock/payment shop that shopbench tests first.

Three services, each its own OS process with its own SQLite database (WAL):

* ``stock``   -- items, their stock and price;
* ``payment`` -- users and their credit;
* ``order``   -- orders, and checkout as a saga with a durable log in the order database.

Run one with ``python -m refshop SERVICE --port P --db FILE [...]`` (see ``python -m refshop -h``).
shopbench never imports this package: it starts it as processes and talks HTTP to it.
"""

SERVICES = ("stock", "payment", "order")
FLAWS = ("lost-update", "no-compensation", "no-recovery", "double-charge", "early-ack", "oversell",
         "abort-on-timeout", "retry-new-txid")

__all__ = ["FLAWS", "SERVICES"]

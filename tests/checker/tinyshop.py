"""A tiny third-party shop: the shop API routes in memory, one lock, nothing else.

It is not the reference shop (no /openapi.json, no /internal/ routes), so it shows what shopbench
does with a user's shop. It records every request path, and it can be made wrong in the ways the
settle and unknown-verdict tests need:

  fail_finds    every find answers 500 (the final state cannot be read)
  stock_lag     a checkout answers 2xx at once, and its stock subtraction lands this many seconds
                later (a shop that is consistent only eventually: the settle reads must wait)
"""

from __future__ import annotations

import http.server
import itertools
import json
import threading
import time
from typing import Any


class TinyShop:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.items: dict[str, list[int]] = {}  # id -> [stock, price]
        self.users: dict[str, int] = {}
        self.orders: dict[str, dict[str, Any]] = {}
        self.pending: dict[str, int] = {}  # stock sold whose subtraction has not landed yet
        self.paths: list[str] = []
        self.fail_finds = False
        self.stock_lag = 0.0
        self._ids = itertools.count()
        shop = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body leave at once: reads take ms, not 40 ms each

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                shop.paths.append(self.path)
                status, body = shop.handle(self.command, self.path.strip("/").split("/"))
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            do_GET = do_POST = do_DELETE = _answer

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> TinyShop:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def new_id(self) -> str:
        return f"t{next(self._ids)}"

    def handle(self, method: str, p: list[str]) -> tuple[int, Any]:  # noqa: C901 - a route table
        try:
            with self.lock:
                return self._route(method, p)
        except (KeyError, ValueError, IndexError):
            return 404, {"error": "not found"}

    def _route(self, method: str, p: list[str]) -> tuple[int, Any]:
        if p[0] == "stock":
            if p[1] == "find":
                if self.fail_finds:
                    return 500, {"error": "database unavailable"}
                stock, price = self.items[p[2]]
                return 200, {"stock": stock, "price": price}
            if p[1] == "item":
                iid = self.new_id()
                self.items[iid] = [0, int(p[3])]
                return 200, {"item_id": iid}
            if p[1] == "batch_init":
                for i in range(int(p[2])):
                    self.items[str(i)] = [int(p[3]), int(p[4])]
                return 200, {"msg": "ok"}
            if p[1] == "add":
                self.items[p[2]][0] += int(p[3])
                return 200, {}
            if p[1] == "subtract":
                if self.items[p[2]][0] < int(p[3]):
                    return 400, {"error": "not enough stock"}
                self.items[p[2]][0] -= int(p[3])
                return 200, {}
        if p[0] == "payment":
            if p[1] == "find_user":
                if self.fail_finds:
                    return 500, {"error": "database unavailable"}
                return 200, {"user_id": p[2], "credit": self.users[p[2]]}
            if p[1] == "create_user":
                uid = self.new_id()
                self.users[uid] = 0
                return 200, {"user_id": uid}
            if p[1] == "batch_init":
                for i in range(int(p[2])):
                    self.users[str(i)] = int(p[3])
                return 200, {"msg": "ok"}
            if p[1] == "add_funds":
                self.users[p[2]] += int(p[3])
                return 200, {}
            if p[1] == "pay":
                if self.users[p[2]] < int(p[3]):
                    return 400, {"error": "not enough credit"}
                self.users[p[2]] -= int(p[3])
                return 200, {}
        if p[0] == "orders":
            if p[1] == "find":
                if self.fail_finds:
                    return 500, {"error": "database unavailable"}
                o = self.orders[p[2]]
                return 200, {"order_id": p[2], "paid": o["paid"], "items": [[i, q] for i, q in o["lines"].items()],
                             "user_id": o["user_id"], "total_cost": self._cost(o)}
            if p[1] == "create":
                self.users[p[2]]  # noqa: B018 - 404 for an unknown user
                oid = self.new_id()
                self.orders[oid] = {"user_id": p[2], "lines": {}, "paid": False}
                return 200, {"order_id": oid}
            if p[1] == "addItem":
                o, iid = self.orders[p[2]], p[3]
                self.items[iid]  # noqa: B018
                if o["paid"]:
                    return 400, {"error": "paid"}
                o["lines"][iid] = o["lines"].get(iid, 0) + (int(p[4]) if len(p) > 4 else 1)
                return 200, {}
            if p[1] == "removeItem":
                del self.orders[p[2]]["lines"][p[3]]
                return 200, {}
            if p[1] == "checkout":
                return self._checkout(p[2])
        return 404, {"error": "no such route"}

    def _cost(self, order: dict[str, Any]) -> int:
        return sum(q * self.items[i][1] for i, q in order["lines"].items())

    def _checkout(self, oid: str) -> tuple[int, Any]:
        o = self.orders[oid]
        if o["paid"]:
            return 400, {"error": "already paid"}
        cost = self._cost(o)
        if (any(self.items[i][0] - self.pending.get(i, 0) < q for i, q in o["lines"].items())
                or self.users[o["user_id"]] < cost):
            return 400, {"error": "out of stock or credit"}
        self.users[o["user_id"]] -= cost
        o["paid"] = True
        lines = dict(o["lines"])
        if self.stock_lag:
            for i, q in lines.items():  # reserved now (no oversell), visible in stock only later
                self.pending[i] = self.pending.get(i, 0) + q
            threading.Thread(target=self._late_subtract, args=(lines,), daemon=True).start()
        else:
            for i, q in lines.items():
                self.items[i][0] -= q
        return 200, {"order_id": oid, "paid": True}

    def _late_subtract(self, lines: dict[str, int]) -> None:
        time.sleep(self.stock_lag)
        with self.lock:
            for i, q in lines.items():
                self.items[i][0] -= q
                self.pending[i] -= q

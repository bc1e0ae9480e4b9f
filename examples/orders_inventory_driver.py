"""A Python driver for the "Orders & Inventory" API (tests/api/orders_app.py): the same shop as
examples/orders_inventory.toml, for when a mapping file is not enough.

    shopbench consistency --urls urls.json --driver examples/orders_inventory_driver.py:OrdersInventoryDriver

Each operation goes through `self.call(f, service, method, path, args, expect, json=..., fields=...)`:
`f` is the shopbench operation it performs, `args` what the history records, `fields` where our
fields are in the answer (docs/shop-api.md lists the fields each operation must return). This shop
takes an order with its lines in one request, so orders are carts (`shopbench.CARTS`, one store per
process, UUID ids the shop keeps) until the checkout: two requests recorded as one operation.
"""

from typing import Any

from shopbench import CARTS, Outcome, RestDriver


class OrdersInventoryDriver(RestDriver):
    # -- products and customers: one request each, JSON bodies, answers renamed ------------------
    def create_item(self, price: Any, expect: str | None = None) -> Outcome:
        return self.call("create_item", "stock", "POST", "/products", {"price": price}, expect,
                         json={"price": price}, fields={"item_id": "id"})

    def add_stock(self, item_id: Any, amount: Any, expect: str | None = None) -> Outcome:
        return self.call("add_stock", "stock", "POST", f"/products/{item_id}/restock",
                         {"item_id": item_id, "amount": amount}, expect, json={"quantity": amount})

    def subtract_stock(self, item_id: Any, amount: Any, expect: str | None = None) -> Outcome:
        return self.call("subtract_stock", "stock", "POST", f"/products/{item_id}/take",
                         {"item_id": item_id, "amount": amount}, expect, json={"quantity": amount})

    def find_item(self, item_id: Any, expect: str | None = None) -> Outcome:
        return self.call("find_item", "stock", "GET", f"/products/{item_id}", {"item_id": item_id}, expect)

    def create_user(self, expect: str | None = None) -> Outcome:
        return self.call("create_user", "payment", "POST", "/customers", {}, expect, fields={"user_id": "id"})

    def add_funds(self, user_id: Any, amount: Any, expect: str | None = None) -> Outcome:
        return self.call("add_funds", "payment", "POST", f"/customers/{user_id}/deposit",
                         {"user_id": user_id, "amount": amount}, expect, json={"amount": amount})

    def pay(self, user_id: Any, amount: Any, expect: str | None = None) -> Outcome:
        return self.call("pay", "payment", "POST", f"/customers/{user_id}/charge",
                         {"user_id": user_id, "amount": amount}, expect, json={"amount": amount})

    def find_user(self, user_id: Any, expect: str | None = None) -> Outcome:
        return self.call("find_user", "payment", "GET", f"/customers/{user_id}", {"user_id": user_id}, expect,
                         fields={"credit": "balance"})

    # -- orders: a cart until the checkout -------------------------------------------------------
    def create_order(self, user_id: Any, expect: str | None = None) -> Outcome:
        with self.operation("create_order", {"user_id": user_id}, expect) as op:
            op.result({"order_id": CARTS.open(user_id)})  # recorded, nothing sent
        return op.outcome

    def add_item(self, order_id: Any, item_id: Any, quantity: Any = 1, expect: str | None = None) -> Outcome:
        with self.operation("add_item", {"order_id": order_id, "item_id": item_id, "quantity": quantity}, expect) as op:
            if CARTS.add(order_id, item_id, int(quantity)):
                op.result({})
            else:
                op.refuse(f"not sent: order {order_id} is not an open cart (unknown, or checked out)")
        return op.outcome

    def remove_item(self, order_id: Any, item_id: Any, expect: str | None = None) -> Outcome:
        with self.operation("remove_item", {"order_id": order_id, "item_id": item_id}, expect) as op:
            if CARTS.remove(order_id, item_id):
                op.result({})
            else:
                op.refuse(f"not sent: order {order_id} has no open line of item {item_id}")
        return op.outcome

    def checkout(self, order_id: Any, expect: str | None = None) -> Outcome:
        cart = CARTS.get(order_id)
        with self.operation("checkout", {"order_id": order_id}, expect) as op:
            placed = True
            if cart is not None:  # not sent yet: place it with its lines (no stock or money moves yet)
                CARTS.close(order_id)
                lines = [{"product_id": item, "quantity": qty} for item, qty in cart.lines.items()]
                placed = op.send("order", "POST", "/orders", effect=False,
                                 json={"id": str(order_id), "customer_id": cart.user_id, "lines": lines}).ok
            if placed:
                op.send("order", "POST", f"/orders/{order_id}/pay", answer=True)
        return op.outcome

    def find_order(self, order_id: Any, expect: str | None = None) -> Outcome:
        return self.call("find_order", "order", "GET", f"/orders/{order_id}", {"order_id": order_id}, expect,
                         fields={"user_id": "customer_id", "items": "lines", "total_cost": "total"})

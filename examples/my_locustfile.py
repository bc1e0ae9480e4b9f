"""Your own Locust scenarios on shopbench: every operation recorded, checked and reported.

    shopbench stress -f examples/my_locustfile.py --headless -u 10 -r 5 -t 30s            # embedded shop
    shopbench stress -f examples/my_locustfile.py --urls urls.json --headless -u 10 -t 30s

or with plain Locust (history in $SHOPBENCH_HISTORY, default ops.jsonl; no verdict):

    SHOPBENCH_URLS=urls.json locust -f examples/my_locustfile.py

`ShopUser` gives each simulated user `self.driver` (the shop's REST operations, each returning an
Outcome with kind "ok", "fail" or "info") and `self.ctx` (a seeded random source and the pool the
runner populated). Pass `expect="fail"` where a 4xx is the right answer: Locust then counts the 4xx
as a success and a 2xx as a failure ("expected 4xx, got 200"), and the ledger checker flags it.
"""

from locust import between, task

from shopbench import ShopUser


class GiftCardBuyer(ShopUser):
    wait_time = between(0.1, 0.5)

    def on_start(self):
        super().on_start()
        user = self.driver.create_user(expect="ok")
        self.user_id = user.data["user_id"] if user.ok else None
        if self.user_id:
            self.driver.add_funds(self.user_id, 100, expect="ok")

    @task(3)
    def buy_one(self):
        self.driver.scenario = "gift-card"
        item = self.driver.create_item(price=5, expect="ok")
        if not (item.ok and self.user_id):
            return
        item_id = item.data["item_id"]
        self.driver.add_stock(item_id, 1, expect="ok")
        order = self.driver.create_order(self.user_id, expect="ok")
        if order.ok and self.driver.add_item(order.data["order_id"], item_id, 1, expect="ok").ok:
            # Credit may run out after enough purchases: either definite answer is right.
            self.driver.scenario = "race:gift-card-checkout"
            self.driver.checkout(order.data["order_id"])

    @task(1)
    def overdraw(self):
        self.driver.scenario = "overdraw"
        if self.user_id:
            self.driver.pay(self.user_id, 10**9, expect="fail")

"""A driver for a shop whose API differs from docs/shop-api.md: here, an older course edition whose
`addItem` takes no quantity (one unit per call).

    shopbench consistency --urls urls.json --driver examples/wdm2023_driver.py:Wdm2023Driver
    shopbench stress --urls urls.json --driver examples/wdm2023_driver.py:Wdm2023Driver --headless -t 30s

Override the operations your API does differently, each through `self.call(f, service, method,
path, args, expect)`: `f` is the shopbench operation it performs (the checker and the reports know
operations by these names), `service` is "order", "stock" or "payment" (which base URL of urls.json),
and `args` is what the history records. Everything else, workloads, checker, faults, reports, works
unchanged.
"""

from typing import Any

from shopbench.driver import Outcome, RestDriver


class Wdm2023Driver(RestDriver):
    def add_item(self, order_id: Any, item_id: Any, quantity: Any = 1, expect: str | None = None) -> Outcome:
        if quantity != 1:
            # This API adds one unit per call: n units are n calls, each recorded as it happened.
            outcome = self.add_item(order_id, item_id, 1, expect)
            for _ in range(int(quantity) - 1):
                if outcome.kind != "ok":
                    break
                outcome = self.add_item(order_id, item_id, 1, expect)
            return outcome
        return self.call("add_item", "order", "POST", f"/orders/addItem/{order_id}/{item_id}",
                         {"order_id": order_id, "item_id": item_id, "quantity": 1, "api": "wdm2023"}, expect)

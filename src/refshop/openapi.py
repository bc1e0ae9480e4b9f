"""Hand-written OpenAPI 3 descriptions of the three services (served at GET /openapi.json)."""

from __future__ import annotations

import re
from typing import Any

_ERR = {"description": "a definite failure with no effect", "content": {"application/json": {"schema": {
    "type": "object", "properties": {"error": {"type": "string"}}, "required": ["error"]}}}}
_INDET = {"description": "indeterminate: the outcome is not known yet (it will be completed or compensated)"}

_INT_PARAMS = {"price", "n", "starting_stock", "item_price", "amount", "starting_money", "n_items", "n_users",
               "quantity"}

# (method, path, summary, success description)
ROUTES: dict[str, list[tuple[str, str, str, str]]] = {
    "stock": [
        ("post", "/stock/item/create/{price}", "Create an item with stock 0", '{"item_id": str}'),
        ("post", "/stock/batch_init/{n}/{starting_stock}/{item_price}", "Create or overwrite items 0..n-1",
         '{"msg": str}'),
        ("get", "/stock/find/{item_id}", "Stock and price of an item", '{"stock": int, "price": int}'),
        ("post", "/stock/add/{item_id}/{amount}", "Add stock", '{"item_id": str, "stock": int}'),
        ("post", "/stock/subtract/{item_id}/{amount}", "Subtract stock (4xx and no change if not enough)",
         '{"item_id": str, "stock": int}'),
        ("post", "/internal/stock/reserve/{txid}", "Saga step: subtract every line, idempotent by txid",
         '{"result": "applied" | "rejected", "reason": str}'),
        ("post", "/internal/stock/release/{txid}", "Saga compensation: give a reservation back",
         '{"result": "released" | "rejected"}'),
    ],
    "payment": [
        ("post", "/payment/create_user", "Create a user with credit 0", '{"user_id": str}'),
        ("post", "/payment/batch_init/{n}/{starting_money}", "Create or overwrite users 0..n-1", '{"msg": str}'),
        ("get", "/payment/find_user/{user_id}", "A user's credit", '{"user_id": str, "credit": int}'),
        ("post", "/payment/add_funds/{user_id}/{amount}", "Add credit", '{"user_id": str, "credit": int}'),
        ("post", "/payment/pay/{user_id}/{amount}", "Charge a user (4xx and no change if not enough credit)",
         '{"user_id": str, "credit": int}'),
        ("post", "/internal/payment/charge/{txid}", "Saga step: charge a user, idempotent by txid",
         '{"result": "applied" | "rejected", "reason": str}'),
    ],
    "order": [
        ("post", "/orders/create/{user_id}", "Create an empty order for a user", '{"order_id": str}'),
        ("post", "/orders/batch_init/{n}/{n_items}/{n_users}/{item_price}",
         "Create or overwrite orders 0..n-1, each with two random items of a random user", '{"msg": str}'),
        ("get", "/orders/find/{order_id}", "An order",
         '{"order_id": str, "paid": bool, "items": [[item_id, qty]], "user_id": str, "total_cost": int}'),
        ("post", "/orders/addItem/{order_id}/{item_id}/{quantity}", "Add quantity of an item", '{"msg": str}'),
        ("post", "/orders/addItem/{order_id}/{item_id}", "Add one of an item (older form)", '{"msg": str}'),
        ("delete", "/orders/removeItem/{order_id}/{item_id}", "Remove an item's line", '{"msg": str}'),
        ("post", "/orders/checkout/{order_id}",
         "Pay an order: subtract the stock of every line and charge the user, all or nothing",
         '{"order_id": str, "paid": true}'),
        ("get", "/internal/order/pending", "Number of unfinished checkouts (sagas)", '{"pending": int}'),
    ],
}


def schema(service: str) -> dict[str, Any]:
    paths: dict[str, Any] = {
        "/health": {"get": {"summary": "Ready", "responses": {"200": {"description": '{"status": "ok"}'}}}},
        "/openapi.json": {"get": {"summary": "This document", "responses": {"200": {"description": "OpenAPI"}}}},
    }
    for method, path, summary, ok in ROUTES[service]:
        params = [
            {"name": p, "in": "path", "required": True,
             "schema": {"type": "integer", "minimum": 0, "maximum": 10**12} if p in _INT_PARAMS else {"type": "string"}}
            for p in re.findall(r"{(\w+)}", path)
        ]
        responses: dict[str, Any] = {"200": {"description": ok}, "4XX": _ERR}
        if path.startswith(("/orders/checkout", "/orders/create", "/orders/addItem")):
            responses["503"] = _INDET
        paths.setdefault(path, {})[method] = {"summary": summary, "parameters": params, "responses": responses}
    return {
        "openapi": "3.0.3",
        "info": {"title": f"refshop {service} service", "version": "0.1.0",
                 "description": "Reference shop of shopbench; see docs/shop-api.md in the shopbench repository. "
                                "Paths under /internal/ are not part of the shop API."},
        "paths": paths,
    }

"""A first mapping file drafted from a shop's OpenAPI document, for the user to read and edit.

Each shopbench operation is matched to the route whose method, path words and parameters fit it
best (a find is a GET with one id in the path, a restock a POST on an item path that says add,
restock or stock, ...); request bodies are filled from the schema's property names (`price`,
`quantity`, `customer_id`, ...), answer fields from the response schema when it has one. What it
could not match or name is left as a `# TODO` comment: a draft is never used as it is without a
read, and `load_mapping` validates it like any mapping file.
"""

from __future__ import annotations

import json
import re
import urllib.request
from pathlib import Path
from typing import Any

from shopbench.driver.mapping import ARGS
from shopbench.errors import UsageError

METHODS = ("get", "post", "put", "patch", "delete")
ITEM = {"item", "items", "product", "products", "stock", "inventory", "sku", "skus", "article", "articles"}
USER = {"user", "users", "customer", "customers", "account", "accounts", "payment", "wallet", "wallets"}
ORDER = {"order", "orders", "cart", "carts", "basket", "baskets"}
# operation -> (methods, entity words, action words, path ids it takes)
RULES: dict[str, tuple[tuple[str, ...], set[str], set[str], int]] = {
    "create_item": (("post",), ITEM, {"create", "new"}, 0),
    "add_stock": (("post", "put", "patch"), ITEM, {"add", "restock", "replenish", "increase", "stock"}, 1),
    "subtract_stock": (("post", "put", "patch"), ITEM, {"subtract", "take", "remove", "decrease", "reserve"}, 1),
    "find_item": (("get",), ITEM, {"find", "get"}, 1),
    "create_user": (("post",), USER, {"create", "new", "create_user"}, 0),
    "add_funds": (("post", "put", "patch"), USER, {"add_funds", "deposit", "funds", "topup", "top-up", "credit"}, 1),
    "pay": (("post", "put", "patch"), USER, {"pay", "charge", "withdraw", "debit"}, 1),
    "find_user": (("get",), USER, {"find_user", "find", "get"}, 1),
    "create_order": (("post",), ORDER, {"create", "new"}, 0),
    "add_item": (("post", "put", "patch"), ORDER, {"additem", "add", "items", "lines", "item", "line"}, 2),
    "remove_item": (("delete", "post"), ORDER, {"removeitem", "remove", "items", "lines", "item", "line"}, 2),
    "checkout": (("post", "put", "patch"), ORDER, {"checkout", "pay", "confirm", "submit", "place"}, 1),
    "find_order": (("get",), ORDER, {"find", "get"}, 1),
}
IDS = {"stock": "item_id", "payment": "user_id", "order": "order_id"}
BODY_NAMES = {  # a request property -> our argument, by operation kind
    "price": "price", "item_price": "price", "unit_price": "price",
    "amount": "amount", "quantity": "amount", "qty": "amount", "count": "amount", "funds": "amount", "credit": "amount",
    "user_id": "user_id", "customer_id": "user_id", "customer": "user_id", "user": "user_id", "account_id": "user_id",
    "item_id": "item_id", "product_id": "item_id", "sku": "item_id", "product": "item_id",
}
ANSWER_NAMES: dict[str, tuple[str, ...]] = {
    "item_id": ("item_id", "id", "product_id"), "user_id": ("user_id", "customer_id", "id"),
    "order_id": ("order_id", "id"), "stock": ("stock", "available", "quantity", "in_stock"),
    "price": ("price", "unit_price"), "credit": ("credit", "balance", "funds"),
    "paid": ("paid", "is_paid"), "items": ("items", "lines", "products", "order_lines"),
    "total_cost": ("total_cost", "total", "amount", "total_price"),
}
ANSWERS = {"create_item": ("item_id",), "create_user": ("user_id",), "create_order": ("order_id",),
           "find_item": ("stock", "price"), "find_user": ("credit",),
           "find_order": ("paid", "items", "user_id", "total_cost")}
_SERVICE = {"create_item": "stock", "add_stock": "stock", "subtract_stock": "stock", "find_item": "stock",
            "create_user": "payment", "add_funds": "payment", "pay": "payment", "find_user": "payment"}


def read_openapi(where: str) -> dict[str, Any]:
    """The OpenAPI document (JSON) at a URL or in a file; UsageError for anything else."""
    try:
        if re.match(r"https?://", where):
            with urllib.request.urlopen(where, timeout=10) as resp:  # noqa: S310 - a URL the user gave
                text = resp.read().decode()
        else:
            text = Path(where).read_text()
        doc = json.loads(text)
    except (OSError, ValueError) as exc:
        raise UsageError(f"--openapi {where}: cannot read an OpenAPI JSON document ({exc}).") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("paths"), dict):
        raise UsageError(f"--openapi {where}: no \"paths\" table; is it an OpenAPI document?")
    return doc


def _words(path: str) -> set[str]:
    return {w.lower() for w in re.split(r"[/_{}\-.]+", path) if w and not w.startswith("{")} | \
        {w.lower() for w in path.strip("/").split("/") if not w.startswith("{")}


def _ids(path: str) -> list[str]:
    return re.findall(r"\{([^}]+)\}", path)


def _schema(doc: dict[str, Any], schema: Any) -> dict[str, Any]:
    """A schema with $ref resolved (once per level), or {}."""
    seen = 0
    while isinstance(schema, dict) and "$ref" in schema and seen < 10:
        node: Any = doc
        for part in schema["$ref"].lstrip("#/").split("/"):
            node = node.get(part, {}) if isinstance(node, dict) else {}
        schema, seen = node, seen + 1
    return schema if isinstance(schema, dict) else {}


def _properties(doc: dict[str, Any], op: dict[str, Any], answer: bool = False) -> dict[str, Any]:
    if answer:
        for code in ("200", "201"):
            content = ((op.get("responses") or {}).get(code) or {}).get("content") or {}
            schema = _schema(doc, (content.get("application/json") or {}).get("schema"))
            if schema.get("properties"):
                return schema["properties"]
        return {}
    content = (op.get("requestBody") or {}).get("content") or {}
    return _schema(doc, (content.get("application/json") or {}).get("schema")).get("properties") or {}


def _score(f: str, method: str, path: str) -> int:
    methods, entity, actions, n_ids = RULES[f]
    words = _words(path)
    if method not in methods or not words & entity or len(_ids(path)) != n_ids:
        return 0
    score = 10 + 5 * len(words & actions)
    if f.startswith("create_") and path.rstrip("/").split("/")[-1].lower() in entity:
        score += 3  # POST /products: a collection created into
    if f in ("find_item", "find_user", "find_order") and path.endswith("}"):
        score += 3
    return score


def draft_mapping(doc: dict[str, Any]) -> str:
    """The text of a TOML mapping file for the API `doc` describes."""
    routes = [(m, p, op) for p, item in doc["paths"].items() if isinstance(item, dict)
              for m, op in item.items() if m in METHODS and isinstance(op, dict)]
    title = (doc.get("info") or {}).get("title", "the shop")
    out = [f"# A draft mapping for {title}, from its OpenAPI document: READ AND EDIT before use.",
           "# Every table is one shopbench operation (docs/shop-api.md); `# TODO` marks what the draft could",
           "# not decide. Check it with: shopbench consistency --urls urls.json --mapping THIS_FILE", ""]
    chosen: dict[str, tuple[str, str, dict[str, Any]]] = {}
    used: set[tuple[str, str]] = set()
    for f in RULES:
        best = max(((_score(f, m, p), m, p, op) for m, p, op in routes if (m, p) not in used),
                   default=(0, "", "", {}), key=lambda t: t[0])
        if best[0]:
            chosen[f] = (best[1], best[2], best[3])
            used.add((best[1], best[2]))
    cart = "add_item" not in chosen and "create_order" in chosen
    if cart:
        out += _cart(doc, chosen)
    for f in ARGS:
        if f.startswith("batch_init_"):
            continue
        if cart and f in ("create_order", "add_item", "remove_item"):
            continue
        if f not in chosen:
            out += [f"# [{f}]  TODO: no route looked like it; without a table it keeps the docs/shop-api.md route", ""]
            continue
        method, path, op = chosen[f]
        if cart and f == "checkout":
            out += _cart_checkout(doc, chosen, method, path)
            continue
        out += _table(doc, f, method, path, op)
    return "\n".join(out).rstrip() + "\n"


def _path(f: str, path: str) -> tuple[str, list[str]]:
    """The path with its parameters named as our arguments, and TODOs."""
    ids = _ids(path)
    ours = {"add_item": ["order_id", "item_id"], "remove_item": ["order_id", "item_id"]}.get(
        f, [IDS[_SERVICE.get(f, "order")]] if ids else [])
    todo = []
    for name, our in zip(ids, ours, strict=False):
        path = path.replace("{" + name + "}", "{" + our + "}")
    if len(ids) > len(ours):
        todo.append(f"the path has more parameters than {f} has ids")
    return path, todo


def _body(doc: dict[str, Any], f: str, op: dict[str, Any]) -> tuple[dict[str, str], list[str]]:
    props = _properties(doc, op)
    body, todo = {}, []
    args = set(ARGS[f]) | ({"amount"} if f == "add_item" else set())
    for name in props:
        our = BODY_NAMES.get(name.lower())
        if f == "add_item" and our == "amount":
            our = "quantity"
        if our in args:
            body[name] = "{" + our + "}"
        else:
            todo.append(f"request field {name!r}: which argument?")
    return body, todo


def _fields(doc: dict[str, Any], f: str, op: dict[str, Any]) -> tuple[dict[str, str], list[str]]:
    need = ANSWERS.get(f, ())
    props = _properties(doc, op, answer=True)
    fields, todo = {}, []
    for ours in need:
        if ours in props:
            continue
        found = next((n for n in ANSWER_NAMES[ours] if n in props), None)
        if found:
            fields[ours] = found
        else:
            todo.append(f"where is {ours} in the answer? (fields = {{ {ours} = \"...\" }})")
    return fields, todo


def _toml(value: dict[str, str]) -> str:
    return "{ " + ", ".join(f"{k} = {json.dumps(v)}" for k, v in value.items()) + " }"


def _table(doc: dict[str, Any], f: str, method: str, path: str, op: dict[str, Any]) -> list[str]:
    our_path, todo = _path(f, path)
    body, body_todo = _body(doc, f, op)
    fields, field_todo = _fields(doc, f, op)
    lines = [f"[{f}]", f"method = {json.dumps(method.upper())}", f"path = {json.dumps(our_path)}"]
    if _SERVICE.get(f, "order") != "order":
        lines.append(f"service = {json.dumps(_SERVICE[f])}")
    if body:
        lines.append(f"json = {_toml(body)}")
    if fields:
        lines.append(f"fields = {_toml(fields)}")
    lines += [f"# TODO: {t}" for t in todo + body_todo + field_todo]
    return [*lines, ""]


def _cart(doc: dict[str, Any], chosen: dict[str, tuple[str, str, dict[str, Any]]]) -> list[str]:
    """Orders created with their lines in one request: the line template from the array in its body."""
    _, _, op = chosen["create_order"]
    line: dict[str, str] = {}
    for prop in _properties(doc, op).values():
        items = _schema(doc, _schema(doc, prop).get("items"))
        for name in items.get("properties") or {}:
            our = BODY_NAMES.get(name.lower())
            line[name] = "{item_id}" if our == "item_id" else "{quantity}" if our == "amount" else "TODO"
    return ["[shop]", "# Orders are created with their lines in one request: shopbench keeps a cart until checkout.",
            f"cart = {{ line = {_toml(line or {'item_id': '{item_id}', 'quantity': '{quantity}'})} }}", ""]


def _cart_checkout(doc: dict[str, Any], chosen: dict[str, tuple[str, str, dict[str, Any]]], method: str,
                   path: str) -> list[str]:
    c_method, c_path, c_op = chosen["create_order"]
    body: dict[str, str] = {}
    for name, prop in _properties(doc, c_op).items():
        our = BODY_NAMES.get(name.lower())
        if our == "user_id":
            body[name] = "{user_id}"
        elif _schema(doc, prop).get("type") == "array":
            body[name] = "{lines}"
        elif name.lower() in ("id", "order_id"):
            body[name] = "{order_id}"
    pay_path, todo = _path("checkout", path)
    return ["[checkout]", "# Two requests, one operation: place the order with its lines (no effect yet), then pay.",
            "steps = [",
            f"  {{ method = {json.dumps(c_method.upper())}, path = {json.dumps(c_path)}, json = {_toml(body)}, "
            "effect = false },",
            f"  {{ method = {json.dumps(method.upper())}, path = {json.dumps(pay_path)} }},", "]",
            "# TODO: the shop must keep the order id shopbench sends ({order_id}), or use {prev.FIELD} in the path",
            *[f"# TODO: {t}" for t in todo], ""]

"""A mapping file: a shop's own REST API described in TOML, no Python (`--mapping FILE`).

One table per operation it maps (operations it leaves out keep the docs/shop-api.md route):

    [shop]
    headers = { Authorization = "Bearer test" }            # sent with every request (optional)
    cart = { line = { product_id = "{item_id}", quantity = "{quantity}" } }   # orders sent whole

    [find_user]
    method = "GET"
    path = "/customers/{user_id}"
    fields = { credit = "balance" }                        # our field = its dotted path in the answer

    [checkout]                                             # several requests, one operation
    steps = [
      { method = "POST", path = "/orders", json = { id = "{order_id}", customer_id = "{user_id}",
        lines = "{lines}" }, effect = false },
      { method = "POST", path = "/orders/{order_id}/pay" },
    ]

Templates: `{name}` is an argument of the operation (docs/shop-api.md lists them); a string that is
exactly one placeholder keeps the argument's JSON type; in a path it is URL-quoted; `{prev.PATH}` is
a field of the previous step's answer. With `[shop] cart`, create_order, add_item and remove_item
are a client-side cart (cart.py) and checkout's templates also get `{user_id}` and `{lines}` (each
line built from `cart.line`); a checkout without a cart (already sent) skips the steps that need them.

The file is validated through configfile.py's one path: a wrong field is one sentence naming it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import quote

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from shopbench.configfile import read_config, validate
from shopbench.driver.answers import ABSENT, at_path
from shopbench.driver.cart import CARTS
from shopbench.driver.operation import NO_BODY
from shopbench.driver.outcome import Outcome
from shopbench.driver.rest import RestDriver

# Each operation's arguments, in the order the Driver protocol takes them, and its service.
ARGS: dict[str, tuple[str, ...]] = {
    "create_item": ("price",), "add_stock": ("item_id", "amount"), "subtract_stock": ("item_id", "amount"),
    "find_item": ("item_id",), "batch_init_stock": ("n", "starting_stock", "item_price"),
    "create_user": (), "add_funds": ("user_id", "amount"), "pay": ("user_id", "amount"),
    "find_user": ("user_id",), "batch_init_users": ("n", "starting_money"),
    "create_order": ("user_id",), "add_item": ("order_id", "item_id", "quantity"),
    "remove_item": ("order_id", "item_id"), "checkout": ("order_id",), "find_order": ("order_id",),
    "batch_init_orders": ("n", "n_items", "n_users", "item_price"),
}
SERVICE = {f: "stock" for f in ("create_item", "add_stock", "subtract_stock", "find_item", "batch_init_stock")}
SERVICE |= {f: "payment" for f in ("create_user", "add_funds", "pay", "find_user", "batch_init_users")}
SERVICE |= {f: "order" for f in ARGS if f not in SERVICE}
CART_OPERATIONS = ("create_order", "add_item", "remove_item")
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][\w.]*)\}")
_METHOD = "an HTTP method: GET, POST, PUT, PATCH or DELETE"


def _slash(path: str) -> str:
    if not path.startswith("/"):
        raise ValueError('it does not start with "/"')
    return path


UrlPath = Annotated[str, AfterValidator(_slash)]


class Step(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    service: Literal["order", "stock", "payment"] | None = Field(
        None, description='"order", "stock" or "payment": the base URL of urls.json (default: the operation\'s)')
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = Field(description=_METHOD)
    path: UrlPath = Field(description='a path starting with "/", e.g. "/customers/{user_id}"')
    query: dict[str, Any] = Field(default_factory=dict, description="a table of URL parameters")
    json_body: Any = Field(None, alias="json", description="the JSON body: a table, list or value")
    headers: dict[str, str] = Field(default_factory=dict, description="a table of header names and values")
    effect: bool = Field(True, description="true or false: false when this step changes nothing the checker "
                                           "counts (placing an unpaid order before paying it)")


class OperationMap(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    service: Literal["order", "stock", "payment"] | None = Field(
        None, description='"order", "stock" or "payment" (default: the operation\'s)')
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] | None = Field(None, description=_METHOD)
    path: UrlPath | None = Field(None, description='a path starting with "/", e.g. "/customers/{user_id}"')
    query: dict[str, Any] = Field(default_factory=dict, description="a table of URL parameters")
    json_body: Any = Field(None, alias="json", description="the JSON body: a table, list or value")
    headers: dict[str, str] = Field(default_factory=dict, description="a table of header names and values")
    steps: list[Step] | None = Field(None, description="a list of requests ({method, path, ...}) sent in order "
                                                       "as one operation")
    fields: dict[str, str] = Field(default_factory=dict, description="a table: our field = its dotted path in "
                                                                     "the answer, e.g. { credit = \"balance\" }")

    @model_validator(mode="after")
    def _one_form(self) -> OperationMap:
        if self.steps is None and (self.method is None or self.path is None):
            raise ValueError("method and path are needed (or steps = [ ... ] for several requests)")
        if self.steps is not None and (self.method or self.path):
            raise ValueError("steps replaces method and path: give one or the other")
        return self

    def requests(self) -> list[Step]:
        if self.steps is not None:
            return self.steps
        return [Step(service=self.service, method=self.method, path=self.path, query=self.query,  # type: ignore[arg-type]
                     json=self.json_body, headers=self.headers)]


class CartMap(BaseModel):
    model_config = ConfigDict(extra="forbid")

    line: dict[str, Any] = Field(description='a table: how one order line is sent, e.g. { product_id = '
                                             '"{item_id}", quantity = "{quantity}" }')


class ShopMap(BaseModel):
    model_config = ConfigDict(extra="forbid")

    headers: dict[str, str] = Field(default_factory=dict, description="a table of headers sent with every request")
    cart: CartMap | None = Field(None, description="a table { line = {...} }: orders are sent with their lines")


class MappingFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    shop: ShopMap = Field(default_factory=ShopMap, description="a table: headers, cart")
    create_item: OperationMap | None = None
    add_stock: OperationMap | None = None
    subtract_stock: OperationMap | None = None
    find_item: OperationMap | None = None
    batch_init_stock: OperationMap | None = None
    create_user: OperationMap | None = None
    add_funds: OperationMap | None = None
    pay: OperationMap | None = None
    find_user: OperationMap | None = None
    batch_init_users: OperationMap | None = None
    create_order: OperationMap | None = None
    add_item: OperationMap | None = None
    remove_item: OperationMap | None = None
    checkout: OperationMap | None = None
    find_order: OperationMap | None = None
    batch_init_orders: OperationMap | None = None

    @model_validator(mode="after")
    def _placeholders(self) -> MappingFile:
        cart = self.shop.cart is not None
        for f in ARGS:
            entry: OperationMap | None = getattr(self, f)
            if entry is None:
                continue
            if cart and f in CART_OPERATIONS:
                raise ValueError(f"{f} is the client-side cart's when [shop] cart is given: leave it out")
            known = set(ARGS[f]) | ({"user_id", "lines"} if cart and f == "checkout" else set())
            for n, step in enumerate(entry.requests()):
                where = f"{f}.steps[{n}]" if entry.steps is not None else f
                for name in placeholders(step.model_dump(by_alias=True)):
                    if name not in known and not (n > 0 and name.startswith("prev.")):
                        allowed = ", ".join("{" + k + "}" for k in sorted(known)) or "none"
                        prev = "; {prev.FIELD} from the second step on" if entry.steps else ""
                        raise ValueError(f"{where} uses {{{name}}}, which {f} does not have; it has {allowed}{prev}")
        if cart:
            for name in placeholders(self.shop.cart.line):  # type: ignore[union-attr]
                if name not in ("item_id", "quantity"):
                    raise ValueError(f"shop.cart.line uses {{{name}}}; a line has {{item_id}} and {{quantity}}")
        return self


def placeholders(value: Any) -> set[str]:
    if isinstance(value, str):
        return set(_PLACEHOLDER.findall(value))
    if isinstance(value, dict):
        return set().union(*(placeholders(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(placeholders(v) for v in value)) if value else set()
    return set()


def fill(template: Any, values: dict[str, Any], *, url: bool = False) -> Any:
    """`template` with its placeholders replaced: a string that is one placeholder becomes the value
    itself (its JSON type kept); within text, its text (URL-quoted when `url`)."""
    if isinstance(template, str):
        whole = _PLACEHOLDER.fullmatch(template)
        if whole and not url:
            return _value(whole.group(1), values)
        return _PLACEHOLDER.sub(lambda m: _text(_value(m.group(1), values), url), template)
    if isinstance(template, dict):
        return {k: fill(v, values, url=url) for k, v in template.items()}
    if isinstance(template, list):
        return [fill(v, values, url=url) for v in template]
    return template


def _value(name: str, values: dict[str, Any]) -> Any:
    if name.startswith("prev."):
        found = at_path(values.get("prev"), name.removeprefix("prev."))
        return None if found is ABSENT else found
    return values.get(name)


def _text(value: Any, url: bool) -> str:
    text = value if isinstance(value, str) else "" if value is None else str(value)
    return quote(text, safe="") if url else text


def load_mapping(path: str | Path) -> MappingFile:
    return validate(MappingFile, read_config(path, "mapping file", toml=True), str(path),
                    shape='{"find_user": {"method": "GET", "path": "/customers/{user_id}", ...}, ...}')


class MappingDriver(RestDriver):
    """RestDriver with the operations of a mapping file (`mapping`, set on a subclass by
    `mapping_driver`); every other operation keeps the docs/shop-api.md route."""

    mapping: MappingFile = MappingFile()
    source = ""

    def _perform(self, f: str, values: tuple[Any, ...], expect: str | None) -> Outcome:
        names = ARGS[f]
        args = dict(zip(names, values, strict=False))
        if f == "add_item" and "quantity" not in args:
            args["quantity"] = 1
        cart = self.mapping.shop.cart
        if cart is not None and f in CART_OPERATIONS:
            return self._cart(f, args, expect)
        entry: OperationMap | None = getattr(self.mapping, f)
        if entry is None:
            return getattr(RestDriver, f)(self, *[args[n] for n in names], expect=expect)
        context = dict(args)
        open_cart = CARTS.get(args.get("order_id")) if f == "checkout" and cart is not None else None
        if open_cart is not None:
            context["user_id"] = open_cart.user_id
            context["lines"] = [fill(cart.line, {"item_id": i, "quantity": q})  # type: ignore[union-attr]
                                for i, q in open_cart.lines.items()]
        steps = entry.requests()
        with self.operation(f, args, expect) as op:
            prev: Any = None
            for n, step in enumerate(steps):
                if cart is not None and f == "checkout" and open_cart is None and \
                        placeholders(step.model_dump(by_alias=True)) & {"user_id", "lines"}:
                    continue  # the order was sent already: only what needs no cart (its payment) is sent
                context["prev"] = prev
                service = step.service or entry.service or SERVICE[f]
                out = op.send(service, step.method, fill(step.path, context, url=True),
                              query=fill(step.query, context) or None,
                              json=NO_BODY if step.json_body is None else fill(step.json_body, context),
                              headers={**self.mapping.shop.headers, **fill(step.headers, context)} or None,
                              fields=entry.fields or None, answer=n == len(steps) - 1, effect=step.effect)
                if not out.ok:
                    break
                prev = out.data
            if open_cart is not None:
                CARTS.close(args["order_id"])  # sent (or maybe sent): the order is the shop's now
            elif not op.steps:
                op.refuse(f"not sent: order {args['order_id']} is not an open cart of this process, and every "
                          "step of checkout needs one")
        assert op.outcome is not None
        return op.outcome

    def _cart(self, f: str, args: dict[str, Any], expect: str | None) -> Outcome:
        with self.operation(f, args, expect) as op:
            if f == "create_order":
                op.result({"order_id": CARTS.open(args["user_id"])})
            elif f == "add_item":
                if not isinstance(args["quantity"], int) or args["quantity"] < 1:
                    op.refuse(f"not sent: quantity {args['quantity']!r} is not a whole number >= 1")
                elif CARTS.add(args["order_id"], args["item_id"], args["quantity"]):
                    op.result({})
                else:
                    op.refuse(f"not sent: order {args['order_id']} is not an open cart of this process "
                              "(unknown, or checked out already)")
            elif CARTS.remove(args["order_id"], args["item_id"]):
                op.result({})
            else:
                op.refuse(f"not sent: order {args['order_id']} has no open line of item {args['item_id']}")
        assert op.outcome is not None
        return op.outcome


def _operation(f: str) -> Any:
    names = ARGS[f]

    def perform(self: MappingDriver, *values: Any, expect: str | None = None) -> Outcome:
        if len(values) > len(names):  # expect given positionally, as the Driver protocol allows
            values, expect = values[:len(names)], values[len(names)]
        return self._perform(f, values, expect)

    perform.__name__ = f
    return perform


for _f in ARGS:
    setattr(MappingDriver, _f, _operation(_f))


def mapping_driver(path: str | Path) -> type[MappingDriver]:
    """A MappingDriver class bound to the mapping file at `path` (validated now)."""
    mapping = load_mapping(path)
    return type("MappingDriver", (MappingDriver,), {"mapping": mapping, "source": str(path)})

"""A shop's answer read into the one shape the rest of shopbench knows (the contract's shape).

Real shops answer the same facts in different JSON: an order's `items` as `[[id, qty], ...]`
pairs, as a list of ids (one entry per unit), as an `{id: qty}` map or as a list of
`{"item_id", "quantity"}` objects; numbers as strings (`"12"`) or as floats (`1.0`); booleans as
`0`/`1` or `"true"`. Everything is read here, once, so the history, `state.json` and the checker
see only the canonical shape:

    create_item   {"item_id": str}           find_item   {"stock": int, "price": int}
    create_user   {"user_id": str}           find_user   {"credit": int}
    create_order  {"order_id": str}          find_order  {"paid": bool, "items": [[str, int], ...],
                                                          "user_id": str, "total_cost": int}

Fields beyond these are kept as the shop sent them. What is not clear (`1.5` units, a missing
`paid`, `items` as a string) is never guessed: `read_answer` raises `AnswerProblem`, one sentence
naming the field and the value, and the driver records the operation as `info` with it.
"""

from __future__ import annotations

import math
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson

# The fields an ok answer must carry for the operation to be usable; without them it is `info`.
REQUIRED_FIELDS: dict[str, tuple[str, ...]] = {
    "create_item": ("item_id",),
    "create_user": ("user_id",),
    "create_order": ("order_id",),
    "find_item": ("stock", "price"),
    "find_user": ("credit",),
    "find_order": ("paid", "items", "user_id", "total_cost"),
}
ID_FIELDS = frozenset({"item_id", "user_id", "order_id"})
BOOL_FIELDS = frozenset({"paid"})
LINE_ID_KEYS = ("item_id", "id")  # an order line given as an object: its item ...
LINE_QTY_KEYS = ("quantity", "qty")  # ... and its quantity
_TRUE, _FALSE = frozenset({"true", "1"}), frozenset({"false", "0"})
_SHOWN = 80  # characters of a value quoted in a sentence


class AnswerProblem(ValueError):
    """An answer whose meaning is not clear: the message is one sentence naming the field and value."""


def shown(value: Any) -> str:
    text = orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode() if not isinstance(value, bytes) \
        else repr(value)
    return text if len(text) <= _SHOWN else text[:_SHOWN - 3] + "..."


def whole(value: Any, where: str) -> int:
    """An integer amount: ints, integral floats (`1.0`) and decimal strings (`"12"`, `"12.0"`);
    `1.5`, `true`, `"ten"` are AnswerProblems."""
    if type(value) is int:
        return value
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer():
            return int(value)
    elif isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            number = None
        if number is not None and number.is_finite() and number == number.to_integral_value():
            return int(number)
    raise AnswerProblem(f"{where} is {shown(value)}; it must be a whole number (amounts, prices and "
                        "quantities are integers: 12, \"12\" and 12.0 are read as 12)")


def entity_id(value: Any, where: str) -> str:
    """An id: a string, or an integer (read as its decimal string)."""
    if isinstance(value, str) and value:
        return value
    if type(value) is int:
        return str(value)
    raise AnswerProblem(f"{where} is {shown(value)}; it must be an id (a non-empty string or an integer)")


def flag(value: Any, where: str) -> bool:
    if isinstance(value, bool):
        return value
    if type(value) is int and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise AnswerProblem(f"{where} is {shown(value)}; it must be true or false (1/0 and \"true\"/\"false\" "
                        "are read too)")


def order_lines(value: Any, where: str = "items") -> list[list[Any]]:
    """`[[item_id, quantity], ...]` from any of the shapes in the module docstring, one line per item
    in order of first appearance (a repeated item's quantities are added)."""
    units: dict[str, int] = {}

    def add(iid: Any, qty: Any, at: str) -> None:
        key = entity_id(iid, f"{at} (an item id)")
        units[key] = units.get(key, 0) + whole(qty, f"{at} (a quantity)")

    if value is None:
        return []
    if isinstance(value, dict):
        for iid, qty in value.items():
            add(iid, qty, f"{where}[{shown(iid)}]")
    elif isinstance(value, list):
        kinds = {_line_kind(line) for line in value}
        if len(kinds) > 1:
            raise AnswerProblem(f"{where} is {shown(value)}; it mixes shapes: give every line as [item_id, "
                                "quantity], or every line as an item id (one per unit), or an {item_id: quantity} map")
        for n, line in enumerate(value):
            at = f"{where}[{n}]"
            if isinstance(line, list):
                if len(line) != 2:
                    raise AnswerProblem(f"{at} is {shown(line)}; a line given as a list must be [item_id, quantity]")
                add(line[0], line[1], at)
            elif isinstance(line, dict):
                iid = next((line[k] for k in LINE_ID_KEYS if k in line), None)
                qty = next((line[k] for k in LINE_QTY_KEYS if k in line), None)
                if iid is None or qty is None:
                    raise AnswerProblem(f"{at} is {shown(line)}; a line given as an object needs "
                                        f"{' or '.join(LINE_ID_KEYS)} and {' or '.join(LINE_QTY_KEYS)}")
                add(iid, qty, at)
            else:
                add(line, 1, at)  # one entry per unit
    else:
        raise AnswerProblem(f"{where} is {shown(value)}; it must be a list of [item_id, quantity] lines, a list "
                            "of item ids (one per unit), or an {item_id: quantity} map")
    return [[iid, qty] for iid, qty in units.items()]


def _line_kind(line: Any) -> str:
    return "pair" if isinstance(line, list) else "object" if isinstance(line, dict) else "unit"


def canonical(f: str, value: Any) -> Any:
    """The answer of operation `f` in the canonical shape; AnswerProblem when it is not clear.
    Operations without required fields keep their answer as it is."""
    need = REQUIRED_FIELDS.get(f)
    if need is None:
        return value
    if not isinstance(value, dict):
        if len(need) == 1 and need[0] in ID_FIELDS and (isinstance(value, str) or type(value) is int):
            return {need[0]: entity_id(value, "the answer")}  # a bare id is the only thing it can mean
        raise AnswerProblem(f"the answer is {shown(value)}; it must be a JSON object with {', '.join(need)}")
    missing = [k for k in need if k not in value]
    if missing:
        raise AnswerProblem(f"the answer {shown(value)} has no {', '.join(missing)}; it must carry "
                            f"{', '.join(need)}")
    out = dict(value)
    for k in need:
        if k in ID_FIELDS:
            out[k] = entity_id(value[k], k)
        elif k in BOOL_FIELDS:
            out[k] = flag(value[k], k)
        elif k == "items":
            out[k] = order_lines(value[k])
        else:
            out[k] = whole(value[k], k)
    return out


def read_answer(f: str, body: bytes, fields: dict[str, str] | None = None) -> Any:
    """The body of a 2xx answer to `f`, parsed, renamed (`fields`: our field -> a dotted path in the
    answer, from a mapping) and made canonical. AnswerProblem when it is needed and not clear.
    A body that is not JSON is None for operations that need nothing from it."""
    need = REQUIRED_FIELDS.get(f)
    if need is None and not fields and body[:1] not in (b"{", b"["):
        return None
    try:
        value = orjson.loads(body) if body.strip() else None
    except orjson.JSONDecodeError:
        if need is None:
            return None
        raise AnswerProblem(f"the answer is not JSON ({body[:_SHOWN]!r}); it must be a JSON object with "
                            f"{', '.join(need)}") from None
    if fields:
        value = rename(value, fields)
    return canonical(f, value)


_ABSENT = object()


def rename(value: Any, fields: dict[str, str]) -> Any:
    """`value` with each of our fields taken from its path in the answer (`"data.balance"`); the
    path's own key is left in place. A path that is absent leaves our field absent."""
    found = {ours: at_path(value, path) for ours, path in fields.items()}
    found = {ours: v for ours, v in found.items() if v is not _ABSENT}
    if not found:
        return value
    return {**(value if isinstance(value, dict) else {}), **found}


def at_path(value: Any, path: str) -> Any:
    """The value at a dotted path (`data.items`, `lines.0.id`), or _ABSENT."""
    cur = value
    for part in path.split(".") if path else ():
        if isinstance(cur, dict) and part in cur:
            cur = cur[part]
        elif isinstance(cur, list) and part.isdigit() and int(part) < len(cur):
            cur = cur[int(part)]
        else:
            return _ABSENT
    return cur

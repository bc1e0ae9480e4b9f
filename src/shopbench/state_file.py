"""state.json read entity by entity: the final state of a 10 M-operation run in a third of the memory.

    state = load_state(path)   # the dict `json.load` gives, well-formed entities as ledger records

`json.load` of the state of a 10 M-operation run (2 M orders) builds 1.7 GB of dicts and peaks at
2.7 GB. Here the top-level object and its `items`, `users` and `orders` tables are walked one
entry at a time (the standard library's own scanner parses each entry), and each entity becomes
its compact record (`checker.ledger.final_state.Compactor`) at once, so only one entity's dicts
exist at any time. A file that is not the JSON object state.json should be is read whole the
ordinary way, which names the fault.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from shopbench.checker.ledger.final_state import KINDS, Compactor
from shopbench.errors import UsageError

_SPACE = re.compile(r"[ \t\n\r]*")


class _Unexpected(Exception):
    """The walk met something it does not handle: read the file the ordinary way instead."""


def load_state(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise UsageError(f"{path}: cannot read the final state ({exc.strerror or exc}).") from None
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path}: the final state is not UTF-8 text ({exc.reason} at byte {exc.start}).") from None
    try:
        return _walk(text, json.JSONDecoder().scan_once, Compactor())
    except (_Unexpected, StopIteration, IndexError, ValueError):
        try:
            state = json.loads(text)
        except json.JSONDecodeError as exc:
            raise UsageError(f"{path}: the final state is not valid JSON ({exc.msg} at line {exc.lineno}, "
                             f"column {exc.colno}).") from None
        if not isinstance(state, dict):
            raise UsageError(f"{path}: the final state is {type(state).__name__}, not a JSON object.") from None
        return state


def _space(text: str, i: int) -> int:
    return _SPACE.match(text, i).end() if text[i] in " \t\n\r" else i  # type: ignore[union-attr]


def _walk(text: str, scan: Any, compact: Compactor) -> dict[str, Any]:
    """The top-level object; its entity tables entry by entry, everything else whole."""
    state: dict[str, Any] = {}

    def member(key: str, i: int) -> int:
        if key in KINDS and text[i] == "{":
            table: dict[str, Any] = {}
            state[key] = table

            def entity(entity_id: str, j: int) -> int:
                value, j = scan(text, j)
                table[entity_id] = compact(key, value)
                return j
            return _members(text, i, scan, entity)
        state[key], i = scan(text, i)
        return i

    i = _space(text, 0)
    if text[i] != "{":
        raise _Unexpected
    if text[_members(text, i, scan, member):].strip():
        raise _Unexpected
    return state


def _members(text: str, i: int, scan: Any, value: Callable[[str, int], int]) -> int:
    """Walk the object that starts at text[i]: `value(key, start)` takes each member's value and
    returns where it ends. Returns the index after the closing brace."""
    i = _space(text, i + 1)
    if text[i] == "}":
        return i + 1
    while True:
        if text[i] != '"':
            raise _Unexpected
        key, i = scan(text, i)
        i = _space(text, i)
        if text[i] != ":":
            raise _Unexpected
        i = _space(text, value(key, _space(text, i + 1)))
        if text[i] == "}":
            return i + 1
        if text[i] != ",":
            raise _Unexpected
        i = _space(text, i + 1)

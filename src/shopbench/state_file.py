"""state.json read entity by entity: the final state of a 10 M-operation run in a third of the memory.

    state = load_state(path)   # the dict `json.load` gives, well-formed entities as ledger records

`json.load` of the state of a 10 M-operation run (2 M orders) builds 1.7 GB of dicts and peaks at
2.7 GB. Here the standard library's scanner parses each of the `items`, `users` and `orders` tables
with a hook that turns every entity into its compact record (`checker.ledger.final_state.Compactor`)
as soon as its object is complete, so only one entity's dicts exist at any time. A file that is
not the JSON object state.json should be is read whole the ordinary way, which names the fault.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from shopbench.checker.ledger.final_state import KINDS, RECORDS, Compactor
from shopbench.errors import UsageError

_SPACE = re.compile(r"[ \t\n\r]*")
_STRING = json.decoder.scanstring  # type: ignore[attr-defined]


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
    """The top-level object; each entity table parsed by a scanner that makes every object a record
    as soon as it is complete (an object that is no well-formed entity stays as it is)."""
    state: dict[str, Any] = {}
    tables = {kind: json.JSONDecoder(object_hook=lambda obj, kind=kind: compact(kind, obj)).scan_once
              for kind in KINDS}

    def member(key: str, i: int) -> int:
        table_scan = tables.get(key, scan) if text[i] == "{" else scan
        state[key], i = table_scan(text, i)
        if isinstance(state[key], RECORDS):  # a table that looks like one entity: read it the ordinary way
            raise _Unexpected
        return i

    i = _space(text, 0)
    if text[i] != "{":
        raise _Unexpected
    if text[_members(text, i, member):].strip():
        raise _Unexpected
    return state


def _members(text: str, i: int, value: Callable[[str, int], int]) -> int:
    """Walk the object that starts at text[i]: `value(key, start)` takes each member's value and
    returns where it ends. Returns the index after the closing brace."""
    i = _space(text, i + 1)
    if text[i] == "}":
        return i + 1
    while True:
        if text[i] != '"':
            raise _Unexpected
        key, i = _STRING(text, i + 1)
        i = _space(text, i)
        if text[i] != ":":
            raise _Unexpected
        i = _space(text, value(key, _space(text, i + 1)))
        if text[i] == "}":
            return i + 1
        if text[i] != ",":
            raise _Unexpected
        i = _space(text, i + 1)

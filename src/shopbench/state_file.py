"""state.json read entity by entity: the final state of a 10 M-operation run in a third of the memory.

    state = load_state(path)   # the dict `json.load` gives, well-formed entities as ledger records

`json.load` of the state of a 10 M-operation run (2 M orders) builds 1.7 GB of dicts and peaks at
2.7 GB. A state whose `items`, `users` and `orders` tables hold only well-formed entities (every
state shopbench writes) is decoded by msgspec straight into the compact records
(`checker.ledger.final_state.Order`, ...), no dict of an entity ever made: seven times faster than
the walk below. Any other is walked: the standard library's scanner parses each table with a hook
that turns every entity into its record (`Compactor`) as soon as its object is complete, so only
one entity's dicts exist at any time, and leaves a malformed one as read for `read_state` to name.
A file that is not the JSON object state.json should be is read whole the ordinary way, which
names the fault.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec

from shopbench.checker.ledger.final_state import KINDS, RECORDS, Compactor, Item, Order, User
from shopbench.errors import UsageError

_SPACE = re.compile(r"[ \t\n\r]*")
_STRING = json.decoder.scanstring  # type: ignore[attr-defined]


_MEMBERS = msgspec.json.Decoder(dict[str, msgspec.Raw])
_VALUE = msgspec.json.Decoder()
_TABLES = {"orders": msgspec.json.Decoder(dict[str, Order]), "users": msgspec.json.Decoder(dict[str, User]),
           "items": msgspec.json.Decoder(dict[str, Item])}


class _Unexpected(Exception):
    """The walk met something it does not handle: read the file the ordinary way instead."""


def load_state(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"{path}: cannot read the final state ({exc.strerror or exc}).") from None
    try:
        return _decode(data)
    except msgspec.DecodeError:  # (a ValidationError too) not canonical: walk it, and say what is wrong
        pass
    try:
        text = data.decode("utf-8")
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


def _decode(data: bytes) -> dict[str, Any]:
    """A state whose entity tables are all well-formed, each entity decoded into its record."""
    return {key: _TABLES[key].decode(value) if key in _TABLES else _VALUE.decode(value)
            for key, value in _MEMBERS.decode(data).items()}


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

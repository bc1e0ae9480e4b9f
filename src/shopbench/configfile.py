"""Reading and validating a user's config files (urls.json, kill_config.json, a services file): the
one path from a file to a checked model, and the one style of error.

    data = read_config(path, "services file", toml=True)     # unreadable or malformed: one sentence
    model = validate(ServicesFile, data, str(path))            # wrong field: one sentence

Every problem is a `UsageError` that names the file, the field (`services[1].health_url`,
`kill_triggers[0].count`, `ORDER_URL`) with the value found, and what is allowed: the field's
`description` in its pydantic model, which is therefore written to finish the sentence
"it must be ...".
"""

from __future__ import annotations

import json
import tomllib
import typing
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from shopbench.errors import UsageError

M = TypeVar("M", bound=BaseModel)


def read_config(path: str | Path, what: str, *, toml: bool = False) -> Any:
    """The parsed content of `path`, JSON (or TOML when `toml` and the name ends in .toml)."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise UsageError(f"{path}: cannot read the {what} ({exc.strerror or exc}).") from None
    if toml and path.suffix.lower() == ".toml":
        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise UsageError(f"{path}: not valid TOML ({exc}).") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}).") from None


def validate(model: type[M], data: Any, source: str, *, shape: str | None = None) -> M:
    """`data` checked against `model`; a problem becomes one UsageError (file, field, what is allowed).
    `shape` describes the whole document for errors at its top (e.g. '{"kill_triggers": [...]}')."""
    if not isinstance(data, dict):
        kind = "an object" if source.endswith(".toml") else "a JSON object"
        raise UsageError(f"{source}: expected {kind} like {shape or _shape(model)}.")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise UsageError(describe(model, exc, data, source, shape)) from None


def describe(model: type[BaseModel], exc: ValidationError, data: Any, source: str, shape: str | None = None) -> str:
    """The first error of `exc` as one sentence."""
    errors = exc.errors()
    # A misspelt field also makes the right one "missing": name the misspelling, it is the cause.
    err = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
    loc = [p for p in err["loc"] if not (isinstance(p, str) and p.startswith(("function-", "union[")))]
    where = _path(loc)
    if not loc:
        return f"{source}: {_clean(err['msg'])}; expected {shape or _shape(model)}."
    owner, fld = _field_owner(model, loc)
    if err["type"] == "extra_forbidden":
        allowed = ", ".join(owner.model_fields) if owner is not None else "see the documentation"
        return f"{source}: {where} is not a known field; allowed: {allowed}."
    got = _value_at(data, loc)
    allowed = None
    if owner is not None and fld in owner.model_fields:
        allowed = owner.model_fields[fld].description
    if isinstance(loc[-1], int) and _is_custom(err):
        # A rule across fields of one entry: its message begins with the field it is about.
        custom = _clean(err["msg"])
        item = _model_in(owner.model_fields[fld].annotation) if owner is not None and fld else None
        named = item is not None and custom.split(" ", 1)[0] in item.model_fields
        return f"{source}: {where}.{custom}." if named else f"{source}: {where}: {custom}."
    if isinstance(loc[-1], int) and err["type"] in _CONTAINER_ERRORS:
        item = _model_in(owner.model_fields[fld].annotation) if owner is not None and fld else None
        fields = f" with {', '.join(n for n, f in item.model_fields.items() if f.is_required())}" if item else ""
        return f"{source}: {where} must be an object{fields}."
    if err["type"] in _CONTAINER_ERRORS and allowed:
        return f"{source}: {where} must be {allowed}."
    if got is _MISSING:
        return f"{source}: field {where} is missing; it must be {allowed or 'given'}."
    found = f" is {got!r}"
    if allowed is None:
        return f"{source}: {where}{found}: {_clean(err['msg'])}."
    custom = _clean(err["msg"]) if _is_custom(err) else ""
    detail = f" ({custom})" if custom and custom not in allowed else ""
    return f"{source}: {where}{found}; it must be {allowed}{detail}."


_MISSING = object()
_CONTAINER_ERRORS = ("list_type", "dict_type", "model_type", "model_attributes_type")


def _is_custom(err: dict[str, Any]) -> bool:
    return err["type"] in ("value_error", "assertion_error")


def _clean(msg: str) -> str:
    return msg.removeprefix("Value error, ").removeprefix("Assertion failed, ")


def _path(loc: list[Any]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "the document"


def _value_at(data: Any, loc: list[Any]) -> Any:
    cur = data
    for part in loc:
        try:
            cur = cur[part]
        except (KeyError, IndexError, TypeError):
            return _MISSING
    return cur


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def _field_owner(model: type[BaseModel], loc: list[Any]) -> tuple[type[BaseModel] | None, str | None]:
    """The model that declares the last named field of `loc`, and that field's name."""
    owner: type[BaseModel] | None = model
    decl, fld = model, None
    for part in loc:
        if not isinstance(part, str):
            continue
        if owner is None or part not in owner.model_fields:
            return owner, part
        decl, fld = owner, part
        owner = _model_in(owner.model_fields[part].annotation)
    return decl, fld


def _shape(model: type[BaseModel]) -> str:
    required = [n for n, f in model.model_fields.items() if f.is_required()]
    return "{" + ", ".join(f'"{n}": ...' for n in required or list(model.model_fields)[:3]) + "}"


def parse_hostport(value: Any, default_host: str = "127.0.0.1") -> tuple[str, int]:
    """`HOST:PORT` as (host, port): the one parser of addresses in config files, flags and the fault
    proxy's commands. `[::1]:8000` gives `::1`; `:8000` the default host; an `http://` prefix and a
    trailing `/` are accepted (an upstream copied from a URL). ValueError naming the value otherwise;
    a caller that knows the file and field turns it into its UsageError."""
    text = str(value if value is not None else "").strip().removeprefix("http://").rstrip("/")
    host, _, port = text.rpartition(":")
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{value!r} is not HOST:PORT (e.g. 127.0.0.1:8002)")
    return host.strip("[]") or default_host, int(port)

"""Reading a user's config file (urls.json, kill_config.json, a services file): one place that turns
an unreadable or malformed file into one sentence naming the file, the line and the problem."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

from shopbench.errors import UsageError


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

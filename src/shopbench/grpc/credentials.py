"""Login credentials for a gRPC workload: a `.env` file (USER_n_EMAIL / USER_n_PASSWORD, as seed 004
keeps them) read into memory, handed out round robin. A password never leaves memory: the history
names a credential by its index, `repr` hides it, and run.json records only the file and the count.
"""

from __future__ import annotations

import itertools
import os
import re
import secrets
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from shopbench.errors import UsageError

USER_KEY = re.compile(r"^USER_(\d+)_(EMAIL|PASSWORD)$")


@dataclass(frozen=True)
class Credential:
    index: int
    email: str
    password: str = field(repr=False)


def parse_env(text: str) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.removeprefix("export ").partition("=")
        values[key.strip()] = value.strip().strip("'\"")
    return values


def load_credentials(path: str | Path) -> list[Credential]:
    """USER_1_…, USER_2_…, … in numeric order; a user missing half its pair is a usage error."""
    path = Path(path)
    try:
        values = parse_env(path.read_text())
    except OSError as exc:
        raise UsageError(f"--credentials {path}: cannot read it ({exc.strerror or exc}).") from None
    numbers = sorted({int(m.group(1)) for k in values if (m := USER_KEY.match(k))})
    creds = []
    for n in numbers:
        email, password = values.get(f"USER_{n}_EMAIL"), values.get(f"USER_{n}_PASSWORD")
        if not email or password is None:
            half = "USER_{n}_PASSWORD" if email else "USER_{n}_EMAIL"
            raise UsageError(f"--credentials {path}: {half.format(n=n)} is missing or empty.")
        creds.append(Credential(len(creds), email, password))
    if not creds:
        raise UsageError(f"--credentials {path}: no USER_n_EMAIL / USER_n_PASSWORD pairs in it.")
    return creds


def generate(n: int = 3) -> list[Credential]:
    """Fresh users for the reference service started for a run."""
    return [Credential(i, f"user{i + 1}@refgrpc.local", secrets.token_urlsafe(12)) for i in range(n)]


def write_env(creds: list[Credential]) -> Path:
    """A private .env for the reference service, outside the run directory (it holds passwords);
    the caller deletes it when the run ends."""
    fd, name = tempfile.mkstemp(prefix="shopbench-users-", suffix=".env")
    with os.fdopen(fd, "w") as f:
        for c in creds:
            f.write(f"USER_{c.index + 1}_EMAIL={c.email}\nUSER_{c.index + 1}_PASSWORD={c.password}\n")
    return Path(name)


class RoundRobin:
    """The next credential for each new user: 1, 2, 3, 1, … (seed 004's login_round_robin)."""

    def __init__(self, creds: list[Credential], start: int = 0, step: int = 1):
        """`start`/`step`: worker w of N local Locust processes takes w, w+N, w+2N, … so that the
        users of all processes together still go round the list in turn."""
        if not creds:
            raise UsageError("no credentials to log in with.")
        self.creds = creds
        self._n = itertools.count(start, step)

    def next(self) -> Credential:
        return self.creds[next(self._n) % len(self.creds)]

"""Seed 004's workload on a gRPC vacancy service: log in round robin, then on two schedules of
their own the CRUD flow (create -> update -> get -> delete, default every 30 s) and the list
(GetVacancies with a random page and limit, default every 45 s).

Every call of one scheduled start carries that start's `intended` wall time, so the history shows
how late each start was (`lateness`) and latency can count from the schedule. The flow ends with
one more get of the deleted vacancy (expected NOT_FOUND): the checker's "deleted stays deleted".
Nothing here knows Locust: a flow takes a `GrpcClient` and a `Login`.
"""

from __future__ import annotations

import random
import re
import string
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from shopbench.errors import UsageError
from shopbench.grpc.client import GrpcClient, Result
from shopbench.grpc.credentials import Credential
from shopbench.history import FAIL
from shopbench.latency import percentile

CRUD, LIST = "crud", "list"
DEFAULT_EVERY = {CRUD: 30.0, LIST: 45.0}
DIVISIONS = (1, 2, 3, 4)
COUNTRIES = ("LT", "DE", "FR", "ES", "PL", "NL", "SE", "FI", "US", "CA")
SIGN_IN, REFRESH = "SignInUser", "RefreshAccessToken"
RENEW_AT = 0.8  # renew a token when this share of its lifetime has passed


def parse_every(text: str | None) -> dict[str, float]:
    """`crud=30s,list=45s` (units ms, s, m; a bare number is seconds) over the defaults."""
    out = dict(DEFAULT_EVERY)
    for part in filter(None, (p.strip() for p in (text or "").split(","))):
        name, _, value = part.partition("=")
        m = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m)?", value.strip())
        if name.strip() not in out or m is None:
            raise UsageError(f"--every {part!r}: write crud=30s,list=45s (schedules: {', '.join(out)}).")
        seconds = float(m.group(1)) * {"ms": 0.001, "s": 1.0, "m": 60.0, None: 1.0}[m.group(2)]
        if seconds <= 0:
            raise UsageError(f"--every {part!r}: the interval must be > 0.")
        out[name.strip()] = seconds
    return out


def _text(rng: random.Random, n: int = 12) -> str:
    return "".join(rng.choices(string.ascii_letters, k=n))


# A user's service may lack the reference's extras (Version, total, expires_in): read them if present.
def _vacancy(resp: Any) -> dict[str, Any]:
    return {"id": resp.vacancy.Id, "version": getattr(resp.vacancy, "Version", None)}


def _listing(resp: Any) -> dict[str, Any]:
    return {"vacancies": {v.Id: getattr(v, "Version", None) for v in resp.vacancies},
            "total": getattr(resp, "total", None)}


@dataclass
class Login:
    """One user's credential and current access token (kept in memory only)."""

    cred: Credential
    obtained: float = 0.0
    expires_in: float = 0.0

    def ensure(self, client: GrpcClient, scenario: str | None = None, intended: float | None = None) -> bool:
        """Sign in when there is no token or it is near its end; False if signing in failed."""
        if client.token and (not self.expires_in or time.monotonic() - self.obtained < RENEW_AT * self.expires_in):
            return True
        return self.sign_in(client, scenario, intended)

    def sign_in(self, client: GrpcClient, scenario: str | None = None, intended: float | None = None) -> bool:
        r = client.call(SIGN_IN, {"email": self.cred.email, "password": self.cred.password},
                        args={"user": self.cred.index}, scenario=scenario, intended=intended, token=None,
                        value=lambda resp: {"expires_in": getattr(resp, "expires_in", None)})
        if r.ok:
            client.token = r.response.access_token
            self.obtained, self.expires_in = time.monotonic(), float(getattr(r.response, "expires_in", 0) or 0)
        return r.ok


def crud_flow(client: GrpcClient, login: Login, rng: random.Random, intended: float | None = None) -> None:
    """create -> update -> get -> delete -> get (NOT_FOUND expected); stops at the first call that
    did not succeed (the id is unknown, or the vacancy may be in an unknown state)."""
    s = CRUD
    if not login.ensure(client, s, intended):
        return
    created = client.call("CreateVacancy", {"Title": _text(rng), "Description": _text(rng, 40),
                                            "Division": rng.choice(DIVISIONS), "Country": rng.choice(COUNTRIES)},
                          args={}, scenario=s, intended=intended, value=_vacancy)
    if not created.ok:
        _unauthenticated(client, created)
        return
    vid = created.response.vacancy.Id
    views = rng.randint(1, 1000)
    steps = (
        ("UpdateVacancy", {"Id": vid, "Title": _text(rng), "Description": _text(rng, 40), "Views": views,
                           "Division": rng.choice(DIVISIONS), "Country": rng.choice(COUNTRIES)},
         {"id": vid, "views": views}, None),
        ("GetVacancy", {"Id": vid}, {"id": vid}, None),
        ("DeleteVacancy", {"Id": vid}, {"id": vid}, None),
        ("GetVacancy", {"Id": vid}, {"id": vid}, FAIL),
    )
    for name, request, args, expect in steps:
        r = client.call(name, request, args=args, expect=expect, scenario=s, intended=intended,
                        value=_vacancy if name != "DeleteVacancy" else None)
        if not r.ok and expect is None:
            _unauthenticated(client, r)
            return


def list_call(client: GrpcClient, login: Login, rng: random.Random, intended: float | None = None) -> None:
    if not login.ensure(client, LIST, intended):
        return
    page, limit = rng.randint(1, 10), rng.randint(1, 100)
    r = client.call("GetVacancies", {"page": page, "limit": limit}, args={"page": page, "limit": limit},
                    scenario=LIST, intended=intended, value=_listing)
    _unauthenticated(client, r)


def _unauthenticated(client: GrpcClient, r: Result) -> None:
    if r.code == "UNAUTHENTICATED":
        client.token = None  # sign in again at the next start


def list_all(client: GrpcClient, scenario: str, limit: int = 100, max_pages: int = 10_000) -> bool:
    """Every vacancy, page by page (the runner's baseline and final reads); False if a page failed."""
    for page in range(1, max_pages + 1):
        r = client.call("GetVacancies", {"page": page, "limit": limit}, args={"page": page, "limit": limit},
                        scenario=scenario, value=_listing)
        if not r.ok:
            return False
        if len(r.response.vacancies) < limit:
            return True
    return True


def lateness(ops: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Per schedule: how many starts, and how late each began (first call's wall time minus the
    intended start), in ms."""
    first: dict[tuple[str, str, float], float] = {}
    for op in ops:
        intended, scenario = op.get("intended"), op.get("scenario")
        if intended is None or scenario not in (CRUD, LIST):
            continue
        key = (scenario, op["process"], intended)
        if key not in first or op["wall"] < first[key]:
            first[key] = op["wall"]
    by: dict[str, list[float]] = defaultdict(list)
    for (scenario, _, intended), wall in first.items():
        by[scenario].append(max(0.0, (wall - intended) * 1000.0))
    out = {}
    for scenario in (CRUD, LIST):
        values = sorted(by.get(scenario, []))
        out[scenario] = {"starts": len(values),
                         "lateness_ms": {"p50": _round(percentile(values, 50) if values else None),
                                         "p99": _round(percentile(values, 99) if values else None),
                                         "max": _round(values[-1] if values else None)}}
    return out


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 2)

"""Seed 004's workload on a gRPC vacancy service: log in round robin, then on two schedules of
their own the CRUD flow (create -> update -> get -> delete, default every 30 s) and the list
(GetVacancies with a random page and limit, default every 45 s; a server stream in the seed's API).

Requests are made from the service's own message descriptors: enum values (the seed's
`Vacancy.DIVISION`) from the enum, and an update sets a random non-empty subset of its `optional`
fields, each to a value other than the current one. What a call saw is recorded as the checker
compares it: a digest of the vacancy's contents, and its version and `updated_at` where the API has
them. Token lifetimes come from the answer's `expires_in`, else the token's own `exp` (a JWT), else
`--token-ttl`.

Every call of one scheduled start carries that start's `intended` wall time, so the history shows
how late each start was (`lateness`) and latency can count from the schedule. The flow ends with
one more get of the deleted vacancy (expected NOT_FOUND): the checker's "deleted stays deleted".
Nothing here knows Locust: a flow takes a `GrpcClient` and a `Login`.
"""

from __future__ import annotations

import base64
import hashlib
import json
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


# -- what a vacancy message says, as the checker compares it ----------------------------------------------
CONTENTS = ("Title", "Description", "Division", "Country")  # Views left out: a service may count reads in it
VERSION_NAMES = ("version", "Version")


def vacancy_value(v: Any) -> dict[str, Any]:
    """`id`, a `digest` of its contents, and the `version` and `updated_at` (ns) where the API has them."""
    fields = v.DESCRIPTOR.fields_by_name
    out: dict[str, Any] = {"id": v.Id, "digest": hashlib.blake2b(
        repr([getattr(v, f, None) for f in CONTENTS]).encode(), digest_size=6).hexdigest()}
    for name in VERSION_NAMES:
        if name in fields and (not _has_presence(fields[name]) or v.HasField(name)):
            out["version"] = getattr(v, name)
            break
    if "updated_at" in fields and v.HasField("updated_at"):
        out["updated_at"] = v.updated_at.seconds * 1_000_000_000 + v.updated_at.nanos
    return out


def _has_presence(field: Any) -> bool:
    """Whether unset differs from the default (proto3 `optional`: a synthetic oneof where the
    descriptor predates `has_presence`)."""
    return bool(getattr(field, "has_presence", field.containing_oneof is not None))


def _vacancy(resp: Any) -> dict[str, Any]:
    return vacancy_value(resp.vacancy)


def _listing(resp: Any) -> dict[str, Any]:
    """A list's vacancies by id: a stream's messages, or a unary answer's repeated `vacancies`."""
    items = resp if isinstance(resp, list) else list(getattr(resp, "vacancies", ()))
    return {"vacancies": {v.Id: {k: x for k, x in vacancy_value(v).items() if k != "id"} for v in items}}


# -- tokens -------------------------------------------------------------------------------------------------
def token_lifetime(response: Any, token: str | None) -> tuple[float, str]:
    """(seconds the access token lives, where that was read): the answer's `expires_in` where the
    API has one, else the token's own `exp` claim when it is a JWT; (0, "") when neither says."""
    value = getattr(response, "expires_in", 0) or 0
    if value > 0:
        return float(value), "expires_in"
    exp = jwt_exp(token or "")
    if exp is not None:
        return max(0.0, exp - time.time()), "the token's exp claim"
    return 0.0, ""


def jwt_exp(token: str) -> float | None:
    """The `exp` claim of a JWT (read, not verified: only to know when it expires)."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
        return float(claims["exp"]) if isinstance(claims, dict) and "exp" in claims else None
    except (ValueError, TypeError, KeyError):
        return None


@dataclass
class Login:
    """One user's credential and current access token (kept in memory only). `default_ttl`: the
    token lifetime to assume when neither the answer nor the token says (--token-ttl)."""

    cred: Credential
    default_ttl: float = 0.0
    obtained: float = 0.0
    expires_in: float = 0.0
    source: str = ""

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
            self.obtained = time.monotonic()
            self.expires_in, self.source = token_lifetime(r.response, client.token)
            if not self.expires_in and self.default_ttl:
                self.expires_in, self.source = self.default_ttl, "--token-ttl"
        return r.ok


# -- the flow -----------------------------------------------------------------------------------------------
def _random_value(field: Any, rng: random.Random, current: Any = None) -> Any:
    """A value for a field of the request, different from `current`: enums from the enum's own values."""
    for _ in range(8):
        if field.enum_type is not None:
            v = rng.choice([x.number for x in field.enum_type.values])
        elif field.type == field.TYPE_STRING:
            v = rng.choice(COUNTRIES) if field.name.lower() == "country" else _text(rng, 40 if "desc" in
                                                                                     field.name.lower() else 12)
        elif field.cpp_type in (field.CPPTYPE_INT32, field.CPPTYPE_INT64, field.CPPTYPE_UINT32, field.CPPTYPE_UINT64):
            v = rng.randint(1, 1000)
        elif field.cpp_type == field.CPPTYPE_BOOL:
            v = rng.random() < 0.5
        else:
            return None
        if v != current:
            return v
    return v


def create_request(client: GrpcClient, rng: random.Random) -> dict[str, Any]:
    fields = client.catalog.method("CreateVacancy").request.DESCRIPTOR.fields
    return {f.name: v for f in fields if (v := _random_value(f, rng)) is not None}


def update_request(client: GrpcClient, rng: random.Random, vid: str, current: Any) -> dict[str, Any]:
    """Id and a random non-empty subset of the other fields when they are all `optional` ("update one
    or more fields"), else all of them (without presence an unset field would be blanked)."""
    fields = [f for f in client.catalog.method("UpdateVacancy").request.DESCRIPTOR.fields if f.name != "Id"]
    if fields and all(_has_presence(f) for f in fields):
        fields = rng.sample(fields, rng.randint(1, len(fields)))
    out: dict[str, Any] = {"Id": vid}
    for f in fields:
        v = _random_value(f, rng, getattr(current, f.name, None))
        if v is not None:
            out[f.name] = v
    return out


def crud_flow(client: GrpcClient, login: Login, rng: random.Random, intended: float | None = None) -> None:
    """create -> update -> get -> delete -> get (NOT_FOUND expected); stops at the first call that
    did not succeed (the id is unknown, or the vacancy may be in an unknown state)."""
    s = CRUD
    if not login.ensure(client, s, intended):
        return
    created = client.call("CreateVacancy", create_request(client, rng), args={}, scenario=s, intended=intended,
                          value=_vacancy)
    if not created.ok:
        _unauthenticated(client, created)
        return
    vid = created.response.vacancy.Id
    update = update_request(client, rng, vid, created.response.vacancy)
    steps = (
        ("UpdateVacancy", update, {"id": vid, "fields": sorted(k for k in update if k != "Id")}, None),
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
    """Every vacancy, page by page (the runner's baseline and final reads); False if a page failed.

    A short first page is either everything or the service's own cap on `limit`: the next pages are
    asked with the size it gave (so page 2 starts right after it), until a page comes back short.
    Stopping at the first short page would miss every vacancy past a cap, and a baseline that misses
    pre-existing vacancies makes them look like phantoms later."""
    page = 1
    while page <= max_pages:
        r = client.call("GetVacancies", {"page": page, "limit": limit}, args={"page": page, "limit": limit},
                        scenario=scenario, value=_listing)
        if not r.ok:
            return False
        n = len(r.response if isinstance(r.response, list) else r.response.vacancies)
        if n == 0 or (n < limit and page > 1):
            return True
        limit = min(limit, n)
        page += 1
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

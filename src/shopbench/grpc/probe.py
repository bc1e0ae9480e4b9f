"""The auth probe: call the service's RPCs without a token, with a malformed one and with an
expired one, each recorded as an op (process "probe", scenario `auth:<case>`, args `{"case",
"expected"}`, expect fail) for `checker.auth`. Unary and streaming RPCs alike (a client stream
sends no message; a server stream is read to its end).

Which RPCs need a token is discovered, not assumed: every RPC but the sign-in itself is called
without one, and the answer (UNAUTHENTICATED or not) is what the service does. What it should do is
the expectation the answers are judged by: the RPCs named with `--public`, else the other RPCs of
the service that signs in (seed 004's AuthService: signing up and verifying an email) need none,
and every other RPC must refuse a missing, malformed or expired token.

An expired token is a real one the service issued: `ExpiredToken` signs in before the load and
keeps the token; after the load it is used once its lifetime (the answer's `expires_in`, a JWT's
`exp`, or `--token-ttl`) has passed, waiting for that if it is at most `max_wait` seconds away;
otherwise the case is reported as not probed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from shopbench.errors import UsageError
from shopbench.grpc.client import GrpcClient
from shopbench.grpc.protos import Catalog, Method
from shopbench.workload.seed004 import SIGN_IN, Login

MALFORMED = "not-a-token"
PROBE = "probe"
PUBLIC, PROTECTED = "public", "protected"


def probe_plan(catalog: Catalog, public: list[str] | None = None,
               sign_in: str = SIGN_IN) -> tuple[list[tuple[str, Method, str]], str]:
    """((call name, method, expected) for every RPC but the sign-in, where its public set came from)."""
    signer = catalog.methods.get(sign_in)
    if public:
        known = sorted({catalog.name_of(m) for ms in catalog.services().values() for m in ms})
        for name in public:
            if name not in catalog.methods:
                raise UsageError(f"--public {name}: the service declares no such RPC; its RPCs are "
                                 f"{', '.join(known)}.")
        wanted = {id(catalog.methods[name]) for name in public}
        source = f"--public {','.join(public)}"
    else:
        wanted = {id(m) for m in catalog.services().get(signer.service, ())} if signer else set()
        source = (f"the other RPCs of {signer.service}, the service that signs in (name others with --public)"
                  if signer else "none: the service has no sign-in RPC")
    plan = []
    for _, methods in sorted(catalog.services().items()):
        for m in sorted(methods, key=lambda m: m.name):
            if m is signer:
                continue
            plan.append((catalog.name_of(m), m, PUBLIC if id(m) in wanted else PROTECTED))
    return plan, source


@dataclass
class ExpiredToken:
    token: str | None = None
    obtained: float = 0.0
    expires_in: float = 0.0
    why_not: str | None = None

    @classmethod
    def obtain(cls, client: GrpcClient, login: Login) -> ExpiredToken:
        saved = client.token
        client.token = None
        if not login.sign_in(client):
            client.token = saved
            return cls(why_not="signing in for the expired-token probe failed")
        token, client.token = client.token, saved
        if not login.expires_in:
            return cls(why_not="nothing says when the service's tokens expire (no expires_in in the sign-in answer, "
                               "no exp claim in the token): pass --token-ttl SECONDS, how long its access tokens live")
        return cls(token, login.obtained, login.expires_in)

    def get(self, max_wait: float) -> str | None:
        if self.token is None:
            return None
        left = self.obtained + self.expires_in + 1.0 - time.monotonic()
        if left > max_wait:
            self.why_not = (f"the service's tokens live {self.expires_in:g} s, longer than the run plus --expiry-wait "
                            f"({max_wait:g} s); raise --expiry-wait or shorten the token lifetime")
            return None
        if left > 0:
            time.sleep(left)
        return self.token


def run_auth_probe(client: GrpcClient, catalog: Catalog, expired: ExpiredToken, max_wait: float,
                   public: list[str] | None = None) -> tuple[list[str], str]:
    """Make the probe's calls; return (sentences saying which case could not be probed and why,
    where the expected public RPCs came from)."""
    plan, source = probe_plan(catalog, public)
    old = client.process
    client.process = PROBE
    try:
        stale = expired.get(max_wait)
        for name, method, expected in plan:
            body: object = [] if method.client_streaming else {}
            cases = (("none", None),) if expected == PUBLIC else (
                ("none", None), ("malformed", MALFORMED), ("expired", stale))
            for case, token in cases:
                if case == "expired" and stale is None:
                    continue
                client.call(name, body, args={"case": case, "expected": expected}, expect="fail",
                            scenario=f"auth:{case}", token=token or None)
    finally:
        client.process = old
    return ([] if stale is not None else [f"expired tokens were not probed: {expired.why_not}"]), source


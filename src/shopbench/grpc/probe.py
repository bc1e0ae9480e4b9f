"""The auth probe: call every protected RPC without a token, with a malformed one and with an
expired one, each recorded as an op (process "probe", scenario `auth:<case>`, expect fail) for
`checker.auth`. Protected means: every unary RPC except those of the service that signs in.

An expired token is a real one the service issued: `ExpiredToken` signs in before the load and
keeps the token; after the load it is used once its `expires_in` has passed (waiting for that if
it is at most `max_wait` seconds away; otherwise the case is reported as not probed).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from shopbench.grpc.client import GrpcClient
from shopbench.grpc.protos import Catalog, Method
from shopbench.workload.seed004 import SIGN_IN, Login

MALFORMED = "not-a-token"
PROBE = "probe"


def protected(catalog: Catalog, sign_in: str = SIGN_IN) -> list[tuple[str, Method]]:
    """(call name, method) of every unary RPC outside the sign-in service."""
    public = catalog.methods[sign_in].service if sign_in in catalog.methods else None
    out = []
    for service, methods in sorted(catalog.services().items()):
        if service == public:
            continue
        for m in methods:
            if not m.streaming:
                name = m.name if catalog.methods.get(m.name) is m else f"{service.rsplit('.', 1)[-1]}.{m.name}"
                out.append((name, m))
    return out


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
            return cls(why_not="the sign-in answer says nothing about when its token expires (no expires_in)")
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


def run_auth_probe(client: GrpcClient, catalog: Catalog, expired: ExpiredToken, max_wait: float) -> list[str]:
    """Make the probe's calls; return the sentences saying which case could not be probed."""
    old = client.process
    client.process = PROBE
    try:
        stale = expired.get(max_wait)
        for name, _ in protected(catalog):
            for case, token in (("none", None), ("malformed", MALFORMED), ("expired", stale)):
                if case == "expired" and stale is None:
                    continue
                client.call(name, {}, args={"case": case}, expect="fail", scenario=f"auth:{case}",
                            token=token or None)
    finally:
        client.process = old
    return [] if stale is not None else [f"expired tokens were not probed: {expired.why_not}"]

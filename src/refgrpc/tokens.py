"""Signed, expiring bearer tokens in the JWT shape (HS256: `header.claims.signature`, base64url), so a
client can read a token's `exp` as it would a real service's. The secret lives in the data
directory, so tokens stay valid across a restart (a killed service comes back with its sessions)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from pathlib import Path

HEADER = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').rstrip(b"=")


def _b64(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Tokens:
    def __init__(self, secret_file: Path, ttl: float, refresh_ttl: float):
        if not secret_file.exists():
            secret_file.write_bytes(secrets.token_bytes(32))
        self._key = secret_file.read_bytes()
        self.ttl = ttl
        self.refresh_ttl = refresh_ttl

    def _sign(self, signing_input: bytes) -> bytes:
        return _b64(hmac.new(self._key, signing_input, hashlib.sha256).digest())

    def issue(self, subject: str, kind: str = "access") -> str:
        now = time.time()
        claims = {"sub": subject, "typ": kind, "iat": int(now),
                  "exp": now + (self.ttl if kind == "access" else self.refresh_ttl), "jti": secrets.token_hex(4)}
        signing_input = HEADER + b"." + _b64(json.dumps(claims).encode())
        return (signing_input + b"." + self._sign(signing_input)).decode()

    def verify(self, token: str, kind: str = "access") -> str | None:
        """The subject of a valid, unexpired token of `kind`, else None."""
        signing_input, _, sig = token.rpartition(".")
        if not signing_input or not hmac.compare_digest(sig.encode(), self._sign(signing_input.encode())):
            return None
        try:
            claims = json.loads(_unb64(signing_input.partition(".")[2]))
        except (ValueError, json.JSONDecodeError):
            return None
        if claims.get("typ") != kind or float(claims.get("exp", 0)) < time.time():
            return None
        return claims.get("sub")

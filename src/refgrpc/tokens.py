"""Signed, expiring bearer tokens: `base64(json{sub, typ, exp}).hmac`. The secret lives in the data
directory, so tokens stay valid across a restart (a killed service comes back with its sessions)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from pathlib import Path


class Tokens:
    def __init__(self, secret_file: Path, ttl: float, refresh_ttl: float):
        if not secret_file.exists():
            secret_file.write_bytes(secrets.token_bytes(32))
        self._key = secret_file.read_bytes()
        self.ttl = ttl
        self.refresh_ttl = refresh_ttl

    def _sign(self, body: bytes) -> str:
        return hmac.new(self._key, body, hashlib.sha256).hexdigest()

    def issue(self, subject: str, kind: str = "access") -> str:
        ttl = self.ttl if kind == "access" else self.refresh_ttl
        body = base64.urlsafe_b64encode(json.dumps({"sub": subject, "typ": kind, "exp": time.time() + ttl,
                                                    "n": secrets.token_hex(4)}).encode())
        return f"{body.decode()}.{self._sign(body)}"

    def verify(self, token: str, kind: str = "access") -> str | None:
        """The subject of a valid, unexpired token of `kind`, else None."""
        body, _, sig = token.partition(".")
        if not sig or not hmac.compare_digest(sig, self._sign(body.encode())):
            return None
        try:
            claims = json.loads(base64.urlsafe_b64decode(body.encode()))
        except (ValueError, json.JSONDecodeError):
            return None
        if claims.get("typ") != kind or float(claims.get("exp", 0)) < time.time():
            return None
        return claims.get("sub")

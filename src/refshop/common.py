"""What the three services share: input parsing, JSON responses, errors, SQLite, the base app."""

from __future__ import annotations

import asyncio
import logging
import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web

log = logging.getLogger("refshop")

MAX_AMOUNT = 10**12  # any single amount, price, quantity or credit above this is "absurdly large"
MAX_TOTAL = 2**62  # a stored stock or credit never grows past this (SQLite integers are 64-bit)
MAX_BATCH = 1_000_000  # largest n of a batch_init
_INT_RE = re.compile(r"[0-9]{1,13}")
_ID_RE = re.compile(r"[A-Za-z0-9_\-]{1,64}")

# How long the lost-update flaw waits between its read and its write.
FLAW_SLEEP = 0.005


class ApiError(Exception):
    """A definite failure with no effect: answered with `status` and `{"error": message}`."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def parse_int(value: str, name: str, minimum: int = 0, maximum: int = MAX_AMOUNT) -> int:
    if not _INT_RE.fullmatch(value):
        raise ApiError(400, f"{name} must be an integer between {minimum} and {maximum}, got {value[:40]!r}")
    n = int(value)
    if n < minimum or n > maximum:
        raise ApiError(400, f"{name} must be an integer between {minimum} and {maximum}, got {n}")
    return n


def parse_id(value: str, kind: str) -> str:
    """Ids are opaque, but this shop only ever creates short [A-Za-z0-9_-] ones: others cannot exist."""
    if not _ID_RE.fullmatch(value):
        raise ApiError(404, f"{kind} {value[:80]!r} not found")
    return value


def json_response(obj: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(obj), status=status, content_type="application/json")


async def read_json(request: web.Request) -> Any:
    raw = await request.read()
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise ApiError(400, "request body must be JSON") from None


@web.middleware
async def error_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as exc:
        return json_response({"error": exc.message}, exc.status)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        if exc.status == 404:
            message = f"no such route: {request.method} {request.path}"
        elif exc.status == 405:
            message = f"method {request.method} not allowed on {request.path}"
        else:
            message = exc.reason
        resp = json_response({"error": message}, exc.status)
        if "Allow" in exc.headers:
            resp.headers["Allow"] = exc.headers["Allow"]
        return resp
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("unexpected error in %s %s", request.method, request.path)
        return json_response({"error": "internal error"}, 500)


def open_db(path: str | Path) -> sqlite3.Connection:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Autocommit mode: every transaction is an explicit BEGIN ... COMMIT (see `tx`).
    conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    # NORMAL in WAL mode: a committed transaction survives the process being SIGKILLed (it is in
    # the WAL file, in the OS page cache); only an OS crash or power loss could lose the last ones.
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA busy_timeout=5000")
    return conn


@contextmanager
def tx(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One short write transaction. Never `await` inside it: that is what makes it atomic."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
        conn.execute("COMMIT")
    except BaseException:
        # Also when COMMIT itself failed (a deferred constraint, a full disk, SQLITE_BUSY): SQLite
        # then keeps the transaction open, and on this shared connection every later BEGIN would fail.
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


async def health(request: web.Request) -> web.Response:
    return json_response({"status": "ok"})


def base_app(openapi: dict[str, Any], conn: Any = None) -> web.Application:
    """The parts every service shares: errors as JSON, /health, /openapi.json, and closing its
    database connection (`conn`) on shutdown."""
    app = web.Application(middlewares=[error_middleware], client_max_size=1024**2)
    body = orjson.dumps(openapi)

    async def schema(request: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/json")

    app.router.add_get("/health", health)
    app.router.add_get("/openapi.json", schema)
    if conn is not None:
        async def close(app: web.Application) -> None:
            conn.close()

        app.on_cleanup.append(close)
    return app

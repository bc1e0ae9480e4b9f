"""Durable storage: users (salted password hashes, never the password) and vacancies in SQLite.

WAL with synchronous=FULL: a write is on disk before its RPC is acknowledged, so a SIGKILL never
loses an acknowledged create, update or delete. Times are integer nanoseconds since the epoch.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import sqlite3
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class Vacancy:
    id: str
    title: str
    description: str
    views: int
    division: int
    country: str
    version: int
    created_at: int
    updated_at: int


@dataclass
class User:
    id: str
    name: str
    email: str
    role: str
    created_at: int


FIELDS = "id, title, description, views, division, country, version, created_at, updated_at"
UPDATABLE = ("title", "description", "views", "division", "country")


def _hash(password: str, salt: bytes) -> bytes:
    return hashlib.pbkdf2_hmac("sha256", password.encode(), salt, 10_000)


class Store:
    def __init__(self, path: Path):
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("CREATE TABLE IF NOT EXISTS users (email TEXT PRIMARY KEY, salt BLOB, hash BLOB, "
                             "id TEXT, name TEXT, role TEXT, created_at INTEGER)")
            self._db.execute("CREATE TABLE IF NOT EXISTS vacancies (seq INTEGER PRIMARY KEY AUTOINCREMENT, "
                             "id TEXT UNIQUE, title TEXT, description TEXT, views INTEGER, division INTEGER, "
                             "country TEXT, version INTEGER, created_at INTEGER, updated_at INTEGER)")

    # -- users ---------------------------------------------------------------------------------
    def put_user(self, email: str, password: str, name: str = "") -> User:
        salt = secrets.token_bytes(16)
        user = User(uuid.uuid4().hex, name or email.partition("@")[0], email, "user", time.time_ns())
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO users VALUES (?, ?, ?, ?, ?, ?, ?)",
                             (email, salt, _hash(password, salt), user.id, user.name, user.role, user.created_at))
        return user

    def check_password(self, email: str, password: str) -> bool:
        with self._lock:
            row = self._db.execute("SELECT salt, hash FROM users WHERE email = ?", (email,)).fetchone()
        return row is not None and hmac.compare_digest(row[1], _hash(password, row[0]))

    def user(self, email: str) -> User | None:
        with self._lock:
            row = self._db.execute("SELECT id, name, email, role, created_at FROM users WHERE email = ?",
                                   (email,)).fetchone()
        return User(*row) if row else None

    # -- vacancies -------------------------------------------------------------------------------
    def create(self, title: str, description: str, division: int, country: str) -> Vacancy:
        now = time.time_ns()
        v = Vacancy(uuid.uuid4().hex, title, description, 0, division, country, 1, now, now)
        with self._lock:
            self._db.execute(f"INSERT INTO vacancies ({FIELDS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                             (v.id, v.title, v.description, v.views, v.division, v.country, v.version,
                              v.created_at, v.updated_at))
        return v

    def update(self, vid: str, changes: dict[str, Any]) -> Vacancy | None:
        """Change the given fields only (any of UPDATABLE); the version goes up by one."""
        sets = "".join(f"{name} = ?, " for name in changes if name in UPDATABLE)
        values = [v for name, v in changes.items() if name in UPDATABLE]
        with self._lock:
            row = self._db.execute(f"UPDATE vacancies SET {sets}version = version + 1, updated_at = ? WHERE id = ? "
                                   f"RETURNING {FIELDS}", (*values, time.time_ns(), vid)).fetchone()
        return Vacancy(*row) if row else None

    def get(self, vid: str) -> Vacancy | None:
        with self._lock:
            row = self._db.execute(f"SELECT {FIELDS} FROM vacancies WHERE id = ?", (vid,)).fetchone()
        return Vacancy(*row) if row else None

    def delete(self, vid: str) -> bool:
        with self._lock:
            return self._db.execute("DELETE FROM vacancies WHERE id = ?", (vid,)).rowcount > 0

    def page(self, page: int, limit: int) -> list[Vacancy]:
        with self._lock:
            rows = self._db.execute(f"SELECT {FIELDS} FROM vacancies ORDER BY seq LIMIT ? OFFSET ?",
                                    (limit, (page - 1) * limit)).fetchall()
        return [Vacancy(*r) for r in rows]

"""Durable storage: users (salted password hashes, never the password) and vacancies in SQLite.

WAL with synchronous=FULL: a write is on disk before its RPC is acknowledged, so a SIGKILL never
loses an acknowledged create, update or delete.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import sqlite3
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Vacancy:
    id: str
    title: str
    description: str
    views: int
    division: int
    country: str
    version: int


FIELDS = "id, title, description, views, division, country, version"


def _hash(password: str, salt: bytes) -> bytes:
    return hashlib.pbkdf2_hmac("sha256", password.encode(), salt, 10_000)


class Store:
    def __init__(self, path: Path):
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("CREATE TABLE IF NOT EXISTS users (email TEXT PRIMARY KEY, salt BLOB, hash BLOB)")
            self._db.execute("CREATE TABLE IF NOT EXISTS vacancies (seq INTEGER PRIMARY KEY AUTOINCREMENT, "
                             "id TEXT UNIQUE, title TEXT, description TEXT, views INTEGER, division INTEGER, "
                             "country TEXT, version INTEGER)")

    # -- users ---------------------------------------------------------------------------------
    def put_user(self, email: str, password: str) -> None:
        salt = secrets.token_bytes(16)
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO users VALUES (?, ?, ?)", (email, salt, _hash(password, salt)))

    def check_password(self, email: str, password: str) -> bool:
        with self._lock:
            row = self._db.execute("SELECT salt, hash FROM users WHERE email = ?", (email,)).fetchone()
        return row is not None and hmac.compare_digest(row[1], _hash(password, row[0]))

    def has_user(self, email: str) -> bool:
        with self._lock:
            return self._db.execute("SELECT 1 FROM users WHERE email = ?", (email,)).fetchone() is not None

    # -- vacancies -------------------------------------------------------------------------------
    def create(self, title: str, description: str, division: int, country: str) -> Vacancy:
        v = Vacancy(uuid.uuid4().hex, title, description, 0, division, country, 1)
        with self._lock:
            self._db.execute(f"INSERT INTO vacancies ({FIELDS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                             (v.id, v.title, v.description, v.views, v.division, v.country, v.version))
        return v

    def update(self, vid: str, title: str, description: str, views: int, division: int, country: str) -> Vacancy | None:
        with self._lock:
            row = self._db.execute(
                "UPDATE vacancies SET title = ?, description = ?, views = ?, division = ?, country = ?, "
                f"version = version + 1 WHERE id = ? RETURNING {FIELDS}",
                (title, description, views, division, country, vid)).fetchone()
        return Vacancy(*row) if row else None

    def get(self, vid: str) -> Vacancy | None:
        with self._lock:
            row = self._db.execute(f"SELECT {FIELDS} FROM vacancies WHERE id = ?", (vid,)).fetchone()
        return Vacancy(*row) if row else None

    def delete(self, vid: str) -> bool:
        with self._lock:
            return self._db.execute("DELETE FROM vacancies WHERE id = ?", (vid,)).rowcount > 0

    def page(self, page: int, limit: int) -> tuple[list[Vacancy], int]:
        with self._lock:
            rows = self._db.execute(f"SELECT {FIELDS} FROM vacancies ORDER BY seq LIMIT ? OFFSET ?",
                                    (limit, (page - 1) * limit)).fetchall()
            total = self._db.execute("SELECT COUNT(*) FROM vacancies").fetchone()[0]
        return [Vacancy(*r) for r in rows], total

"""Who the readers are: the default SQLite user store, and how a site plugs in its own.

flask-talk only needs two things from a site's users: find one by id, and check a
username and password. :func:`profile_of` turns whatever the site returns (a dict, a
model object, a Flask-Login user) into the plain profile that goes into tokens and into
the ``/talk/user`` answer.
"""
from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Mapping
from typing import Any
from typing import Protocol

from werkzeug.security import check_password_hash
from werkzeug.security import generate_password_hash

#: Profile fields read from a user object, besides ``id``.
PROFILE_FIELDS = ("username", "email", "display_name", "badges", "role", "url", "avatar")

# Checked when the account does not exist, so an unknown name costs the same hashing time.
_DUMMY_HASH = generate_password_hash("flask-talk timing equaliser")


class UserStore(Protocol):
    """What flask-talk asks of a site's users."""

    def get(self, user_id: str) -> Any | None:
        """The user with this id, or ``None``."""

    def authenticate(self, username: str, password: str) -> Any | None:
        """The user when the credentials are right, else ``None``."""


def profile_of(user: Any) -> dict[str, Any]:
    """The public profile of a user given as a mapping or an object (``id`` always a string)."""
    get = user.get if isinstance(user, Mapping) else lambda name: getattr(user, name, None)
    user_id = get("id")
    if user_id is None and hasattr(user, "get_id"):
        user_id = user.get_id()
    profile = {"id": None if user_id is None else str(user_id)}
    for name in PROFILE_FIELDS:
        value = get(name)
        if value not in (None, "", [], ()):
            profile[name] = value
    if isinstance(user, Mapping):
        for name, value in user.get("profile", {}).items():
            profile.setdefault(name, value)
    return profile


class SQLiteUserStore:
    """The default users: a table in the instance SQLite file, passwords hashed by Werkzeug."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._local = threading.local()
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        self._db().executescript(
            "CREATE TABLE IF NOT EXISTS talk_users (id TEXT PRIMARY KEY, username TEXT NOT NULL "
            "UNIQUE COLLATE NOCASE, email TEXT NOT NULL, display_name TEXT, password_hash TEXT NOT NULL)"
        )

    def _db(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None or self._local.pid != os.getpid():
            conn = sqlite3.connect(self.path, timeout=2.0, isolation_level=None)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            self._local.conn, self._local.pid = conn, os.getpid()
        return conn

    @staticmethod
    def _row(row: sqlite3.Row | None) -> dict[str, Any] | None:
        if row is None:
            return None
        user = dict(row)
        user.pop("password_hash", None)
        return {k: v for k, v in user.items() if v is not None}

    def get(self, user_id: str) -> dict[str, Any] | None:
        row = self._db().execute("SELECT * FROM talk_users WHERE id = ?", (str(user_id),)).fetchone()
        return self._row(row)

    def authenticate(self, username: str, password: str) -> dict[str, Any] | None:
        row = self._db().execute(
            "SELECT * FROM talk_users WHERE username = ?", (username,)
        ).fetchone()
        if row is None:
            check_password_hash(_DUMMY_HASH, password)
            return None
        if not check_password_hash(row["password_hash"], password):
            return None
        return self._row(row)

    def create(self, user_id: str, username: str, email: str, password: str,
               display_name: str | None = None) -> dict[str, Any]:
        """Add a user; raises ``ValueError`` when the id or username is taken."""
        if not password or len(password) < 8:
            raise ValueError("the password must be at least 8 characters")
        try:
            self._db().execute(
                "INSERT INTO talk_users VALUES (?, ?, ?, ?, ?)",
                (str(user_id), username, email.strip().lower(), display_name,
                 generate_password_hash(password)),
            )
        except sqlite3.IntegrityError:
            raise ValueError(f"a user with id {user_id!r} or username {username!r} exists") from None
        return self.get(user_id) or {}

    def delete(self, user_id: str) -> bool:
        """Remove a user; returns whether one was removed."""
        return self._db().execute("DELETE FROM talk_users WHERE id = ?", (str(user_id),)).rowcount > 0


class SiteUsers:
    """The users flask-talk asks, decided at each call so the order of set-up does not matter.

    In order: the site's ``@talk.user_loader`` / ``@talk.credentials_checker`` callbacks
    (registered before or after ``init_app``); for lookups, a Flask-Login site's own
    ``user_loader``; otherwise the default SQLite store in the instance folder, created
    on first use.
    """

    def __init__(self, callbacks: Any, database: str) -> None:
        self._callbacks = callbacks
        self._database = database
        self._sqlite: SQLiteUserStore | None = None

    def builtin(self) -> SQLiteUserStore | None:
        """The default SQLite store, or ``None`` when the site brings its own users."""
        if self._callbacks.find_user is not None or self._flask_login_loader() is not None:
            return None
        if self._sqlite is None:
            self._sqlite = SQLiteUserStore(self._database)
        return self._sqlite

    @staticmethod
    def _flask_login_loader() -> Any | None:
        from flask import current_app

        manager = getattr(current_app, "login_manager", None)
        return getattr(manager, "_user_callback", None)

    def get(self, user_id: str) -> Any | None:
        if self._callbacks.find_user is not None:
            return self._callbacks.find_user(user_id)
        loader = self._flask_login_loader()
        if loader is not None:
            return loader(user_id)
        store = self.builtin()
        return store.get(user_id) if store is not None else None

    def can_authenticate(self) -> bool:
        """Whether ``/talk/login`` can check passwords (else the site signs readers in itself)."""
        return self._callbacks.check_credentials is not None or self.builtin() is not None

    def authenticate(self, username: str, password: str) -> Any | None:
        if self._callbacks.check_credentials is not None:
            return self._callbacks.check_credentials(username, password)
        store = self.builtin()
        if store is None:
            raise RuntimeError(
                "this site brings its own users: register @talk.credentials_checker to use /talk/login"
            )
        return store.authenticate(username, password)

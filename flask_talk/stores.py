"""Where revoked token ids, issued-token tracking and login failures live.

Both stores answer the same four questions and fail *closed*: any backend problem
raises :class:`StoreUnavailable`, which the routes turn into a 503, never into an
accepted token or a silently lost revocation.

* :class:`SQLiteStateStore`: the default, a file in the app's instance folder; shared
  by every process on one machine, survives restarts.
* :class:`RedisStateStore`: when ``TALK_REDIS_URL`` is set; shared by every machine.
"""
from __future__ import annotations

import os
import random
import sqlite3
import threading
import time
from collections.abc import Callable
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from typing import Protocol
from typing import TypeVar

from .errors import StoreUnavailable

T = TypeVar("T")


class StateStore(Protocol):
    """The interface both backends implement."""

    def track(self, session_id: str, jti: str, expires_at: float) -> None:
        """Remember that ``jti`` was issued to ``session_id`` (revoked together at logout)."""

    def revoke_session(self, session_id: str, until: float) -> int:
        """Revoke the session and every live token issued to it; returns how many tokens."""

    def revoke(self, jti: str, until: float) -> None:
        """Refuse ``jti`` until ``until`` (its ``exp``)."""

    def is_revoked(self, *ids: str) -> bool:
        """Whether any of the token ids (or ``sid:`` session ids) is revoked."""

    def add_attempt(self, keys: list[str], window: float) -> tuple[int, str]:
        """Count a sign-in attempt against each key *before* the password is checked.

        Returns the highest count in the window (this attempt included) and a marker for
        :meth:`withdraw_attempt`. Counting first means parallel attempts cannot all slip
        under the limit while the password hashes run.
        """

    def withdraw_attempt(self, keys: list[str], marker: str) -> None:
        """Uncount an attempt that succeeded or was refused without a password check."""

    def failures(self, key: str, window: float) -> tuple[int, float]:
        """``(failures in the window, seconds until the oldest one leaves it)``."""

    def clear_failures(self, key: str) -> None:
        """Forget an account's failures after a successful login."""


#: Share of ``track`` and ``add_attempt`` calls that also prune old rows (amortised clean-up).
PRUNE_PROBABILITY = 0.01
#: How long failed sign-ins are kept (``clear_failures`` and ``prune`` drop older ones).
FAILURE_RETENTION_SECONDS = 86400.0

SCHEMA = """
CREATE TABLE IF NOT EXISTS talk_revoked (id TEXT PRIMARY KEY, until REAL NOT NULL);
CREATE TABLE IF NOT EXISTS talk_issued (sid TEXT NOT NULL, jti TEXT NOT NULL, until REAL NOT NULL,
                                        PRIMARY KEY (sid, jti));
CREATE TABLE IF NOT EXISTS talk_failures (key TEXT NOT NULL, at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS talk_failures_key ON talk_failures (key, at);
"""


def session_key(session_id: str) -> str:
    return "sid:" + session_id


class SQLiteStateStore:
    """The default store: one SQLite file (WAL mode), one connection per thread and process."""

    def __init__(self, path: str, busy_timeout: float = 2.0) -> None:
        self.path = path
        self.busy_timeout = busy_timeout
        self._local = threading.local()
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with self._connect() as conn:
            conn.executescript(SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(self.path, timeout=self.busy_timeout, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
        except sqlite3.Error as exc:
            raise StoreUnavailable("sqlite", type(exc).__name__ + ": " + str(exc)) from None
        return conn

    def _conn(self) -> sqlite3.Connection:
        # The file must still be the one we created: a deleted file would otherwise
        # swallow writes into an unlinked inode and lose revocations silently.
        try:
            inode = os.stat(self.path).st_ino
        except OSError:
            raise StoreUnavailable("sqlite", f"the database file {self.path} is missing") from None
        conn = getattr(self._local, "conn", None)
        if conn is None or self._local.pid != os.getpid() or self._local.inode != inode:
            conn = self._connect()
            self._local.conn, self._local.pid, self._local.inode = conn, os.getpid(), inode
        return conn

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (``BEGIN IMMEDIATE``); any SQLite error becomes a 503."""
        try:
            conn = self._conn()
            with conn:
                conn.execute("BEGIN IMMEDIATE")
                yield conn
        except sqlite3.Error as exc:
            self._local.conn = None
            raise StoreUnavailable("sqlite", type(exc).__name__ + ": " + str(exc)) from None

    def _run(self, sql: str, params: tuple = (), *, many: list[tuple] | None = None) -> list[tuple]:
        if many is not None:
            with self._transaction() as conn:
                conn.executemany(sql, many)
            return []
        try:
            return self._conn().execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            self._local.conn = None
            raise StoreUnavailable("sqlite", type(exc).__name__ + ": " + str(exc)) from None

    def track(self, session_id: str, jti: str, expires_at: float) -> None:
        self._run("INSERT OR REPLACE INTO talk_issued VALUES (?, ?, ?)", (session_id, jti, expires_at))
        self._maybe_prune()

    def _maybe_prune(self) -> None:
        if random.random() < PRUNE_PROBABILITY:
            self.prune()

    def prune(self, now: float | None = None) -> None:
        """Drop rows of expired tokens and of failed sign-ins older than a day, so the file
        grows neither with page views nor with password guesses."""
        now = time.time() if now is None else now
        self._run("DELETE FROM talk_issued WHERE until <= ?", (now,))
        self._run("DELETE FROM talk_revoked WHERE until <= ?", (now,))
        self._run("DELETE FROM talk_failures WHERE at < ?", (now - FAILURE_RETENTION_SECONDS,))

    def revoke_session(self, session_id: str, until: float) -> int:
        now = time.time()
        with self._transaction() as conn:
            rows = conn.execute(
                "SELECT jti, until FROM talk_issued WHERE sid = ? AND until > ?", (session_id, now)
            ).fetchall()
            conn.executemany("INSERT OR REPLACE INTO talk_revoked VALUES (?, ?)",
                             rows + [(session_key(session_id), until)])
            conn.execute("DELETE FROM talk_issued WHERE sid = ? OR until <= ?", (session_id, now))
            conn.execute("DELETE FROM talk_revoked WHERE until <= ?", (now,))
        return len(rows)

    def revoke(self, jti: str, until: float) -> None:
        self._run("INSERT OR REPLACE INTO talk_revoked VALUES (?, ?)", (jti, until))

    def is_revoked(self, *ids: str) -> bool:
        marks = ",".join("?" * len(ids))
        rows = self._run(f"SELECT 1 FROM talk_revoked WHERE id IN ({marks}) AND until > ? LIMIT 1",
                         (*ids, time.time()))
        return bool(rows)

    def add_attempt(self, keys: list[str], window: float) -> tuple[int, str]:
        now = time.time() + random.random() * 1e-4  # the marker: unique per attempt
        # One write transaction: each attempt's count is exactly its place in line.
        with self._transaction() as conn:
            conn.executemany("INSERT INTO talk_failures VALUES (?, ?)", [(key, now) for key in keys])
            count = max(conn.execute(
                "SELECT COUNT(*) FROM talk_failures WHERE key = ? AND at > ?", (key, now - window)
            ).fetchone()[0] for key in keys)
        self._maybe_prune()
        return count, repr(now)

    def withdraw_attempt(self, keys: list[str], marker: str) -> None:
        self._run("DELETE FROM talk_failures WHERE at = ? AND key IN (%s)" % ",".join("?" * len(keys)),
                  (float(marker), *keys))

    def failures(self, key: str, window: float) -> tuple[int, float]:
        since = time.time() - window
        count, oldest = self._run(
            "SELECT COUNT(*), MIN(at) FROM talk_failures WHERE key = ? AND at > ?", (key, since)
        )[0]
        return count, (oldest - since) if oldest is not None else 0.0

    def clear_failures(self, key: str) -> None:
        self._run("DELETE FROM talk_failures WHERE key = ? OR at < ?",
                  (key, time.time() - FAILURE_RETENTION_SECONDS))


def talk_revocation_key(jti: str) -> str:
    """The key Talk 4 itself keeps a revoked token id under (``services/passport.js``).

    With the same ``TALK_REDIS_URL`` on both sides, a logout on the site is refused by Talk
    too, and a sign-out in Talk's comment box is refused on ``/talk/user``.
    """
    return f"jtir[{jti}]"


class RedisStateStore:
    """The shared store for several processes and machines (``TALK_REDIS_URL``).

    Revoked token ids live under Talk's own keys (:func:`talk_revocation_key`), so a Redis
    shared with Talk carries revocations both ways; everything else is under ``prefix``.
    """

    def __init__(self, url: str, prefix: str = "flask_talk:", timeout: float = 1.0) -> None:
        import redis

        self._errors = (redis.RedisError, OSError)
        self.prefix = prefix
        self.client = redis.Redis.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout, health_check_interval=0
        )

    def _key(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)

    def _revoked_key(self, revoked_id: str) -> str:
        """Session ids under our prefix; token ids where Talk looks for them."""
        if revoked_id.startswith(session_key("")):
            return self._key("revoked", revoked_id)
        return talk_revocation_key(revoked_id)

    @staticmethod
    def _revocation_mark() -> str:
        # Talk stores the time of the revocation; any value counts as revoked.
        return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())

    def _do(self, work: Callable[[Any], T]) -> T:
        try:
            return work(self.client)
        except self._errors as exc:
            raise StoreUnavailable("redis", type(exc).__name__) from None

    def track(self, session_id: str, jti: str, expires_at: float) -> None:
        key = self._key("issued", session_id)

        def work(client: Any) -> Any:
            pipe = client.pipeline(transaction=False)
            pipe.zadd(key, {jti: expires_at})
            pipe.expireat(key, int(expires_at) + 1, gt=True)
            pipe.expireat(key, int(expires_at) + 1, nx=True)
            pipe.execute()

        self._do(work)

    def revoke_session(self, session_id: str, until: float) -> int:
        issued = self._key("issued", session_id)
        now = time.time()

        def work(client: Any) -> Any:
            # The session first: a token tracked after the ZRANGE below then sees the
            # revoked session when its minter re-checks (see readers.mint_for_reader).
            client.set(self._revoked_key(session_key(session_id)), 1, exat=int(until) + 1)
            live = client.zrangebyscore(issued, now, "+inf", withscores=True)
            pipe = client.pipeline(transaction=True)
            mark = self._revocation_mark()
            for jti, exp in live:
                pipe.set(self._revoked_key(jti.decode()), mark, exat=int(exp) + 1)
            pipe.delete(issued)
            pipe.execute()
            return len(live)

        return self._do(work)

    def revoke(self, jti: str, until: float) -> None:
        self._do(lambda client: client.set(self._revoked_key(jti), self._revocation_mark(),
                                           exat=int(until) + 1))

    def is_revoked(self, *ids: str) -> bool:
        keys = [self._revoked_key(i) for i in ids]
        return bool(self._do(lambda client: client.exists(*keys)))

    def add_attempt(self, keys: list[str], window: float) -> tuple[int, str]:
        now = time.time()
        marker = f"{now}:{os.urandom(6).hex()}"

        def work(client: Any) -> Any:
            pipe = client.pipeline(transaction=True)
            for key in keys:
                rkey = self._key("failures", key)
                pipe.zadd(rkey, {marker: now})
                pipe.zremrangebyscore(rkey, "-inf", now - window)
                pipe.zcard(rkey)
                pipe.expire(rkey, int(window) + 1)
            results = pipe.execute()
            return max(results[2::4])

        return self._do(work), marker

    def withdraw_attempt(self, keys: list[str], marker: str) -> None:
        def work(client: Any) -> Any:
            pipe = client.pipeline(transaction=False)
            for key in keys:
                pipe.zrem(self._key("failures", key), marker)
            return pipe.execute()

        self._do(work)

    def failures(self, key: str, window: float) -> tuple[int, float]:
        rkey = self._key("failures", key)
        since = time.time() - window

        def work(client: Any) -> Any:
            pipe = client.pipeline(transaction=False)
            pipe.zcount(rkey, f"({since}", "+inf")
            pipe.zrangebyscore(rkey, f"({since}", "+inf", start=0, num=1, withscores=True)
            count, oldest = pipe.execute()
            return count, (oldest[0][1] - since) if oldest else 0.0

        return self._do(work)

    def clear_failures(self, key: str) -> None:
        self._do(lambda client: client.delete(self._key("failures", key)))

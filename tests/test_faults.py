"""Store faults on the default SQLite store: a database locked by another connection, a file
that disappears, a file replaced by an empty one. Every answer is 503 JSON or the right
answer, never a 500, never a revoked token accepted; a failed logout keeps the session."""
from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from flask_talk.readers import USER_KEY

from .conftest import PASSWORDS
from .conftest import embed_config

JSON = {"Accept": "application/json"}


class Reader:
    """A signed-in reader with their own cookie jar."""

    def __init__(self, app: Any, username: str) -> None:
        self.client = app.test_client()
        self.csrf = ""
        response = self.client.post("/talk/login", json={"username": username, "password": PASSWORDS[username],
                                                         "csrf_token": self.fresh_csrf()})
        assert response.status_code == 200
        self.fresh_csrf()

    def fresh_csrf(self) -> str:
        self.csrf = self.client.get("/talk/login", headers=JSON).get_json()["csrf_token"]
        return self.csrf

    def mint(self) -> Any:
        return self.client.post("/talk/token", headers={"X-CSRFToken": self.csrf})

    def logout(self) -> Any:
        return self.client.post("/talk/logout", headers={"X-CSRFToken": self.csrf, **JSON})

    def signed_in(self) -> bool:
        with self.client.session_transaction() as session:
            return USER_KEY in session


def lookup(app: Any, token: str) -> Any:
    return app.test_client().get("/talk/user", headers={"Authorization": "Bearer " + token})


def assert_unavailable(response: Any) -> None:
    assert response.status_code == 503, response.get_data(as_text=True)[:300]
    body = response.get_json()
    assert body["error"] == "temporarily_unavailable" and body["error_description"]
    assert response.headers["Retry-After"]


def assert_anonymous_or_unavailable(page: Any) -> None:
    """An embed without a token (the stream, signed out) or a 503: never an untracked token."""
    if page.status_code == 503:
        assert_unavailable(page)
    else:
        assert page.status_code == 200
        assert "token" not in embed_config(page.get_data(as_text=True))


@pytest.fixture
def world(app: Any) -> dict[str, Any]:
    """alice signed in with a live token; bob's token revoked by his logout."""
    store = app.extensions["talk"].store
    store.busy_timeout = 0.3  # the test waits less; the behaviour is the same as with 2 s
    store._local.conn = None
    alice = Reader(app, "alice")
    live = alice.mint().get_json()["token"]
    bob = Reader(app, "bob")
    revoked = bob.mint().get_json()["token"]
    assert bob.logout().status_code == 200
    assert lookup(app, live).status_code == 200
    assert lookup(app, revoked).status_code == 401
    return {"alice": alice, "live": live, "revoked": revoked, "path": store.path}


@contextmanager
def locked(path: str) -> Iterator[None]:
    """Another connection holds the write lock (BEGIN EXCLUSIVE plus a pending write)."""
    other = sqlite3.connect(path, isolation_level=None, timeout=5)
    other.execute("BEGIN EXCLUSIVE")
    other.execute("INSERT INTO talk_failures VALUES ('lock-holder', 0)")
    try:
        yield
    finally:
        other.execute("ROLLBACK")
        other.close()


def test_locked_database(app: Any, world: dict[str, Any]) -> None:
    alice = world["alice"]
    with locked(world["path"]):
        # Reads still see a consistent database (WAL): answers are right or 503, never 500.
        assert lookup(app, world["live"]).status_code in (200, 503)
        refused = lookup(app, world["revoked"])
        assert refused.status_code in (401, 503)
        # Every write fails closed.
        assert_unavailable(alice.mint())
        assert_unavailable(alice.logout())
        assert alice.signed_in(), "a failed logout must keep the session"
        carol = app.test_client()
        csrf = carol.get("/talk/login", headers=JSON).get_json()["csrf_token"]
        assert_unavailable(carol.post("/talk/login", json={"username": "carol", "password": "wrong-pass",
                                                           "csrf_token": csrf}))
        assert_unavailable(carol.post("/talk/login", json={"username": "carol", "password": PASSWORDS["carol"],
                                                           "csrf_token": csrf}))
        with carol.session_transaction() as session:
            assert USER_KEY not in session
        # The embed falls back to the anonymous stream rather than an untracked token.
        assert_anonymous_or_unavailable(alice.client.get("/talk/embed?asset_url=https://news.example/a"))
    # The lock is gone: the same reader signs out for real, and the token is refused.
    assert alice.mint().status_code == 200
    assert alice.logout().status_code == 200
    assert lookup(app, world["live"]).status_code == 401
    assert lookup(app, world["revoked"]).status_code == 401


def _move(path: str, suffix: str) -> list[tuple[str, str]]:
    moved = []
    for name in (path, path + "-wal", path + "-shm"):
        if os.path.exists(name):
            os.rename(name, name + suffix)
            moved.append((name + suffix, name))
    return moved


def test_missing_database_file(app: Any, world: dict[str, Any]) -> None:
    alice = world["alice"]
    moved = _move(world["path"], ".away")
    try:
        for token in (world["live"], world["revoked"]):
            assert_unavailable(lookup(app, token))
        assert_unavailable(alice.mint())
        assert_unavailable(alice.logout())
        assert alice.signed_in()
        carol = app.test_client()
        csrf = carol.get("/talk/login", headers=JSON).get_json()["csrf_token"]
        assert_unavailable(carol.post("/talk/login", json={"username": "carol", "password": PASSWORDS["carol"],
                                                           "csrf_token": csrf}))
        assert_anonymous_or_unavailable(alice.client.get("/talk/embed?asset_url=https://news.example/a"))
        assert not os.path.exists(world["path"]), "the store must not recreate an empty file"
    finally:
        for source, target in moved:
            os.rename(source, target)
    # The file is back: everything works again, and the old revocation still holds.
    assert lookup(app, world["live"]).status_code == 200
    assert lookup(app, world["revoked"]).status_code == 401
    assert alice.logout().status_code == 200
    assert lookup(app, world["live"]).status_code == 401


def test_database_replaced_by_an_empty_file(app: Any, world: dict[str, Any]) -> None:
    """A restored-from-nothing file must not turn revoked tokens valid again."""
    moved = _move(world["path"], ".old")
    try:
        sqlite3.connect(world["path"]).close()
        assert_unavailable(lookup(app, world["revoked"]))
        assert_unavailable(lookup(app, world["live"]))
        assert_unavailable(world["alice"].logout())
        assert world["alice"].signed_in()
    finally:
        for name in (world["path"], world["path"] + "-wal", world["path"] + "-shm"):
            if os.path.exists(name):
                os.remove(name)
        for source, target in moved:
            os.rename(source, target)
    assert lookup(app, world["revoked"]).status_code == 401


@pytest.mark.parametrize("path", ["/talk/user", "/talk/token", "/talk/logout", "/talk/embed", "/talk/login",
                                  "/", "/articles/harbour-reopens"])
def test_site_pages_with_a_session_never_500_when_the_store_is_gone(app: Any, world: dict[str, Any],
                                                                    path: str) -> None:
    alice = world["alice"]
    moved = _move(world["path"], ".gone")
    try:
        if path == "/talk/user":
            response = alice.client.get(path, headers={"Authorization": "Bearer " + world["live"]})
        elif path in ("/talk/embed", "/talk/login", "/", "/articles/harbour-reopens"):
            response = alice.client.get(path)
        else:
            response = alice.client.post(path, headers={"X-CSRFToken": alice.csrf, **JSON})
        assert response.status_code in (200, 503)
        if response.status_code == 503:
            assert_unavailable(response)
        assert world["live"] not in response.get_data(as_text=True)
    finally:
        for source, target in moved:
            os.rename(source, target)

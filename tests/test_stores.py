"""The default SQLite store: a real file, shared by connections, pruned as tokens expire."""
from __future__ import annotations

import time

from flask_talk import stores
from flask_talk.stores import SQLiteStateStore
from flask_talk.stores import session_key


def test_logout_revokes_every_live_token_of_the_session(tmp_path):
    store = SQLiteStateStore(str(tmp_path / "s.sqlite3"))
    now = time.time()
    store.track("sid-1", "jti-a", now + 60)
    store.track("sid-1", "jti-b", now + 120)
    store.track("sid-1", "jti-old", now - 5)
    store.track("sid-2", "jti-c", now + 60)
    assert store.revoke_session("sid-1", now + 3600) == 2
    again = SQLiteStateStore(str(tmp_path / "s.sqlite3"))  # another process would see the same
    assert again.is_revoked("jti-a") and again.is_revoked("jti-b")
    assert again.is_revoked(session_key("sid-1"))
    assert not again.is_revoked("jti-c") and not again.is_revoked("jti-old")


def test_prune_drops_only_expired_rows(tmp_path):
    store = SQLiteStateStore(str(tmp_path / "s.sqlite3"))
    now = time.time()
    store.track("sid", "gone", now - 1)
    store.track("sid", "live", now + 60)
    store.revoke("revoked-gone", now - 1)
    store.revoke("revoked-live", now + 60)
    store.prune(now)
    rows = store._run("SELECT jti FROM talk_issued")
    assert rows == [("live",)]
    assert store._run("SELECT id FROM talk_revoked") == [("revoked-live",)]


def failures(store):
    return store._run("SELECT key FROM talk_failures ORDER BY key")


def test_prune_drops_login_failures_older_than_a_day(tmp_path):
    store = SQLiteStateStore(str(tmp_path / "s.sqlite3"))
    store.add_attempt(["account:a", "address:1"], 900)
    store.prune()
    assert failures(store) == [("account:a",), ("address:1",)]  # within the day: kept
    store.prune(time.time() + 86400 + 60)
    assert failures(store) == []


def test_login_attempts_prune_too(tmp_path, monkeypatch):
    """Failed sign-ins alone (no token ever minted) must not grow the file without end."""
    store = SQLiteStateStore(str(tmp_path / "s.sqlite3"))
    store._run("INSERT INTO talk_failures VALUES (?, ?)", ("account:old", time.time() - 2 * 86400))
    monkeypatch.setattr(stores, "PRUNE_PROBABILITY", 1.0)
    store.add_attempt(["account:new"], 900)
    assert failures(store) == [("account:new",)]


def test_attempts_count_within_the_window_and_can_be_withdrawn(tmp_path):
    store = SQLiteStateStore(str(tmp_path / "s.sqlite3"))
    keys = ["account:a", "address:1"]
    assert store.add_attempt(keys, 900)[0] == 1
    count, marker = store.add_attempt(keys, 900)
    assert count == 2
    store.withdraw_attempt(keys, marker)
    assert store.failures("account:a", 900)[0] == 1
    assert store.add_attempt(keys, 900)[0] == 2
    count, retry_after = store.failures("account:a", 900)
    assert count == 2 and 890 < retry_after <= 900
    store.clear_failures("account:a")
    assert store.failures("account:a", 900)[0] == 0
    assert store.failures("address:1", 900)[0] == 2

"""Several app processes sharing one real redis-server (``TALK_REDIS_URL``).

Two demo apps run under gunicorn on different loopback ports, like two machines of a site:
a logout on one revokes the token on the other, login failures count on both, and when
Redis dies both answer 503 JSON, then recover by themselves when Redis is back.
"""
from __future__ import annotations

import time
from typing import Any

import pytest

from .realparts import RedisServer
from .servers import AppServer
from .servers import Browser
from .servers import lookup

pytestmark = pytest.mark.redis


def assert_unavailable(answer: tuple[int, dict[str, str], Any]) -> None:
    status, headers, body = answer
    assert status == 503, answer
    assert body["error"] == "temporarily_unavailable" and body["error_description"]
    assert int(headers["Retry-After"]) >= 1


@pytest.fixture(scope="module")
def redis_for_apps() -> Any:
    server = RedisServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def two_apps(redis_for_apps: RedisServer, tmp_path_factory: pytest.TempPathFactory) -> Any:
    servers = []
    try:
        for name in ("a", "b"):
            servers.append(AppServer(tmp_path_factory.mktemp("app-" + name), TALK_REDIS_URL=redis_for_apps.url))
        yield servers[0].url, servers[1].url
    finally:
        for server in servers:
            server.stop()


@pytest.fixture
def flushed(redis_for_apps: RedisServer) -> None:
    import redis

    client = redis.Redis.from_url(redis_for_apps.url)
    client.flushdb()
    client.close()


def test_logout_on_one_process_revokes_on_the_other(two_apps: tuple[str, str], flushed: None) -> None:
    a, b = two_apps
    reader = Browser()
    assert reader.login(a, "alice")[0] == 200
    status, minted = reader.token(a)
    assert status == 200
    token = minted["token"]
    assert lookup(b, token)[0] == 200
    # The session cookie is the site's: process B knows the reader too.
    assert reader.token(b)[0] == 200
    status, _, body = reader.logout(a)
    assert status == 200 and body["revoked_tokens"] == 2
    status, headers, body = lookup(b, token)
    assert status == 401 and "revoked" in body["error_description"]
    assert 'error="invalid_token"' in headers["WWW-Authenticate"]
    assert lookup(a, token)[0] == 401


def test_a_copied_cookie_is_dead_on_every_process_after_logout(two_apps: tuple[str, str], flushed: None) -> None:
    a, b = two_apps
    reader = Browser()
    reader.login(a, "bob")
    thief = Browser()
    for cookie in reader.jar:
        thief.jar.set_cookie(cookie)
    thief.refresh_csrf(b)
    assert thief.token(b)[0] == 200
    assert reader.logout(b)[0] == 200
    thief.refresh_csrf(a)
    assert thief.token(a)[0] == 401


def test_login_failures_are_counted_across_processes(two_apps: tuple[str, str], flushed: None) -> None:
    a, b = two_apps
    reader = Browser()
    for n in range(5):
        status, _, body = reader.login(a if n % 2 else b, "carol", "wrong-password")
        assert status == 401 and body["error"] == "invalid_credentials"
    for server in (a, b):
        status, headers, body = reader.login(server, "carol")
        assert status == 429 and body["error"] == "too_many_attempts"
        assert int(headers["Retry-After"]) >= 1
    # All five failures came from 127.0.0.1: the address is throttled on both processes too.
    assert reader.login(b, "alice")[0] == 429


def test_redis_dies_then_comes_back(two_apps: tuple[str, str], redis_for_apps: RedisServer, flushed: None) -> None:
    a, b = two_apps
    reader = Browser()
    assert reader.login(a, "alice")[0] == 200
    token = reader.token(a)[1]["token"]
    assert lookup(b, token)[0] == 200

    redis_for_apps.stop()
    try:
        for server in (a, b):
            assert_unavailable(lookup(server, token))
        status, body = reader.token(a)
        assert status == 503 and "token" not in body
        assert_unavailable(reader.logout(a))
        assert_unavailable(Browser().login(b, "bob"))
        assert lookup(a, "not.a.token")[0] == 401  # refused on its face, no store needed
    finally:
        restarted = RedisServer(port=redis_for_apps.port).start()
        redis_for_apps.process = restarted.process

    # Recovery without restarting the apps (an empty Redis: the live token is valid).
    deadline = time.monotonic() + 10
    while lookup(b, token)[0] != 200 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert lookup(b, token)[0] == 200
    # The failed logout kept the session: the reader is still signed in, and signing out
    # now revokes what this Redis knows, on every process. (Tokens tracked only in the
    # lost, unpersisted Redis cannot be: production Redis needs persistence, see README.)
    reader.refresh_csrf(a)
    status, minted = reader.token(a)
    assert status == 200
    assert lookup(b, minted["token"])[0] == 200
    status, _, body = reader.logout(b)
    assert status == 200 and body["revoked_tokens"] == 1
    assert lookup(a, minted["token"])[0] == 401
    assert lookup(b, minted["token"])[0] == 401
    reader.refresh_csrf(a)
    assert reader.token(a)[0] == 401


def test_revocations_are_kept_under_talks_own_redis_keys_both_ways(redis_server, make_app) -> None:
    """Talk 4 refuses a token whose ``jtir[<jti>]`` key exists in its Redis (and writes that
    key when a reader signs out in the comment box): with one TALK_REDIS_URL for both sides,
    a site logout reaches Talk, and a Talk logout reaches /talk/user."""
    import redis
    import webtest

    from .conftest import embed_config
    from .conftest import login

    app = make_app(TALK_REDIS_URL=redis_server.url)
    talk_side = redis.Redis.from_url(redis_server.url, decode_responses=True)
    try:
        site = webtest.TestApp(app)
        assert login(site, "alice").status_int == 302
        page = site.get("/articles/harbour-reopens")
        config = embed_config(page.text)
        token, jti = config["token"], _jti(config["token"])
        assert talk_side.get(f"jtir[{jti}]") is None
        site.post("/talk/logout", {"csrf_token": _csrf(page.text)})
        # What Talk's CheckBlacklisted reads: the key exists, and lives until the token's exp.
        assert talk_side.get(f"jtir[{jti}]")
        ttl = talk_side.ttl(f"jtir[{jti}]")
        assert 0 < ttl <= config["expires_at"] - int(time.time()) + 2
        assert site.get("/talk/user", headers={"Authorization": f"Bearer {token}"}, status=401)

        # A reader who signs out inside Talk's comment box: Talk writes the key itself.
        bob = webtest.TestApp(app)
        assert login(bob, "bob").status_int == 302
        minted = bob.post("/talk/token", headers={"X-CSRFToken": _csrf(bob.get("/").text)}).json
        assert bob.get("/talk/user", headers={"Authorization": f"Bearer {minted['token']}"}).status_int == 200
        talk_side.set(f"jtir[{minted['jti']}]", "2026-12-03T23:59:59.000Z", ex=3600)
        refused = bob.get("/talk/user", headers={"Authorization": f"Bearer {minted['token']}"}, status=401)
        assert "revoked" in refused.json["error_description"]
    finally:
        talk_side.flushdb()
        talk_side.close()


def _jti(token: str) -> str:
    import base64
    import json

    return json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))["jti"]


def _csrf(html: str) -> str:
    from .conftest import csrf_from

    return csrf_from(html)

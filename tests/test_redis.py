"""Several app processes sharing one real redis-server (``TALK_REDIS_URL``).

Two demo apps run under gunicorn on different loopback ports, like two machines of a site:
a logout on one revokes the token on the other, login failures count on both, and when
Redis dies both answer 503 JSON, then recover by themselves when Redis is back.
"""
from __future__ import annotations

import http.cookiejar
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from .conftest import PASSWORDS
from .conftest import ROOT_URL
from .conftest import SECRET
from .realparts import ROOT
from .realparts import RedisServer
from .realparts import free_port
from .realparts import require

pytestmark = pytest.mark.redis


class AppServer:
    """The demo app under gunicorn on a free loopback port; ``stop()`` ends it."""

    def __init__(self, instance: Path, workers: int = 1, **env: str) -> None:
        require("redis-server")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = instance / "gunicorn.log"
        instance.mkdir(parents=True, exist_ok=True)
        environ = {k: v for k, v in os.environ.items() if not k.startswith("TALK_")}
        environ.update(SECRET_KEY="test-session-key-" + "k" * 32, TALK_JWT_SECRET=SECRET,
                       TALK_ROOT_URL=ROOT_URL, DEMO_INSTANCE_PATH=str(instance), **env)
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "-w", str(workers), "--preload", "-b",
                 f"127.0.0.1:{self.port}", "--graceful-timeout", "2", "demo:create_app()"],
                cwd=ROOT, env=environ, stdout=log, stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("gunicorn exited:\n" + self.log_path.read_text()[-2000:])
            try:
                with urllib.request.urlopen(self.url + "/talk/.well-known/jwks.json", timeout=1):
                    pass
            except urllib.error.HTTPError:
                return  # 404 for HMAC keys: the app answers
            except OSError:
                time.sleep(0.1)
                continue
            return
        self.stop()
        raise RuntimeError("gunicorn did not start")

    def worker_pids(self) -> list[int]:
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text()
        return [int(pid) for pid in children.split()]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


class Browser:
    """A reader's cookie jar speaking JSON to any of the servers (cookies ignore ports)."""

    def __init__(self) -> None:
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))
        self.csrf = ""

    def call(self, method: str, url: str, body: dict[str, Any] | None = None,
             headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], Any]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(url, data=data, method=method, headers={
            "Accept": "application/json", **({"Content-Type": "application/json"} if data else {}),
            **({"X-CSRFToken": self.csrf} if self.csrf else {}), **(headers or {})})
        try:
            with self.opener.open(request, timeout=10) as response:
                status, head, raw = response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as error:
            status, head, raw = error.code, dict(error.headers), error.read()
        try:
            return status, head, json.loads(raw)
        except ValueError:
            return status, head, raw.decode("utf-8", "replace")

    def refresh_csrf(self, server: str) -> str:
        status, _, body = self.call("GET", server + "/talk/login")
        if status == 200:
            self.csrf = body["csrf_token"]
        return self.csrf

    def login(self, server: str, username: str, password: str | None = None) -> tuple[int, dict[str, str], Any]:
        self.refresh_csrf(server)
        answer = self.call("POST", server + "/talk/login", {
            "username": username, "password": PASSWORDS[username] if password is None else password})
        self.refresh_csrf(server)
        return answer

    def token(self, server: str) -> tuple[int, Any]:
        status, _, body = self.call("POST", server + "/talk/token")
        return status, body

    def logout(self, server: str) -> tuple[int, dict[str, str], Any]:
        return self.call("POST", server + "/talk/logout")


def lookup(server: str, token: str) -> tuple[int, dict[str, str], Any]:
    return Browser().call("GET", server + "/talk/user", headers={"Authorization": "Bearer " + token})


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

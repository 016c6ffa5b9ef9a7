"""Tokens, secrets and passwords never reach logs, error bodies or exception messages.

A full loop runs over real HTTP (Werkzeug's server in a thread, so its access log is
captured too) with every logger at DEBUG: sign-in (failed and successful), the embed page,
token renewal, Talk's lookup, bad tokens, a store outage, sign-out, lookup of the revoked
token. Then the captured records are searched for every secret value the run handled.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from werkzeug.serving import make_server

from .conftest import PASSWORDS
from .conftest import SECRET
from .conftest import embed_config
from .forging import OTHER_SECRET
from .forging import claims
from .forging import forge
from .realparts import free_port
from .servers import Browser

SESSION_KEY = "test-session-key-" + "k" * 32
WRONG_PASSWORD = "my-Wrong-passw0rd-xyz"
REDIS_PASSWORD = "redis-pass-never-logged-42"


def serve(app: Any) -> Iterator[str]:
    server = make_server("127.0.0.1", free_port(), app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


@pytest.fixture
def live_app(make_app: Any) -> Iterator[tuple[Any, str]]:
    app = make_app(TESTING=False)
    for url in serve(app):
        yield app, url


@pytest.fixture
def capture_everything(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)
    for name in ("werkzeug", "flask_talk", "demo", "authlib", "joserfc", "urllib3", "redis"):
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


def everything_logged(caplog: pytest.LogCaptureFixture) -> str:
    parts = [caplog.text]
    for record in caplog.records:
        parts.append(record.getMessage())
        parts.append(repr(record.args))
        if record.exc_info and record.exc_info[1] is not None:
            parts.append(repr(record.exc_info[1]) + str(record.exc_info[1]))
    return "\n".join(parts)


def assert_absent(haystack: str, secrets: dict[str, str], where: str) -> None:
    for name, value in secrets.items():
        assert value not in haystack, f"{name} appears in {where}"


def test_a_full_loop_leaks_nothing(live_app: tuple[Any, str], capture_everything: Any) -> None:
    app, url = live_app
    reader = Browser()
    tokens: list[str] = []
    errors: list[str] = []

    def keep(answer: tuple[int, Any, Any]) -> tuple[int, Any, Any]:
        if answer[0] >= 400:
            errors.append(str(answer[2]) + str(answer[1]))
        return answer

    assert keep(reader.login(url, "alice", WRONG_PASSWORD))[0] == 401
    assert keep(reader.login(url, "nobody-here", WRONG_PASSWORD))[0] == 401
    assert keep(reader.login(url, "alice"))[0] == 200
    status, _, page = reader.call("GET", url + "/articles/harbour-reopens", headers={"Accept": "text/html"})
    assert status == 200
    tokens.append(embed_config(page)["token"])
    status, _, page = reader.call("GET", url + "/talk/embed?asset_url=https://news.example/a",
                                  headers={"Accept": "text/html"})
    tokens.append(embed_config(page)["token"])
    status, minted = reader.token(url)
    tokens.append(minted["token"])
    for token in tokens:
        assert keep(reader.call("GET", url + "/talk/user", headers={"Authorization": "Bearer " + token}))[0] == 200

    bad = [forge({"alg": "HS256"}, claims(), OTHER_SECRET), forge({"alg": "HS256"}, claims(exp=1)),
           tokens[0][:-3] + "abc", tokens[0] + "x", "Basic " + tokens[0], tokens[0].replace(".", "..", 1)]
    for token in bad:
        header = token if token.startswith("Basic ") else "Bearer " + token
        assert keep(reader.call("GET", url + "/talk/user", headers={"Authorization": header}))[0] == 401
    stale_csrf = reader.csrf
    assert keep(reader.logout(url))[0] == 200
    for token in tokens:
        assert keep(reader.call("GET", url + "/talk/user", headers={"Authorization": "Bearer " + token}))[0] == 401
    reader.csrf = stale_csrf
    assert keep(reader.call("POST", url + "/talk/token"))[0] == 400  # stale CSRF after sign-out

    secrets = {"TALK_JWT_SECRET": SECRET, "SECRET_KEY": SESSION_KEY, "wrong password": WRONG_PASSWORD,
               "other secret": OTHER_SECRET, **{f"password of {u}": p for u, p in PASSWORDS.items()},
               **{f"token {n}": t for n, t in enumerate(tokens + bad)}}
    # Signatures and payload segments on their own must not show up either.
    for n, token in enumerate(tokens):
        secrets[f"signature {n}"] = token.rsplit(".", 1)[1]
    logged = everything_logged(capture_everything)
    assert "GET /talk/user" in logged, "the access log was not captured: the test would prove nothing"
    assert_absent(logged, secrets, "the logs")
    assert len(errors) >= 10
    assert_absent("\n".join(errors), secrets, "an error answer")


def test_store_outage_logs_no_redis_password(make_app: Any, capture_everything: Any) -> None:
    redis_url = f"redis://:{REDIS_PASSWORD}@127.0.0.1:{free_port()}/0"
    app = make_app(TALK_REDIS_URL=redis_url)
    token = app.extensions["talk"].codec.mint({"id": "reader-alice"}).token
    client = app.test_client()
    response = client.get("/talk/user", headers={"Authorization": "Bearer " + token})
    assert response.status_code == 503
    csrf = client.get("/talk/login", headers={"Accept": "application/json"}).get_json()["csrf_token"]
    login = client.post("/talk/login", json={"username": "alice", "password": PASSWORDS["alice"],
                                             "csrf_token": csrf})
    assert login.status_code == 503
    logged = everything_logged(capture_everything)
    assert "unavailable" in logged
    secrets = {"Redis password": REDIS_PASSWORD, "token": token, "password": PASSWORDS["alice"]}
    assert_absent(logged, secrets, "the logs")
    for answer in (response, login):
        assert_absent(answer.get_data(as_text=True) + str(answer.headers), secrets, "the 503 answer")


def test_exception_messages_carry_no_token_or_secret(app: Any) -> None:
    from flask_talk.errors import TokenError

    codec = app.extensions["talk"].codec
    genuine = codec.mint({"id": "reader-alice"}).token
    candidates = [forge({"alg": "HS256"}, claims(), OTHER_SECRET), genuine[:-2] + "zz", genuine + ".x",
                  forge({"alg": "HS256"}, claims(sub="x" * 300)), forge({"alg": "HS256"}, claims(exp=1))]
    for token in candidates:
        with pytest.raises(TokenError) as caught:
            codec.verify(token)
        text = str(caught.value) + repr(caught.value) + caught.value.reason
        assert token not in text and SECRET not in text and token.rsplit(".", 1)[1] not in text

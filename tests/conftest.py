"""Shared fixtures: a fresh demo app per test (temporary instance folder, real SQLite file),
a Flask client, a WebTest app, and helpers to sign in and to read the embed's token."""
from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from collections.abc import Iterator
from typing import Any

import pytest
import webtest
from flask import Flask

from flask_talk.config import DEFAULTS

from .apps import PASSWORDS as PASSWORDS
from .apps import ROOT_URL as ROOT_URL
from .apps import SECRET as SECRET
from .apps import demo_app
from .realparts import RedisServer


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests see only the settings they give: no TALK_* from the machine's environment."""
    for key in list(os.environ):
        if key in DEFAULTS or key.startswith("TALK_"):
            monkeypatch.delenv(key)


@pytest.fixture
def make_app(tmp_path: Any) -> Callable[..., Flask]:
    """``make_app(**settings)``: the demo app with test settings plus ``settings``."""

    def factory(**settings: Any) -> Flask:
        return demo_app(tmp_path / "instance", **settings)

    return factory


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    return make_app()


@pytest.fixture
def client(app: Flask) -> Any:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> Any:
    return app.test_cli_runner()


@pytest.fixture
def testapp(app: Flask) -> webtest.TestApp:
    return webtest.TestApp(app)


def login(testapp: webtest.TestApp, username: str = "alice", password: str | None = None,
          next_path: str | None = None) -> webtest.TestResponse:
    """Sign in through the real HTML form (CSRF token included by the form)."""
    url = "/talk/login" + (f"?next={next_path}" if next_path else "")
    page = testapp.get(url)
    form = next(f for f in page.forms.values() if f.action.split("?")[0].endswith("/talk/login"))
    form["username"] = username
    form["password"] = PASSWORDS.get(username, "") if password is None else password
    return form.submit(expect_errors=True)


def embed_config(html: str) -> dict[str, Any]:
    """The JSON config of the first embed on a page."""
    match = re.search(r'<script type="application/json" id="talk-embed-\d+-config">(.*?)</script>',
                      html, re.S)
    assert match, "no embed config on the page"
    return json.loads(match.group(1))


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer().start()
    yield server
    server.stop()

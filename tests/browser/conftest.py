"""Fixtures for the end-to-end tests in headless Chromium (Debian's, never a download).

``browser``: one Chromium for the session, launched with flags that keep it off the network.
``live_demo``: ``live_demo(**settings)`` serves the demo app (temporary instance folder) on a
free 127.0.0.1 port in a real threaded Werkzeug server, stopped after the test.
``open_reader``: a new browser context (its own cookies: another reader) and page, which
records every request, script error and CSP violation and checks them after the test.
``shots``: numbered screenshots in test-artifacts/browser/<test-name>/.
"""
from __future__ import annotations

import re
import threading
from collections.abc import Callable
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
from werkzeug.serving import make_server

from ..realparts import ROOT
from ..realparts import require

#: Flags that keep Chromium off the network (see /work/shared/TOOLING.md).
OFFLINE_FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage",
]
LOOPBACK = {"127.0.0.1", "localhost"}
ARTIFACTS = ROOT / "test-artifacts" / "browser"
#: Generous: waits end as soon as the page gets there; this only bounds a broken run.
WAIT_MS = 60_000


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    executable = require("chromium")
    from playwright.sync_api import expect
    from playwright.sync_api import sync_playwright

    expect.set_options(timeout=20_000)  # a slow CI machine waits longer; a fast one does not

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, headless=True,
                                              args=OFFLINE_FLAGS)
        yield chromium
        chromium.close()


@dataclass
class LiveDemo:
    """The demo app behind a real HTTP server on loopback."""

    app: Flask
    url: str

    def at(self, path: str) -> str:
        return self.url + path


@pytest.fixture
def live_demo(make_app: Callable[..., Flask]) -> Iterator[Callable[..., LiveDemo]]:
    servers: list[Any] = []

    def serve(**settings: Any) -> LiveDemo:
        app = make_app(**settings)
        server = make_server("127.0.0.1", 0, app, threaded=True)
        url = f"http://127.0.0.1:{server.server_port}"
        # The stand-in calls /talk/user over real HTTP, as Talk's tokenUserNotFound hook does.
        app.config["TALK_STANDIN_LOOKUP_URL"] = url + "/talk/user"
        thread = threading.Thread(target=server.serve_forever, name="live-demo", daemon=True)
        thread.start()
        servers.append((server, thread))
        return LiveDemo(app, url)

    yield serve
    for server, thread in servers:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


@dataclass
class Reader:
    """One browser context and page, with everything it requested recorded."""

    context: Any
    page: Any
    requests: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def foreign_requests(self) -> list[str]:
        return [url for url in self.requests if urlsplit(url).hostname not in LOOPBACK]


def _watch(page: Any, reader: Reader) -> None:
    page.on("request", lambda request: reader.requests.append(request.url))
    page.on("pageerror", lambda error: reader.problems.append(f"script error: {error}"))

    def console(message: Any) -> None:
        if "Content Security Policy" in message.text:
            reader.problems.append(f"CSP violation: {message.text}")

    page.on("console", console)


@pytest.fixture
def open_reader(browser: Any) -> Iterator[Callable[..., Reader]]:
    readers: list[Reader] = []

    def open_(**context_options: Any) -> Reader:
        context_options.setdefault("viewport", {"width": 1280, "height": 900})
        context = browser.new_context(**context_options)
        context.set_default_timeout(WAIT_MS)
        page = context.new_page()
        reader = Reader(context, page)
        _watch(page, reader)
        readers.append(reader)
        return reader

    yield open_
    try:
        for reader in readers:
            assert reader.requests, "the page made no request at all: nothing was checked"
            assert reader.foreign_requests() == [], "requests left 127.0.0.1"
            assert reader.problems == []
    finally:
        for reader in readers:
            reader.context.close()


class Shots:
    """Numbered screenshots of each step, in a folder named after the test."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.count = 0

    def take(self, page: Any, step: str, **options: Any) -> Path:
        self.count += 1
        path = self.folder / f"{self.count:02d}-{step}.png"
        page.screenshot(path=str(path), **options)
        return path


@pytest.fixture
def shots(request: pytest.FixtureRequest) -> Shots:
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", request.node.name)
    folder = ARTIFACTS / name
    if folder.exists():
        for old in folder.glob("*.png"):
            old.unlink()
    folder.mkdir(parents=True, exist_ok=True)
    return Shots(folder)


PASSWORDS = {"alice": "alice-demo-pass", "bob": "bob-demo-pass", "carol": "carol-demo-pass"}
ARTICLE = "/articles/harbour-reopens"
ARTICLE_TITLE = "The old harbour reopens"


def sign_in(page: Any, demo: LiveDemo, username: str, password: str | None = None) -> None:
    """Through the site's own form, reached from the header's "Sign in" link."""
    page.goto(demo.at("/"))
    page.get_by_role("link", name="Sign in").click()
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORDS[username] if password is None else password)
    page.get_by_role("button", name="Sign in").click()


def open_article(page: Any) -> None:
    page.get_by_role("link", name=ARTICLE_TITLE).click()
    page.wait_for_url("**" + ARTICLE)


def page_token(page: Any) -> str:
    """The token the page's embed holds right now (the loader's state, not the panel's text)."""
    return page.evaluate("() => window.FlaskTalk.embeds[0].cfg.token")  # type: ignore[no-any-return]

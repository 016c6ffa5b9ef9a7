"""``flask talk probe``: ask a Talk 4 server (here a small fake on loopback that verifies
tokens as Talk does, with its own settings) whether it signs the reader in."""
from __future__ import annotations

import email.utils
import json
import re
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from typing import Any

import pytest

from flask_talk.config import apply_defaults
from flask_talk.config import load_settings
from flask_talk.errors import TokenError
from flask_talk.tokens import TokenCodec
from flask_talk.tokens import TokenPolicy

from .conftest import ROOT_URL
from .conftest import SECRET
from .realparts import free_port


class FakeTalk:
    """``GET /api/v1/auth`` as Talk 4 answers it: 200 ``{user}`` or 204 when anonymous."""

    def __init__(self, env: dict[str, Any], users: dict[str, dict[str, Any]], *,
                 clock_offset: float = 0, prefix: str = "") -> None:
        config = dict(env)
        apply_defaults(config, environ={})
        settings = load_settings(config)
        policy = TokenPolicy(issuer=settings.issuer, audience=settings.audience,
                             user_id_claim=settings.user_id_claim, leeway_seconds=0)
        self.codec = TokenCodec(settings.keys, policy)
        self.users = users
        self.clock_offset = clock_offset
        self.prefix = prefix
        self.seen_tokens: list[str] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        talk = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def date_time_string(self, timestamp: float | None = None) -> str:
                return email.utils.formatdate(time.time() + talk.clock_offset, usegmt=True)

            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                if self.path != talk.prefix + "/api/v1/auth":
                    self.send_response(404)
                    self.end_headers()
                    return
                scheme, _, token = (self.headers.get("Authorization") or "").partition(" ")
                talk.seen_tokens.append(token)
                user = None
                try:
                    claims = talk.codec.verify(token, now=time.time() + talk.clock_offset)
                    user = talk.users.get(talk.codec.user_id(claims))
                except TokenError:
                    pass  # Talk treats an unverifiable token as anonymous, silently
                if user is None:
                    self.send_response(204)
                    self.end_headers()
                    return
                body = json.dumps({"user": user}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Handler

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


TALK_ENV = {"TALK_JWT_SECRET": SECRET, "TALK_ROOT_URL": ROOT_URL}
ALICE = {"id": "reader-alice", "username": "alice"}


@pytest.fixture
def fake_talk() -> Iterator[Any]:
    started: list[FakeTalk] = []

    def start(env: dict[str, Any] | None = None, users: dict[str, Any] | None = None, **options: Any) -> FakeTalk:
        talk = FakeTalk(env or TALK_ENV, {"reader-alice": ALICE} if users is None else users, **options)
        started.append(talk)
        return talk

    yield start
    for talk in started:
        talk.stop()


def probe(make_app: Any, talk_url: str | None, *extra: str, **settings: Any) -> Any:
    app = make_app(TALK_URL=talk_url, **settings)
    return app.test_cli_runner().invoke(args=["talk", "probe", "reader-alice", *extra])


def test_talk_signs_the_reader_in(make_app, fake_talk):
    talk = fake_talk()
    result = probe(make_app, talk.url)
    assert result.exit_code == 0, result.output
    assert "ok       Talk accepted the token: signed in as alice" in result.output
    assert len(talk.seen_tokens) == 1 and talk.seen_tokens[0] not in result.output


def test_a_secret_mismatch_shows_as_anonymous_with_causes(make_app, fake_talk):
    talk = fake_talk({**TALK_ENV, "TALK_JWT_SECRET": "talk-has-another-secret-0123456789-abcdefgh"})
    result = probe(make_app, talk.url)
    assert result.exit_code == 1
    assert "FAILED   Talk treated the token as anonymous (204)" in result.output
    assert "flask talk check-env" in result.output


def test_an_unknown_user_without_the_plugin_points_at_the_plugin(make_app, fake_talk):
    talk = fake_talk(users={})
    result = probe(make_app, talk.url)
    assert result.exit_code == 1
    assert "talk-plugin-flask-talk" in result.output and "TALK_FLASK_TALK_USER_URL" in result.output


def test_talks_clock_far_ahead_is_reported(make_app, fake_talk):
    talk = fake_talk(clock_offset=2 * 86400)
    result = probe(make_app, talk.url)
    assert result.exit_code == 1
    # The Date header has whole seconds: 172799 or 172800.
    assert re.search(r"Talk's clock is 17(2799|2800) s ahead of this server's, more than the token's lifetime",
                     result.output), result.output


def test_wrong_talk_url_and_talk_down(make_app, fake_talk):
    talk = fake_talk(prefix="/talk")
    result = probe(make_app, talk.url)  # the /talk prefix is missing
    assert result.exit_code == 1 and "TALK_URL has no /api/v1/auth (404)" in result.output
    assert probe(make_app, talk.url + "/talk/").exit_code == 0
    down = probe(make_app, f"http://127.0.0.1:{free_port()}", "--timeout", "3")
    assert down.exit_code == 1 and "could not reach Talk" in down.output


def test_probe_needs_talk_url_a_known_user_and_talk_format(make_app, fake_talk):
    assert "TALK_URL is not set" in probe(make_app, None).output
    talk = fake_talk()
    app = make_app(TALK_URL=talk.url)
    unknown = app.test_cli_runner().invoke(args=["talk", "probe", "nobody"])
    assert unknown.exit_code == 1 and "no user with id 'nobody'" in unknown.output
    coral = probe(make_app, talk.url, TALK_TOKEN_FORMAT="coral", TALK_JWT_SECRET="ssosec_" + "b" * 64)
    assert coral.exit_code == 1 and "TALK_TOKEN_FORMAT=coral" in coral.output
    assert talk.seen_tokens == []

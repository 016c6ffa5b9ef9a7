"""The Talk 4 plugin (talk-plugin/) against a live demo site, with Node's own test runner.

The demo runs in a real HTTP server (werkzeug) on a free loopback port; a second server
puts the same app behind a delay to play an overloaded site. The node tests cover the
known reader, the unknown one (404 -> null), a refused token, the site down and the site
too slow (timeout -> null), plus the plugin's unit tests.
"""
from __future__ import annotations

import os
import re
import subprocess
import threading
import time
from collections.abc import Callable
from collections.abc import Iterator
from typing import Any

import pytest
from werkzeug.serving import make_server

from flask_talk.state import get_state
from flask_talk.users import profile_of

from .realparts import ROOT
from .realparts import require

pytestmark = pytest.mark.node

SLOW_SECONDS = 2.0


class Delayed:
    """WSGI middleware that holds every request before answering (bounded)."""

    def __init__(self, app: Any, seconds: float, stop: threading.Event) -> None:
        self.app, self.seconds, self.stop = app, seconds, stop

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        self.stop.wait(self.seconds)
        return self.app(environ, start_response)


@pytest.fixture
def live_site(make_app: Callable[..., Any]) -> Iterator[dict[str, str]]:
    app = make_app()
    stop = threading.Event()
    servers = [make_server("127.0.0.1", 0, app, threaded=True),
               make_server("127.0.0.1", 0, Delayed(app, SLOW_SECONDS, stop), threaded=True)]
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in servers]
    for thread in threads:
        thread.start()
    with app.app_context():
        codec = get_state().codec
        known = codec.mint(profile_of(get_state().users.get("reader-alice"))).token
        unknown = codec.mint({"id": "reader-ghost", "username": "ghost", "email": "ghost@example.org"}).token
    try:
        yield {
            "FLASK_TALK_TEST_USER_URL": f"http://127.0.0.1:{servers[0].server_port}/talk/user",
            "FLASK_TALK_TEST_SLOW_URL": f"http://127.0.0.1:{servers[1].server_port}/talk/user",
            "FLASK_TALK_TEST_KNOWN_TOKEN": known,
            "FLASK_TALK_TEST_UNKNOWN_TOKEN": unknown,
        }
    finally:
        stop.set()
        for server in servers:
            server.shutdown()
            server.server_close()


def test_plugin_node_tests_pass_against_the_live_demo(live_site):
    node = require("node")
    env = {**os.environ, **live_site, "FLASK_TALK_TEST_REQUIRE_LIVE": "1", "NODE_OPTIONS": ""}
    started = time.monotonic()
    done = subprocess.run([node, "--test", "--test-reporter=tap", "talk-plugin/test/"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    counts = {name: int(value) for name, value in re.findall(r"^# (pass|fail|skipped|todo|cancelled) (\d+)$",
                                                              done.stdout, re.M)}
    assert counts["fail"] == counts["skipped"] == counts["cancelled"] == 0, counts
    live = re.findall(r"^ok \d+ - live: (.*)$", done.stdout, re.M)
    assert len(live) == 5, done.stdout[-3000:]
    assert counts["pass"] >= 15
    # The timeout case really ran against the delayed site and gave up on time.
    assert time.monotonic() - started < 60


def test_the_live_site_answers_the_plugin_lookup_itself(live_site):
    """The same lookup the plugin makes, from Python, so a failure points at the site or at Node."""
    import json
    import urllib.error
    import urllib.request

    def get(token: str) -> tuple[int, Any]:
        request = urllib.request.Request(live_site["FLASK_TALK_TEST_USER_URL"],
                                         headers={"Authorization": f"Bearer {token}"})
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            body = json.loads(exc.read())
            exc.close()
            return exc.code, body

    assert get(live_site["FLASK_TALK_TEST_KNOWN_TOKEN"]) == (200, {
        "id": "reader-alice", "username": "alice", "email": "alice@example.org", "display_name": "Alice Martin"})
    assert get(live_site["FLASK_TALK_TEST_UNKNOWN_TOKEN"]) == (404, {
        "error": "not_found", "error_description": "The token is valid but its user no longer exists."})

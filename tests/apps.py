"""The one app factory for tests: the demo app with test settings, in a given instance folder."""
from __future__ import annotations

import os
from typing import Any

import pytest

#: 48 characters: long enough for HS384; HS512 tests use their own.
SECRET = "test-secret-for-flask-talk-0123456789-abcdefghij"
ROOT_URL = "https://talk.example.test/"
SESSION_KEY = "test-session-key-" + "k" * 32
PASSWORDS = {"alice": "alice-demo-pass", "bob": "bob-demo-pass", "carol": "carol-demo-pass"}


def test_settings(**settings: Any) -> dict[str, Any]:
    """The demo's test configuration plus ``settings`` (a ``None`` value removes a key)."""
    config: dict[str, Any] = {"TESTING": True, "SECRET_KEY": SESSION_KEY,
                              "TALK_JWT_SECRET": SECRET, "TALK_ROOT_URL": ROOT_URL}
    config.update(settings)
    return {k: v for k, v in config.items() if v is not None}


test_settings.__test__ = False  # type: ignore[attr-defined]  # not a test, despite its name


def demo_app(directory: Any, **settings: Any) -> Any:
    """The demo app in ``directory``, with no TALK_* leaking in from the environment.

    For module-scoped fixtures (seeding readers hashes passwords, which is slow); per-test
    apps use conftest's ``make_app`` fixture, which calls this too.
    """
    from demo import create_app

    with pytest.MonkeyPatch.context() as patch:
        for key in list(os.environ):
            if key.startswith("TALK_"):
                patch.delenv(key)
        patch.setenv("DEMO_INSTANCE_PATH", str(directory))
        return create_app(test_settings(**settings))

"""The app factories for tests: the demo app with test settings, and a site on Flask-Login,
each in a given instance folder."""
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


def flask_login_site(directory: Any, *, check_passwords: bool = False, dict_users: bool = False) -> Any:
    """A site on Flask-Login with its own sign-in (``GET /signin/<id>``) and sign-out
    (``POST /signout``) views, and ``/story``, a page of its own with the embed.

    With ``check_passwords``, ``/talk/login`` signs members in too: username
    ``member<id>``, password ``pass-<id>``. Ids starting with ``off`` are inactive accounts.
    With ``dict_users``, flask-talk's own callbacks serve plain dicts instead (a site whose
    comment readers are not its Flask-Login users). ``/signin/<id>?remember=1`` sets
    Flask-Login's remember-me cookie.
    """
    from flask import Flask
    from flask import render_template_string
    from flask_login import LoginManager
    from flask_login import UserMixin
    from flask_login import login_user
    from flask_login import logout_user

    from flask_talk import TalkAuth

    class Member(UserMixin):
        def __init__(self, uid: str) -> None:
            self.id, self.username, self.email = uid, f"member{uid}", f"m{uid}@example.org"

        @property
        def is_active(self) -> bool:
            return not self.id.startswith("off")  # member "off1" is a suspended account

    app = Flask("fl", root_path=str(directory), instance_path=str(directory / "instance"))
    app.config.update(SECRET_KEY="k" * 40, TALK_JWT_SECRET=SECRET, TALK_URL="https://talk.example.com")
    LoginManager(app).user_loader(Member)
    talk = TalkAuth(app)
    if check_passwords:
        @talk.credentials_checker
        def check(username: str, password: str) -> Member | None:
            uid = username.removeprefix("member")
            return Member(uid) if uid and password == f"pass-{uid}" else None

    if dict_users:
        readers = {"r1": {"id": "r1", "username": "reader1", "email": "r1@example.org"}}

        @talk.user_loader
        def find(user_id: str) -> dict[str, str] | None:
            return readers.get(user_id)

        @talk.credentials_checker
        def check_reader(username: str, password: str) -> dict[str, str] | None:
            found = next((r for r in readers.values() if r["username"] == username), None)
            return found if found and password == "pass-" + found["id"] else None

    @app.route("/signin/<uid>")
    def signin(uid: str) -> str:
        from flask import request

        login_user(Member(uid), remember=bool(request.args.get("remember")))
        return "ok"

    @app.route("/signout", methods=["POST"])
    def signout() -> str:
        logout_user()
        return "bye"

    @app.route("/story")
    def story() -> str:
        return render_template_string("{{ talk_embed(asset_url='https://site/story') }}")

    return app

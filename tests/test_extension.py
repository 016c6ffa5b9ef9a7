"""TalkAuth as a Flask extension: init_app, a site's own users, Flask-Login, the Jinja global."""
from __future__ import annotations

import re

import pytest
import webtest
from flask import Flask
from flask import render_template_string

from flask_talk import ConfigurationError
from flask_talk import TalkAuth
from flask_talk import current_talk

from .conftest import SECRET

USERS = {"7": {"id": 7, "username": "seven", "email": "Seven@Example.org", "password": "pass-seven-7"}}


def site_app(tmp_path, init_first=False, **config):
    app = Flask("site", root_path=str(tmp_path), instance_path=str(tmp_path / "instance"))
    settings = {"TALK_URL": "https://talk.example.com", **config}
    app.config.update(SECRET_KEY="site-key-" + "s" * 32, TALK_JWT_SECRET=SECRET,
                      **{k: v for k, v in settings.items() if v is not None})
    talk = TalkAuth(app) if init_first else TalkAuth()

    @talk.user_loader
    def find(user_id):
        return USERS.get(user_id)

    @talk.credentials_checker
    def check(username, password):
        user = next((u for u in USERS.values() if u["username"] == username), None)
        return user if user and user["password"] == password else None

    @talk.profile_loader
    def extra(user):
        return {"badges": ["subscriber"]}

    if not init_first:
        talk.init_app(app)

    @app.route("/story")
    def story():
        return render_template_string("<h1>Story</h1>{{ talk_embed(asset_url='https://site/story') }}")

    return app


@pytest.mark.parametrize("init_first", [False, True], ids=["init_app after", "TalkAuth(app) first"])
def test_site_users_through_registered_callbacks(tmp_path, init_first):
    """The callbacks work whether they are registered before or after init_app."""
    app = site_app(tmp_path, init_first=init_first)
    testapp = webtest.TestApp(app)
    page = testapp.get("/talk/login", headers={"Accept": "application/json"})
    testapp.post_json("/talk/login", {"username": "seven", "password": "pass-seven-7"},
                      headers={"X-CSRFToken": page.json["csrf_token"]})
    html = testapp.get("/story").text
    assert '<script src="https://talk.example.com/static/embed.js">' in html
    token = re.search(r'"token": ?"([^"]+)"', html).group(1)
    user = testapp.get("/talk/user", headers={"Authorization": f"Bearer {token}"}).json
    assert user == {"id": "7", "username": "seven", "email": "Seven@Example.org", "badges": ["subscriber"]}
    with app.app_context():
        assert current_talk.users.builtin() is None


def test_the_extension_supports_several_apps(tmp_path):
    first, second = site_app(tmp_path / "a"), site_app(tmp_path / "b", TALK_JWT_AUDIENCE="other")
    with first.app_context():
        assert current_talk.settings.audience == "talk"
    with second.app_context():
        assert current_talk.settings.audience == "other"


def test_uninitialised_app_gets_a_clear_error():
    with Flask("bare").app_context():
        with pytest.raises(RuntimeError, match="TalkAuth"):
            current_talk.settings  # noqa: B018


@pytest.mark.parametrize(("secret_key", "words"), [
    (None, "needs the app's SECRET_KEY"),
    ("x", "is 1 bytes; sessions signed with it can be forged"),
    (b"fifteen-bytes!!", "is 15 bytes"),
])
def test_a_missing_or_guessable_secret_key_stops_start_up(tmp_path, secret_key, words):
    """Whoever can guess SECRET_KEY can forge a session, and so get tokens for any reader."""
    app = Flask("nokey", root_path=str(tmp_path), instance_path=str(tmp_path))
    app.config.update(TALK_JWT_SECRET=SECRET, SECRET_KEY=secret_key)
    with pytest.raises(ConfigurationError, match="^SECRET_KEY: ") as caught:
        TalkAuth(app)
    assert words in str(caught.value)
    app.config["SECRET_KEY"] = "sixteen-bytes!!!"
    TalkAuth(app)


def test_flask_login_sites_are_recognised(tmp_path):
    from flask_login import LoginManager
    from flask_login import UserMixin
    from flask_login import login_user

    class Member(UserMixin):
        def __init__(self, uid):
            self.id, self.username, self.email = uid, f"member{uid}", f"m{uid}@example.org"

    app = Flask("fl", root_path=str(tmp_path), instance_path=str(tmp_path / "instance"))
    app.config.update(SECRET_KEY="k" * 40, TALK_JWT_SECRET=SECRET, TALK_URL="https://talk.example.com")
    manager = LoginManager(app)
    manager.user_loader(lambda uid: Member(uid) if uid != "404" else None)
    TalkAuth(app)  # no user callbacks: Talk's lookup uses Flask-Login's own user_loader

    @app.route("/signin/<uid>")
    def signin(uid):
        login_user(Member(uid))
        return "ok"

    client = app.test_client()
    client.get("/signin/5")
    page = client.get("/talk/embed?asset_url=https://site/a")
    token = re.search(r'"token": ?"([^"]+)"', page.text).group(1)
    assert client.get("/talk/user", headers={"Authorization": f"Bearer {token}"}).json["username"] == "member5"
    with app.app_context():
        gone = current_talk.codec.mint({"id": "404"}).token
    assert client.get("/talk/user", headers={"Authorization": f"Bearer {gone}"}).status_code == 404


def test_embed_for_anonymous_reader_has_no_token_key(tmp_path):
    html = webtest.TestApp(site_app(tmp_path)).get("/story").text
    assert '"token"' not in html


def test_without_talk_url_pages_say_comments_are_not_configured(tmp_path, caplog):
    import logging

    with caplog.at_level(logging.WARNING, logger="flask_talk"):
        app = site_app(tmp_path, TALK_URL=None)
    assert "TALK_URL is not set" in caplog.text
    client = app.test_client()
    story = client.get("/story")
    assert story.status_code == 200 and "Comments are not configured" in story.text
    page = client.get("/talk/embed?asset_url=https://site/a", headers={"Accept": "text/html"})
    assert page.status_code == 503 and "Comments are not configured" in page.text
    api = client.get("/talk/embed?asset_url=https://site/a", headers={"Accept": "application/json"})
    assert api.status_code == 503 and api.get_json()["error"] == "not_configured"

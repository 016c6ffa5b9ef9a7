"""The whole single-sign-on loop on the demo, through real forms (WebTest) and a real SQLite file."""
from __future__ import annotations

import pytest

from .conftest import embed_config
from .conftest import login


def test_reader_signs_in_opens_article_and_talk_gets_the_user(testapp):
    response = login(testapp, "alice", next_path="/articles/harbour-reopens")
    assert response.status_int == 302
    assert response.headers["Location"].endswith("/articles/harbour-reopens")
    page = response.follow()
    config = embed_config(page.text)
    assert config["format"] == "talk"
    assert config["asset_id"] == "harbour-reopens"
    assert config["asset_url"] == "http://localhost/articles/harbour-reopens"

    lookup = testapp.get("/talk/user", headers={"Authorization": f"Bearer {config['token']}"})
    assert lookup.json == {"id": "reader-alice", "username": "alice", "email": "alice@example.org",
                           "display_name": "Alice Martin"}
    assert lookup.headers["Cache-Control"] == "no-store"


def test_stand_in_verifies_the_token_and_asks_the_site_for_the_user(testapp):
    page = login(testapp, "bob", next_path="/articles/library-night").follow()
    token = embed_config(page.text)["token"]
    first = testapp.get("/stand-in/api/v1/auth", headers={"Authorization": f"Bearer {token}"})
    assert first.json["user"]["username"] == "bob"
    assert first.json["report"]["source"] == "tokenUserNotFound"
    assert first.json["report"]["lookup"]["status"] == 200
    second = testapp.get("/stand-in/api/v1/auth", headers={"Authorization": f"Bearer {token}"})
    assert second.json["report"]["source"] == "known user"


def test_anonymous_reader_gets_the_stream_without_a_token(testapp):
    page = testapp.get("/articles/harbour-reopens")
    config = embed_config(page.text)
    assert "token" not in config
    assert testapp.get("/stand-in/api/v1/auth").status_int == 204


def test_embed_page_and_script_load(testapp):
    login(testapp, "carol")
    page = testapp.get("/talk/embed", params={"asset_url": "https://news.example/a", "asset_id": "a"})
    config = embed_config(page.text)
    assert config["asset_url"] == "https://news.example/a" and config["token"]
    assert '<script src="/stand-in/static/embed.js">' in page.text
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert "Coral.Talk.render" in testapp.get("/talk/static/flask_talk/talk-embed.js").text
    assert "createStreamEmbed" in testapp.get("/stand-in/static/embed.js").text


def test_page_renews_its_token_with_the_csrf_token_it_was_rendered_with(testapp, app):
    """The renewal comes up to a token lifetime later, long after Flask-WTF's 1 h limit."""
    from unittest import mock

    page = login(testapp, "alice", next_path="/articles/harbour-reopens").follow()
    config = embed_config(page.text)
    later = __import__("time").time() + 20 * 3600
    with mock.patch("itsdangerous.timed.TimestampSigner.get_timestamp", return_value=int(later)):
        renewed = testapp.post(config["token_url"], headers={"X-CSRFToken": config["csrf_token"]})
        assert renewed.json["token"] != config["token"]
        refused = testapp.post("/talk/logout", {"csrf_token": config["csrf_token"]}, status=400)
    assert "please confirm" in refused.text
    assert refused.forms[0].action.endswith("/talk/logout")


def test_a_sign_out_form_without_its_csrf_field_is_named_in_the_log(testapp, caplog):
    """The site's own sign-out form, written without ``{{ csrf_token() }}``: the reader is
    asked to confirm, and the log tells the developer what the form lacks."""
    login(testapp, "alice")
    with caplog.at_level("WARNING", logger="flask_talk"):
        refused = testapp.post("/talk/logout", {}, status=400)
    assert "please confirm" in refused.text
    assert "posted without a csrf_token field" in caplog.text
    assert testapp.get("/talk/login", headers={"Accept": "application/json"}).json["user"]["username"] == "alice"
    caplog.clear()
    with caplog.at_level("WARNING", logger="flask_talk"):
        testapp.post("/talk/logout", {"csrf_token": "stale"}, status=400)
    assert "csrf_token field" not in caplog.text


def test_wrong_password_keeps_the_username_but_never_the_password(testapp):
    response = login(testapp, "alice", password="wrong-password-1")
    assert response.status_int == 401
    form = response.forms[0]
    assert form["username"].value == "alice"
    assert form["password"].value == ""
    assert "wrong-password-1" not in response.text


def test_stand_in_treats_an_unusable_token_as_anonymous_like_talk(testapp):
    import json

    page = login(testapp, "carol", next_path="/articles/cycle-lanes").follow()
    token = embed_config(page.text)["token"]
    tampered = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    answer = testapp.get("/stand-in/api/v1/auth", headers={"Authorization": f"Bearer {tampered}"})
    assert answer.status_int == 204 and answer.body == b""
    report = json.loads(answer.headers["X-Standin-Report"])["report"]
    assert report == {"verified": False, "reason": "the signature does not verify", "code": "bad_signature"}


def test_stand_in_keeps_its_memory_bounded(testapp, app, monkeypatch):
    from demo import standin

    monkeypatch.setattr(standin, "MAX_STREAMS", 3)
    monkeypatch.setattr(standin, "MAX_COMMENTS", 2)
    token = embed_config(login(testapp, "alice", next_path="/articles/harbour-reopens").follow().text)["token"]
    auth = {"Authorization": f"Bearer {token}"}
    for n in range(5):
        for text in ("one", "two", "three"):
            testapp.post_json(f"/stand-in/api/v1/comments?asset_url=https://a/{n}", {"body": text}, headers=auth)
    streams = app.extensions["standin"]["comments"]
    assert list(streams) == ["https://a/2", "https://a/3", "https://a/4"]
    assert [c["body"] for c in streams["https://a/4"]] == ["two", "three"]


NOT_OBJECTS = [b"[1]", b'["x"]', b'"text"', b"3"]


def signed_in_page(testapp):
    return login(testapp, "alice", next_path="/articles/harbour-reopens").follow()


@pytest.mark.parametrize("body", NOT_OBJECTS)
def test_stand_in_answers_a_comment_that_is_no_json_object_with_400(testapp, body):
    token = embed_config(signed_in_page(testapp).text)["token"]
    answer = testapp.post("/stand-in/api/v1/comments?asset_url=https://a/1", body, status=400,
                          headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    assert answer.json["error"] == "bad_request"


@pytest.mark.parametrize("body", NOT_OBJECTS)
def test_revoke_scenario_answers_a_body_that_is_no_json_object_with_400(testapp, body):
    csrf = embed_config(signed_in_page(testapp).text)["csrf_token"]
    answer = testapp.post("/demo/revoke", body, status=400,
                          headers={"X-CSRFToken": csrf, "Content-Type": "application/json"})
    assert answer.json["error"] == "bad_request"


def test_the_sign_in_page_says_who_is_signed_in_already(testapp):
    assert "You are signed in as" not in testapp.get("/talk/login").text
    login(testapp, "alice")
    assert "You are signed in as alice." in testapp.get("/talk/login").text

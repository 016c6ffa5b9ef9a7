"""Sign-in lifecycles that attackers probe: copied cookies, re-login, logout racing a mint,
parallel password guesses, odd CSRF values (findings of an attack review, each held here)."""
from __future__ import annotations

import re
import threading
from typing import Any

import pytest
import webtest
from flask import Flask

from flask_talk import current_talk
from flask_talk.readers import SID_KEY
from flask_talk.readers import USER_KEY

from .apps import PASSWORDS
from .apps import flask_login_site
from .conftest import embed_config
from .conftest import login


def json_login(client: Any, username: str, password: str, **options: Any) -> Any:
    """``POST /talk/login`` as a script does it: fetch the CSRF token, send JSON credentials."""
    csrf = client.get("/talk/login", headers={"Accept": "application/json"}).get_json()["csrf_token"]
    return client.post("/talk/login", json={"username": username, "password": password},
                       headers={"X-CSRFToken": csrf}, **options)


def lookup(testapp: webtest.TestApp, token: str, status: int = 200) -> Any:
    return testapp.get("/talk/user", headers={"Authorization": f"Bearer {token}"}, status=status)


def test_signing_in_again_ends_the_previous_sign_in(app: Flask) -> None:
    reader = webtest.TestApp(app)
    first = embed_config(login(reader, "alice", next_path="/articles/harbour-reopens").follow().text)
    old_cookie = reader.cookies["session"]
    login(reader, "alice")
    reader.post("/talk/logout", {"csrf_token": reader.get("/talk/login", headers={
        "Accept": "application/json"}).json["csrf_token"]}, headers={"Accept": "application/json"})
    thief = webtest.TestApp(app)
    thief.set_cookie("session", old_cookie)
    assert "token" not in embed_config(thief.get("/articles/harbour-reopens").text)
    lookup(thief, first["token"], 401)


def test_logout_committing_during_a_mint_revokes_that_token(app: Flask, monkeypatch: Any) -> None:
    """The logout does not see the new token; the token must see the logout."""
    reader = webtest.TestApp(app)
    login(reader, "bob")
    csrf = reader.get("/talk/login", headers={"Accept": "application/json"}).json["csrf_token"]
    with app.app_context():
        codec = current_talk.codec
        store = current_talk.store
    minted: list[Any] = []
    real_mint = codec.mint

    def mint_while_logging_out(profile: Any, **kw: Any) -> Any:
        from flask import session

        result = real_mint(profile, **kw)
        minted.append(result)
        store.revoke_session(session["_talk_sid"], 4_000_000_000)  # another request's logout
        return result

    monkeypatch.setattr(codec, "mint", mint_while_logging_out)
    response = reader.post("/talk/token", headers={"X-CSRFToken": csrf}, status=401)
    assert response.json["error"] == "login_required"
    monkeypatch.undo()
    lookup(reader, minted[0].token, 401)


def test_parallel_guesses_get_at_most_the_limit_of_password_checks(app: Flask, monkeypatch: Any) -> None:
    with app.app_context():
        users = current_talk.users
        limit = current_talk.settings.login_max_failures
    checks: list[str] = []
    real = users.authenticate

    def counting(username: str, password: str) -> Any:
        checks.append(username)
        return real(username, password)

    monkeypatch.setattr(users, "authenticate", counting)
    clients, tokens = [], []
    for _ in range(12):
        client = app.test_client()
        tokens.append(client.get("/talk/login", headers={"Accept": "application/json"}).get_json()["csrf_token"])
        clients.append(client)
    barrier = threading.Barrier(len(clients))
    statuses: list[int] = []

    def guess(client: Any, csrf: str) -> None:
        barrier.wait()
        answer = client.post("/talk/login", json={"username": "carol", "password": "wrong-guess-1"},
                             headers={"X-CSRFToken": csrf})
        statuses.append(answer.status_code)

    threads = [threading.Thread(target=guess, args=pair) for pair in zip(clients, tokens)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(checks) == limit  # not 12: the burst could not outrun the count
    assert sorted(statuses).count(401) == len(checks)
    assert statuses.count(429) == len(clients) - len(checks)
    right = app.test_client()
    csrf = right.get("/talk/login", headers={"Accept": "application/json"}).get_json()["csrf_token"]
    assert right.post("/talk/login", json={"username": "carol", "password": PASSWORDS["carol"]},
                      headers={"X-CSRFToken": csrf}).status_code == 429


@pytest.mark.parametrize("value", [1, 1.5, True, ["x"], {"a": 1}])
def test_csrf_token_of_the_wrong_type_is_a_400_not_a_500(client: Any, value: Any) -> None:
    client.get("/talk/login")
    answer = client.post("/talk/login", json={"username": "a", "password": "b", "csrf_token": value})
    assert answer.status_code == 400
    assert answer.get_json()["error"] == "csrf_failed"


@pytest.mark.parametrize("route", ["/talk/login", "/talk/logout", "/talk/token"])
def test_csrf_token_that_is_no_utf8_text_is_a_400_not_a_500(client: Any, route: str) -> None:
    """A lone surrogate (JSON ``\\ud800``) decodes to a str that cannot be encoded as UTF-8."""
    client.get("/talk/login")
    answer = client.post(route, data=b'{"csrf_token":"\\ud800"}', content_type="application/json")
    assert answer.status_code == 400
    assert answer.get_json()["error"] == "csrf_failed"


def test_successful_sign_in_does_not_count_against_the_address(app: Flask) -> None:
    for _ in range(8):
        reader = webtest.TestApp(app)
        assert login(reader, "alice").status_int == 302


def test_json_login_returns_the_rotated_csrf_token(client: Any) -> None:
    before = client.get("/talk/login", headers={"Accept": "application/json"}).get_json()["csrf_token"]
    answer = client.post("/talk/login", json={"username": "bob", "password": PASSWORDS["bob"]},
                         headers={"X-CSRFToken": before})
    after = answer.get_json()["csrf_token"]
    assert after != before
    assert client.post("/talk/token", headers={"X-CSRFToken": after}).status_code == 200


def test_flask_login_copied_cookie_is_dead_after_logout(tmp_path: Any) -> None:
    app = flask_login_site(tmp_path)
    reader = webtest.TestApp(app)
    reader.get("/signin/5")
    page = reader.get("/story")
    assert '"token"' in page.text
    copied = reader.cookies["session"]
    csrf = re.search(r'"csrf_token": ?"([^"]+)"', page.text).group(1)
    reader.post("/talk/logout", headers={"X-CSRFToken": csrf, "Accept": "application/json"})
    thief = webtest.TestApp(app)
    thief.set_cookie("session", copied)
    assert '"token"' not in thief.get("/story").text
    thief.post("/talk/token", headers={"X-CSRFToken": csrf}, status=(400, 401))


def test_site_pages_with_a_token_are_not_cached(tmp_path: Any) -> None:
    app = flask_login_site(tmp_path)
    reader = webtest.TestApp(app)
    anonymous = reader.get("/story")
    assert "no-store" not in anonymous.headers.get("Cache-Control", "")
    reader.get("/signin/6")
    assert reader.get("/story").headers["Cache-Control"] == "no-store"


def test_flask_login_sites_own_logout_view_revokes_too(tmp_path: Any) -> None:
    app = flask_login_site(tmp_path)
    reader = webtest.TestApp(app)
    reader.get("/signin/7")
    token = re.search(r'"token": ?"([^"]+)"', reader.get("/story").text).group(1)
    copied = reader.cookies["session"]
    lookup(reader, token)
    reader.post("/signout")
    lookup(reader, token, 401)
    thief = webtest.TestApp(app)
    thief.set_cookie("session", copied)
    assert '"token"' not in thief.get("/story").text


def test_flask_login_site_without_a_credentials_checker_sends_readers_to_its_login(tmp_path: Any) -> None:
    app = flask_login_site(tmp_path)
    app.login_manager.login_view = "signin_page"

    @app.route("/signin")
    def signin_page() -> str:
        return "the site's own sign-in page"

    client = app.test_client()
    assert client.get("/talk/login?next=/story").headers["Location"] == "/signin?next=/story"
    csrf = re.search(r'"csrf_token": ?"([^"]+)"', client.get("/story").text).group(1)
    answer = client.post("/talk/login", json={"username": "a", "password": "b"},
                         headers={"Accept": "application/json", "X-CSRFToken": csrf})
    assert answer.status_code == 404  # not a 500: this site signs readers in elsewhere
    app.login_manager.login_view = None
    assert client.get("/talk/login", headers={"Accept": "application/json"}).status_code == 404


def test_flask_login_sites_own_logout_ends_a_talk_login(tmp_path: Any) -> None:
    """After /talk/login, the site's own ``logout_user()`` signs the reader out of flask-talk too."""
    app = flask_login_site(tmp_path, check_passwords=True)
    client = app.test_client()
    signed_in = json_login(client, "member8", "pass-8")
    assert signed_in.status_code == 200
    csrf = signed_in.get_json()["csrf_token"]
    assert '"token"' in client.get("/story").text
    client.post("/signout")
    assert '"token"' not in client.get("/story").text
    answer = client.post("/talk/token", headers={"X-CSRFToken": csrf})
    assert answer.status_code == 401 and answer.get_json()["error"] == "login_required"
    with client.session_transaction() as session:
        assert USER_KEY not in session


def test_flask_login_refusing_an_inactive_account_is_a_failed_sign_in(tmp_path: Any) -> None:
    """Flask-Login's ``login_user`` refuses inactive users; /talk/login must not sign them in anyway."""
    app = flask_login_site(tmp_path, check_passwords=True)
    client = app.test_client()
    refused = json_login(client, "memberoff1", "pass-off1")
    assert refused.status_code == 401 and refused.get_json()["error"] == "invalid_credentials"
    assert '"token"' not in client.get("/story").text


def test_flask_login_users_are_signed_in_by_flask_login_only(tmp_path: Any) -> None:
    """A Flask-Login user signed in through /talk/login is ``current_user``: flask-talk's own
    user id key is not written, and the site's own login_user() drops a leftover one."""
    app = flask_login_site(tmp_path, check_passwords=True)
    client = app.test_client()
    assert json_login(client, "member3", "pass-3").status_code == 200
    with client.session_transaction() as session:
        assert USER_KEY not in session and session["_user_id"] == "3"
        session[USER_KEY] = "5"
    client.get("/signin/6")
    with client.session_transaction() as session:
        assert USER_KEY not in session and session[SID_KEY]  # and a sign-in id starts at once


def test_flask_login_site_with_its_own_dict_readers_signs_them_in(tmp_path: Any) -> None:
    """Readers that are not Flask-Login users (dicts from @talk callbacks) are kept in
    flask-talk's session key, and the site's own logout_user() still ends them."""
    app = flask_login_site(tmp_path, dict_users=True)
    client = app.test_client()
    signed_in = json_login(client, "reader1", "pass-r1")
    assert signed_in.status_code == 200 and signed_in.get_json()["user"]["id"] == "r1"
    token = embed_config(client.get("/story").text)["token"]
    assert client.get("/talk/user", headers={"Authorization": f"Bearer {token}"}).get_json()["id"] == "r1"
    client.post("/signout")
    assert "token" not in embed_config(client.get("/story").text)
    assert client.get("/talk/user", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_flask_login_inactive_account_with_the_right_password_keeps_the_failure_count(tmp_path: Any) -> None:
    """A right guess for a suspended account must not reset the limit (or show it was right)."""
    app = flask_login_site(tmp_path, check_passwords=True)
    limit = app.extensions["talk"].settings.login_max_failures

    def attempts(uid: str, guess: str) -> list[int]:
        """``limit - 1`` wrong passwords, then ``guess``, then one more wrong one."""
        client = app.test_client()
        passwords = ["wrong"] * (limit - 1) + [guess, "wrong"]
        return [json_login(client, "member" + uid, password,
                           environ_base={"REMOTE_ADDR": "10.0.0." + uid[-1]}).status_code
                for password in passwords]

    assert attempts("off1", "pass-off1")[-2:] == [401, 429]  # the right password, then the limit holds
    assert attempts("off2", "wrong")[-2:] == [401, 429]      # just as after a wrong one


def test_talk_logout_deletes_flask_logins_remember_me_cookie(tmp_path: Any) -> None:
    """Otherwise the remember-me cookie signs the reader straight back in on the next page."""
    app = flask_login_site(tmp_path, check_passwords=True)
    client = app.test_client()
    client.get("/signin/8?remember=1")
    assert client.get_cookie("remember_token") is not None
    csrf = client.get("/talk/login", headers={"Accept": "application/json"}).get_json()["csrf_token"]
    client.post("/talk/logout", headers={"X-CSRFToken": csrf, "Accept": "application/json"})
    assert client.get_cookie("remember_token") is None
    assert client.get("/talk/login", headers={"Accept": "application/json"}).get_json()["user"] is None


def test_flask_login_cookie_copied_before_any_token_is_dead_after_logout(tmp_path: Any) -> None:
    """The site's ``login_user()`` starts a sign-in id at once, so logout revokes copies made before
    the first token was minted."""
    app = flask_login_site(tmp_path)
    reader = app.test_client()
    reader.get("/signin/9")
    copied = reader.get_cookie("session").value
    csrf = re.search(r'"csrf_token": ?"([^"]+)"', reader.get("/story").text).group(1)
    assert reader.post("/talk/logout", headers={"X-CSRFToken": csrf, "Accept": "application/json"}).status_code == 200
    thief = app.test_client()
    thief.set_cookie("session", copied)
    assert '"token"' not in thief.get("/story").text
    page = thief.get("/story").text  # the revoked session was cleared: this CSRF token is valid
    assert '"token"' not in page
    csrf = re.search(r'"csrf_token": ?"([^"]+)"', page).group(1)
    assert thief.post("/talk/token", headers={"X-CSRFToken": csrf}).status_code == 401


def test_flask_login_signing_in_again_through_talk_ends_the_sites_sign_in_once(tmp_path: Any,
                                                                               monkeypatch: Any) -> None:
    """/talk/login after the site's own login_user(): the old sign-in is revoked exactly once (by
    log_in; the signal finds it gone) and the new one, started by the signal, stays live."""
    app = flask_login_site(tmp_path, check_passwords=True)
    client = app.test_client()
    client.get("/signin/1")
    copied = client.get_cookie("session").value
    with app.app_context():
        store = current_talk.store
    revoked: list[str] = []
    real = store.revoke_session
    monkeypatch.setattr(store, "revoke_session", lambda sid, until: revoked.append(sid) or real(sid, until))
    csrf = re.search(r'"csrf_token": ?"([^"]+)"', client.get("/story").text).group(1)
    answer = client.post("/talk/login", json={"username": "member2", "password": "pass-2"},
                         headers={"X-CSRFToken": csrf})
    assert answer.status_code == 200 and len(revoked) == 1
    assert client.post("/talk/token", headers={"X-CSRFToken": answer.get_json()["csrf_token"]}).status_code == 200
    thief = app.test_client()
    thief.set_cookie("session", copied)
    assert '"token"' not in thief.get("/story").text


def test_a_page_opened_with_a_signed_out_cookie_renews_into_a_401_not_a_400(app: Flask) -> None:
    """The embed's CSRF token belongs to the session *after* the signed-out one is cleared,
    so the page's renewal gets the honest answer: sign in again (401), not a CSRF failure."""
    reader = webtest.TestApp(app)
    login(reader, "alice")
    copied = reader.cookies["session"]
    reader.post("/talk/logout", {"csrf_token": reader.get("/talk/login", headers={
        "Accept": "application/json"}).json["csrf_token"]})
    stale = app.test_client()  # one cookie jar entry, replaced by the answer's cookie
    stale.set_cookie("session", copied)
    # /talk/embed: the embed is the first thing on the page to ask who is reading.
    config = embed_config(stale.get("/talk/embed?asset_url=https://news.example/a").text)
    assert "token" not in config
    renewal = stale.post("/talk/token", headers={"X-CSRFToken": config["csrf_token"]})
    assert (renewal.status_code, renewal.json["error"]) == (401, "login_required")


def test_a_csrf_token_made_before_the_signed_out_session_is_cleared_is_not_reused(app: Flask) -> None:
    """A site template that renders a form's ``csrf_token()`` before ``talk_embed()``: the
    embed still gets a CSRF token of the session that is kept (Flask-WTF caches it per request)."""
    from flask_wtf.csrf import generate_csrf

    from flask_talk.embed import talk_embed

    @app.route("/form-then-embed")
    def form_then_embed() -> str:
        generate_csrf()  # the site's own form, rendered first
        return str(talk_embed(asset_url="https://news.example/a"))

    reader = webtest.TestApp(app)
    login(reader, "alice")
    copied = reader.cookies["session"]
    reader.post("/talk/logout", {"csrf_token": reader.get("/talk/login", headers={
        "Accept": "application/json"}).json["csrf_token"]})
    stale = app.test_client()
    stale.set_cookie("session", copied)
    config = embed_config(stale.get("/form-then-embed").text)
    renewal = stale.post("/talk/token", headers={"X-CSRFToken": config["csrf_token"]})
    assert (renewal.status_code, renewal.json["error"]) == (401, "login_required")


def test_replaying_a_signed_out_flask_login_cookie_writes_nothing_to_the_store(tmp_path: Any,
                                                                               monkeypatch: Any) -> None:
    """The sign-in is already revoked: clearing the stale session must not revoke it again
    (each replay would be a store write, and a 503 while the store is down)."""
    app = flask_login_site(tmp_path)
    client = app.test_client()
    client.get("/signin/4")
    copied = client.get_cookie("session").value
    client.post("/signout")
    store = app.extensions["talk"].store
    writes: list[str] = []
    real = store.revoke_session
    monkeypatch.setattr(store, "revoke_session", lambda sid, until: writes.append(sid) or real(sid, until))
    thief = app.test_client()
    thief.set_cookie("session", copied)
    assert '"token"' not in thief.get("/story").text
    assert writes == []


def test_signing_in_as_another_reader_deletes_the_previous_remember_me_cookie(tmp_path: Any) -> None:
    """Otherwise Flask-Login's remember-me cookie of the previous reader brings them back on
    the next request, in place of the reader who just signed in."""
    app = flask_login_site(tmp_path, dict_users=True)
    client = app.test_client()
    client.get("/signin/8?remember=1")
    assert client.get_cookie("remember_token") is not None
    assert json_login(client, "reader1", "pass-r1").get_json()["user"]["id"] == "r1"
    assert client.get_cookie("remember_token") is None
    assert client.get("/talk/login", headers={"Accept": "application/json"}).get_json()["user"]["id"] == "r1"


def test_a_store_failure_while_signing_in_changes_nothing(app: Flask, monkeypatch: Any) -> None:
    """The 503 says nothing was changed: the previous sign-in must still stand."""
    from flask_talk.errors import StoreUnavailable

    client = app.test_client()
    assert json_login(client, "alice", PASSWORDS["alice"]).status_code == 200
    store = app.extensions["talk"].store

    def unavailable(*args: Any) -> None:
        raise StoreUnavailable("sqlite", "OperationalError")

    monkeypatch.setattr(store, "withdraw_attempt", unavailable)
    assert json_login(client, "bob", PASSWORDS["bob"]).status_code == 503
    monkeypatch.undo()
    reader = client.get("/talk/login", headers={"Accept": "application/json"}).get_json()["user"]
    assert reader["username"] == "alice"

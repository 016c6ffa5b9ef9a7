"""Login protection: rate limits, equal answers, CSRF (FC-15), session rotation, safe
``next`` redirects, cookie flags and the protective response headers."""
from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import quote
from urllib.parse import urlsplit

import pytest
import webtest

from flask_talk.readers import SID_KEY
from flask_talk.readers import USER_KEY

from .apps import demo_app as build_app
from .conftest import PASSWORDS
from .conftest import csrf_from
from .conftest import login

JSON = {"Accept": "application/json"}


@pytest.fixture(scope="module")
def shared_app(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """For tests that only sign in successfully (no failure counters to leak between tests)."""
    return build_app(tmp_path_factory.mktemp("login"))


@pytest.fixture
def fresh_client(shared_app: Any) -> Any:
    return shared_app.test_client()


def csrf(client: Any) -> str:
    return client.get("/talk/login", headers=JSON).get_json()["csrf_token"]


def json_login(client: Any, username: str, password: str, address: str = "127.0.0.1",
               **extra: Any) -> Any:
    return client.post("/talk/login", json={"username": username, "password": password,
                                            "csrf_token": csrf(client), **extra},
                       environ_base={"REMOTE_ADDR": address})


def mint(client: Any) -> Any:
    return client.post("/talk/token", headers={"X-CSRFToken": csrf(client)})


def assert_throttled(response: Any) -> None:
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) >= 1
    if response.is_json:
        assert response.get_json()["error"] == "too_many_attempts"


# -- rate limits --------------------------------------------------------------------------

def test_account_is_locked_after_five_failures_from_anywhere(client: Any) -> None:
    for n in range(5):
        assert json_login(client, "alice", "wrong-password", f"10.1.0.{n}").status_code == 401
    # Even the right password, from a fresh address, waits.
    assert_throttled(json_login(client, "alice", PASSWORDS["alice"], "10.1.0.99"))
    assert_throttled(json_login(client, "ALICE", PASSWORDS["alice"], "10.1.0.98"))
    assert client.get("/talk/login", headers=JSON).get_json()["user"] is None
    # Other accounts are not affected.
    assert json_login(client, "bob", PASSWORDS["bob"], "10.1.0.97").status_code == 200


def test_address_is_throttled_after_five_failures_on_any_accounts(client: Any) -> None:
    for n in range(5):
        assert json_login(client, f"nobody-{n}", "whatever-pass", "10.2.0.1").status_code == 401
    assert_throttled(json_login(client, "alice", PASSWORDS["alice"], "10.2.0.1"))
    assert json_login(client, "alice", PASSWORDS["alice"], "10.2.0.2").status_code == 200


def test_html_form_is_throttled_too(testapp: webtest.TestApp) -> None:
    for _ in range(5):
        assert login(testapp, "carol", "wrong-password").status_int == 401
    response = login(testapp, "carol")
    assert response.status_int == 429
    assert int(response.headers["Retry-After"]) >= 1
    assert response.headers["X-Frame-Options"] == "DENY"


def test_success_resets_the_account_counter(client: Any) -> None:
    for n in range(4):
        json_login(client, "bob", "wrong-password", f"10.3.0.{n}")
    assert json_login(client, "bob", PASSWORDS["bob"], "10.3.1.1").status_code == 200
    for n in range(4):
        json_login(client, "bob", "wrong-password", f"10.3.2.{n}")
    assert json_login(client, "bob", PASSWORDS["bob"], "10.3.3.1").status_code == 200


def test_unknown_account_and_wrong_password_get_the_same_answer(client: Any, testapp: webtest.TestApp,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    import flask_talk.users

    checks: list[str] = []
    real = flask_talk.users.check_password_hash
    monkeypatch.setattr(flask_talk.users, "check_password_hash",
                        lambda stored, password: checks.append(password) or real(stored, password))
    unknown = json_login(client, "no-such-reader", "some-password-1", "10.4.0.1")
    checks_unknown = len(checks)
    wrong = json_login(client, "alice", "some-password-1", "10.4.0.2")
    assert (unknown.status_code, unknown.get_json()) == (wrong.status_code, wrong.get_json())
    assert unknown.status_code == 401
    # The same hashing work either way, so timing does not tell accounts apart.
    assert checks_unknown == 1 and len(checks) == 2

    def page(username: str) -> tuple[int, str]:
        response = login(testapp, username, "some-password-1")
        return response.status_int, re.sub(r'value="[^"]*"', 'value=""', response.text)

    assert page("no-such-reader") == page("alice")


@pytest.mark.parametrize("field", ["username", "password"])
def test_credentials_that_are_no_utf8_text_get_the_wrong_password_answer(client: Any, field: str) -> None:
    """A lone surrogate (JSON ``\\ud800``) cannot be hashed or stored: refused, never a 500."""
    fields = {"username": '"alice"', "password": '"some-password-1"', field: '"\\ud800"'}
    body = '{"username":%s,"password":%s,"csrf_token":"%s"}' % (fields["username"], fields["password"],
                                                             csrf(client))
    refused = client.post("/talk/login", data=body.encode(), content_type="application/json",
                          environ_base={"REMOTE_ADDR": "10.4.1.1"})
    wrong = json_login(client, "alice", "some-password-1", "10.4.1.2")
    assert (refused.status_code, refused.get_json()) == (wrong.status_code, wrong.get_json())
    assert refused.status_code == 401


def failure_rows(app: Any) -> int:
    return app.extensions["talk"].store._run("SELECT COUNT(*) FROM talk_failures")[0][0]


def test_overlong_usernames_are_refused_before_anything_is_stored(app: Any, client: Any) -> None:
    """A username no account can have is not written to the failure records (nor hashed)."""
    at_bound = json_login(client, "u" * 254, "some-password-1", "10.5.0.1")
    assert at_bound.status_code == 401 and failure_rows(app) == 2  # counted: account and address
    over = json_login(client, "u" * 255, "some-password-1", "10.5.0.2")
    assert (over.status_code, over.get_json()) == (at_bound.status_code, at_bound.get_json())
    assert failure_rows(app) == 2


# -- request size -----------------------------------------------------------------------

def big_body(client: Any, size: int) -> bytes:
    """A JSON login (wrong password) with a valid CSRF token, padded to ``size`` bytes."""
    body = json.dumps({"username": "alice", "password": "wrong-password", "csrf_token": csrf(client),
                       "pad": ""})
    return body.replace('"pad": ""', '"pad": "' + "x" * (size - len(body)) + '"').encode()


@pytest.mark.parametrize("route", ["/talk/login", "/talk/logout", "/talk/token"])
def test_request_bodies_over_64_kb_are_refused(app: Any, client: Any, route: str) -> None:
    answer = client.post(route, data=big_body(client, 64 * 1024 + 1), content_type="application/json")
    assert answer.status_code == 413 and answer.get_json()["error"] == "too_large"
    assert failure_rows(app) == 0
    fits = client.post("/talk/login", data=big_body(client, 64 * 1024), content_type="application/json")
    assert fits.status_code == 401


def test_a_chunked_body_without_a_length_is_bounded_too(client: Any) -> None:
    """What gunicorn passes on for ``Transfer-Encoding: chunked``: no Content-Length at all."""
    chunked = {"headers": {"Transfer-Encoding": "chunked"}, "content_type": "application/json",
               "environ_overrides": {"wsgi.input_terminated": True}}
    answer = client.post("/talk/login", data=big_body(client, 64 * 1024 + 1), **chunked)
    assert answer.status_code == 413
    body = json.dumps({"username": "alice", "password": PASSWORDS["alice"], "csrf_token": csrf(client)})
    assert client.post("/talk/login", data=body.encode(), **chunked).status_code == 200


def test_the_sites_own_max_content_length_wins(make_app: Any) -> None:
    client = make_app(MAX_CONTENT_LENGTH=1024 * 1024).test_client()
    answer = client.post("/talk/login", data=big_body(client, 100 * 1024), content_type="application/json")
    assert answer.status_code == 401


# -- CSRF -------------------------------------------------------------------------------

@pytest.mark.parametrize("token", [None, "", "forged-token", "IjAi.aaaa.bbbb"])
def test_login_without_a_valid_csrf_token_is_refused(fresh_client: Any, token: str | None) -> None:
    client = fresh_client
    data = {"username": "alice", "password": PASSWORDS["alice"]}
    if token is not None:
        data["csrf_token"] = token
    form = client.post("/talk/login", data=data)
    assert form.status_code in (400, 403)
    as_json = client.post("/talk/login", json=data, headers=JSON)
    assert as_json.status_code in (400, 403)
    assert as_json.get_json()["error"] == "csrf_failed"
    with client.session_transaction() as session:
        assert USER_KEY not in session


def test_fc15_logout_without_csrf_is_refused_and_the_session_survives(client: Any) -> None:
    assert json_login(client, "alice", PASSWORDS["alice"]).status_code == 200
    for headers in ({}, JSON, {"X-CSRFToken": "forged"}):
        refused = client.post("/talk/logout", headers=headers)
        assert refused.status_code in (400, 403)
    refused = client.post("/talk/logout", data={"csrf_token": "forged"})
    assert refused.status_code in (400, 403)
    assert mint(client).status_code == 200  # still signed in
    done = client.post("/talk/logout", headers={"X-CSRFToken": csrf(client), **JSON})
    assert done.status_code == 200 and done.get_json()["logged_out"] is True
    assert mint(client).status_code == 401


def test_fc15_logout_form_with_its_csrf_token_signs_out(testapp: webtest.TestApp) -> None:
    login(testapp, "alice")
    token = csrf_from(testapp.get("/talk/login").text)
    assert testapp.post("/talk/logout", status="*").status_int in (400, 403)
    assert testapp.post("/talk/token", headers={"X-CSRFToken": token}).status_int == 200
    assert testapp.post("/talk/logout", {"csrf_token": token}).status_int == 302
    fresh = csrf_from(testapp.get("/talk/login").text)
    assert testapp.post("/talk/token", headers={"X-CSRFToken": fresh}, status=401)


# -- the session ------------------------------------------------------------------------

def test_login_rotates_the_session(client: Any) -> None:
    with client.session_transaction() as session:
        session["planted"] = "attacker-value"
        session[SID_KEY] = "attacker-chosen-sid"
    before = client.get_cookie("session").value
    assert json_login(client, "alice", PASSWORDS["alice"]).status_code == 200
    after = client.get_cookie("session").value
    assert after != before
    with client.session_transaction() as session:
        assert "planted" not in session
        assert session[USER_KEY] == "reader-alice"
        assert session[SID_KEY] != "attacker-chosen-sid"


def test_login_as_another_reader_gets_a_new_session_id(client: Any) -> None:
    json_login(client, "alice", PASSWORDS["alice"])
    with client.session_transaction() as session:
        first = session[SID_KEY]
    json_login(client, "bob", PASSWORDS["bob"])
    with client.session_transaction() as session:
        assert session[USER_KEY] == "reader-bob" and session[SID_KEY] != first


def test_logout_clears_the_session_and_a_copied_cookie_stops_working(app: Any, client: Any) -> None:
    json_login(client, "alice", PASSWORDS["alice"])
    copied = client.get_cookie("session").value
    assert client.post("/talk/logout", headers={"X-CSRFToken": csrf(client), **JSON}).status_code == 200
    with client.session_transaction() as session:
        assert USER_KEY not in session and SID_KEY not in session
    replay = app.test_client()
    replay.set_cookie("session", copied)
    assert mint(replay).status_code == 401


# -- next -------------------------------------------------------------------------------

EVIL_NEXT = [
    "//evil.com", "//evil.com/path", "///evil.com", "////evil.com", "/\\evil.com", "\\\\evil.com",
    "\\/evil.com", "/\\/evil.com", "https://evil.com", "http://evil.com/", "HTTPS://evil.com",
    "http:evil.com", "https:/evil.com", "ftp://evil.com", "javascript:alert(1)", "JaVaScRiPt:alert(1)",
    " javascript:alert(1)", "data:text/html,<script>alert(1)</script>", "vbscript:msgbox",
    "%2F%2Fevil.com", "%2f%2fevil.com", "/%5Cevil.com%2F..", "evil.com", "@evil.com", "//@evil.com",
    "/\t/evil.com", "/\n/evil.com", "\t//evil.com", "\n//evil.com", "/\r\n/evil.com", " //evil.com",
    "//evil.com\\@localhost", "https://localhost@evil.com", "//localhost@evil.com", "\x00//evil.com",
    "/\x0b/evil.com", "\uff0f\uff0fevil.com", "//evil%2Ecom",
]


def assert_same_site(location: str) -> None:
    parts = urlsplit(location)
    assert parts.scheme in ("", "http") and parts.netloc in ("", "localhost"), location
    assert parts.path.startswith("/") and not parts.path.startswith("//"), location
    assert "\\" not in location and "evil" not in parts.netloc


@pytest.mark.parametrize("target", EVIL_NEXT)
def test_login_never_redirects_off_site(fresh_client: Any, target: str) -> None:
    client = fresh_client
    form = client.get("/talk/login?next=" + quote(target, safe=""))
    hidden = re.search(r'name="next" value="([^"]*)"', form.get_data(as_text=True))
    if hidden:
        assert_same_site(hidden.group(1))
    response = client.post("/talk/login", data={"username": "alice", "password": PASSWORDS["alice"],
                                                "csrf_token": csrf_from(form.get_data(as_text=True)),
                                                "next": target})
    assert response.status_code == 302
    assert_same_site(response.headers["Location"])
    as_json = json_login(client, "alice", PASSWORDS["alice"], next=target)
    assert_same_site(as_json.get_json()["next"])


@pytest.mark.parametrize("target", ["//evil.com", "https://evil.com", "/\\evil.com", "javascript:alert(1)"])
def test_logout_never_redirects_off_site(fresh_client: Any, target: str) -> None:
    client = fresh_client
    json_login(client, "alice", PASSWORDS["alice"])
    response = client.post("/talk/logout", data={"csrf_token": csrf(client), "next": target})
    assert response.status_code == 302
    assert_same_site(response.headers["Location"])


@pytest.mark.parametrize("target", ["/articles/harbour-reopens", "/articles/library-night?c=1#comments",
                                    "/settings"])
def test_same_site_next_is_kept(fresh_client: Any, target: str) -> None:
    client = fresh_client
    form = client.get("/talk/login?next=" + quote(target, safe=""))
    response = client.post("/talk/login", data={"username": "alice", "password": PASSWORDS["alice"],
                                                "csrf_token": csrf_from(form.get_data(as_text=True)),
                                                "next": target})
    assert urlsplit(response.headers["Location"]).path == urlsplit(target).path


# -- cookies ----------------------------------------------------------------------------

def session_cookie(response: Any) -> str:
    cookies = [c for c in response.headers.getall("Set-Cookie") if c.startswith("session=")]
    assert cookies, "no session cookie set"
    return cookies[-1]


def test_session_cookie_is_httponly_lax_and_not_secure_over_http(testapp: webtest.TestApp) -> None:
    cookie = session_cookie(login(testapp, "alice"))
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Secure" not in cookie


def test_session_cookie_is_secure_over_https(app: Any) -> None:
    secure = webtest.TestApp(app, extra_environ={"wsgi.url_scheme": "https"})
    response = login(secure, "alice")
    assert response.status_int == 302
    cookie = session_cookie(response)
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    # ...and the cookie works over https: the reader is signed in.
    token = csrf_from(secure.get("/talk/login").text)
    assert secure.post("/talk/token", headers={"X-CSRFToken": token}).status_int == 200


def test_iframe_deployment_settings_are_honoured(make_app: Any) -> None:
    """The documented cross-site iframe setting: SameSite=None; Secure; Partitioned."""
    app = make_app(SESSION_COOKIE_SAMESITE="None", SESSION_COOKIE_SECURE=True,
                   SESSION_COOKIE_PARTITIONED=True)
    secure = webtest.TestApp(app, extra_environ={"wsgi.url_scheme": "https"})
    cookie = session_cookie(login(secure, "alice"))
    assert "SameSite=None" in cookie and "Secure" in cookie and "Partitioned" in cookie
    assert "HttpOnly" in cookie


# -- headers ----------------------------------------------------------------------------

@pytest.mark.parametrize("how", ["page", "failed", "csrf-failed"])
def test_login_page_cannot_be_framed(testapp: webtest.TestApp, how: str) -> None:
    if how == "page":
        response = testapp.get("/talk/login")
    elif how == "failed":
        response = login(testapp, "alice", "wrong-password")
    else:
        response = testapp.post("/talk/login", {"username": "alice", "password": "x"}, status=400)
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


def test_embed_page_csp_allows_our_scripts_and_the_talk_origin_only(make_app: Any) -> None:
    app = make_app(TALK_URL="https://talk.example.com/talk")
    client = app.test_client()
    response = client.get("/talk/embed?asset_url=https://news.example/a")
    assert response.status_code == 200
    policy = dict(part.strip().split(" ", 1) for part in response.headers["Content-Security-Policy"].split(";")
                  if part.strip())
    assert policy["script-src"].split() == ["'self'", "https://talk.example.com"]
    assert policy["default-src"] == "'self'"
    assert policy["object-src"] == "'none'"
    assert "frame-ancestors" in policy
    for directive, value in policy.items():
        assert "*" not in value.split(), directive
        assert "'unsafe-eval'" not in value
    assert '<script src="https://talk.example.com/talk/static/embed.js">' in response.get_data(as_text=True)
    # Inline script would be blocked: the page holds data only in a JSON block.
    for tag in re.findall(r"<script[^>]*>", response.get_data(as_text=True)):
        assert "src=" in tag or 'type="application/json"' in tag, tag


def test_token_user_and_embed_responses_are_not_stored(app: Any, client: Any) -> None:
    json_login(client, "alice", PASSWORDS["alice"])
    token_response = mint(client)
    token = token_response.get_json()["token"]
    user_response = client.get("/talk/user", headers={"Authorization": "Bearer " + token})
    embed_response = client.get("/talk/embed?asset_url=https://news.example/a")
    article = client.get("/articles/harbour-reopens")
    for response in (token_response, user_response, embed_response, article,
                     client.get("/talk/user"), client.get("/talk/login", headers=JSON)):
        assert response.status_code in (200, 401)
        assert response.headers["Cache-Control"] == "no-store"


def test_a_signed_out_cookie_can_sign_in_again_at_once(app: Any, client: Any) -> None:
    """The session of a revoked cookie is cleared before the login page's CSRF token is made."""
    json_login(client, "alice", PASSWORDS["alice"])
    copied = client.get_cookie("session").value
    client.post("/talk/logout", headers={"X-CSRFToken": csrf(client), **JSON})
    for how in ("json", "form"):
        replay = app.test_client()
        replay.set_cookie("session", copied)
        if how == "json":
            assert json_login(replay, "alice", PASSWORDS["alice"]).status_code == 200
        else:
            page = replay.get("/talk/login").get_data(as_text=True)
            response = replay.post("/talk/login", data={"username": "alice", "password": PASSWORDS["alice"],
                                                        "csrf_token": csrf_from(page)})
            assert response.status_code == 302
        assert mint(replay).status_code == 200


def test_session_serializer_follows_a_secret_key_change(app: Any) -> None:
    """The cached session serializer must never outlive a change of SECRET_KEY."""
    client = app.test_client()
    with client.session_transaction() as sess:
        sess["probe"] = "kept"
    with client.session_transaction() as sess:
        assert sess["probe"] == "kept"
    app.secret_key = "another-session-key-" + "z" * 32
    with client.session_transaction() as sess:
        assert "probe" not in sess

"""Coral 5+ format (``TALK_TOKEN_FORMAT=coral``): SSO token shape, Coral's own validation,
the embed handed to ``Coral.createStreamEmbed``, and the demo end to end. FC-10, FC-11."""
from __future__ import annotations

import base64
import json
import re
import subprocess

import pytest

from flask_talk.errors import ConfigurationError
from flask_talk.state import get_state

from .conftest import csrf_from
from .conftest import embed_config
from .conftest import login
from .realparts import ROOT
from .realparts import require
from .realparts import talk_node

CORAL_SECRET = "ssosec_" + "5e" * 34
CORAL_SETTINGS = {"TALK_TOKEN_FORMAT": "coral", "TALK_JWT_SECRET": CORAL_SECRET}
CORAL = {"secrets": [{"kid": "only", "secret": CORAL_SECRET}], "oidc": True, "tenantId": "tenant-1"}


def _claims(token: str) -> dict:
    return json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))


def _header(token: str) -> dict:
    return json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))


def run_embed(config: dict) -> dict:
    """What talk-embed.js hands to window.Coral for this config (tests/node/run_embed.js)."""
    node = require("node")
    done = subprocess.run([node, str(ROOT / "tests" / "node" / "run_embed.js")], input=json.dumps({"config": config}),
                          capture_output=True, text=True, timeout=30, check=True)
    return json.loads(done.stdout)


@pytest.fixture
def coral_app(make_app):
    return make_app(TALK_URL="https://coral.example.test", **CORAL_SETTINGS)


@pytest.fixture
def coral_testapp(make_app):
    import webtest

    return webtest.TestApp(make_app(**CORAL_SETTINGS))


# -- FC-10: an anonymous reader gets no accessToken key at all --------------------------------

@pytest.mark.node
def test_fc10_anonymous_reader_no_access_token_key(coral_app):
    import webtest

    page = webtest.TestApp(coral_app).get("/articles/harbour-reopens")
    config = embed_config(page.text)
    assert config["format"] == "coral" and "token" not in config
    assert '<script src="https://coral.example.test/assets/js/embed.js">' in page.text
    result = run_embed(config)
    ((name, options),) = result["calls"]
    assert name == "createStreamEmbed"
    assert "accessToken" not in options
    assert options["rootURL"] == "https://coral.example.test"
    assert options["storyURL"] == config["asset_url"] and options["id"] == config["element_id"]
    assert result["timers"] == 0  # nothing to renew


@pytest.mark.node
@pytest.mark.parametrize("signed_in", [False, True])
def test_coral_stream_is_rendered_as_coral_documents_it(coral_app, signed_in):
    """createStreamEmbed alone draws nothing: Coral's embed code passes autoRender: true."""
    import webtest

    testapp = webtest.TestApp(coral_app)
    if signed_in:
        page = login(testapp, "alice", next_path="/articles/library-night").follow()
    else:
        page = testapp.get("/articles/library-night")
    result = run_embed(embed_config(page.text))
    assert result["rendered"], "the Coral stream was created but never rendered"
    ((name, options),) = result["calls"]
    assert name == "createStreamEmbed" and options["autoRender"] is True


@pytest.mark.node
def test_signed_in_reader_gets_access_token_and_a_renewal(coral_app):
    import webtest

    testapp = webtest.TestApp(coral_app)
    page = login(testapp, "alice", next_path="/articles/library-night").follow()
    config = embed_config(page.text)
    result = run_embed(config)
    ((name, options),) = result["calls"]
    assert name == "createStreamEmbed" and options["accessToken"] == config["token"]
    assert result["timers"] == 1


@pytest.mark.node
def test_talk4_format_still_uses_talk_render(make_app):
    import webtest

    page = webtest.TestApp(make_app(TALK_URL="https://talk.example.test")).get("/articles/harbour-reopens")
    config = embed_config(page.text)
    assert '<script src="https://talk.example.test/static/embed.js">' in page.text
    result = run_embed(config)
    ((name, options),) = result["calls"]
    assert name == "Talk.render" and "auth_token" not in options
    assert "autoRender" not in options and result["rendered"]


# -- FC-11: jti, iat, exp and user only; Coral's schema accepts it ---------------------------

@pytest.mark.node
def test_fc11_token_holds_only_coral_claims_and_coral_accepts_it(coral_app):
    with coral_app.app_context():
        minted = get_state().codec.mint({"id": 42, "username": "alice", "email": "Alice@Example.org"})
    claims = _claims(minted.token)
    assert set(claims) == {"jti", "iat", "exp", "user"}
    assert claims["user"] == {"id": "42", "email": "alice@example.org", "username": "alice"}
    assert isinstance(claims["exp"], int) and claims["exp"] - claims["iat"] == 86400
    assert _header(minted.token) == {"alg": "HS256", "typ": "JWT"}
    answer = talk_node([{"op": "coral_verify", "coral": CORAL, "token": minted.token}])[0]
    assert answer["ok"], answer
    assert answer["user"]["id"] == "42"


@pytest.mark.node
def test_coral_harness_sends_oidc_looking_tokens_to_the_oidc_verifier():
    """The reason for FC-11: with OIDC on, sub+iss+aud+exp make Coral pick OIDC and fail."""
    oidc_like = {"sub": "42", "iss": "https://news.example/", "aud": "talk", "exp": 4102444800,
                 "user": {"id": "42", "email": "a@example.org", "username": "alice"}}
    signed = talk_node([{"op": "coral_sign", "coral": CORAL, "payload": oidc_like}])[0]["token"]
    answer = talk_node([{"op": "coral_verify", "coral": CORAL, "token": signed}])[0]
    assert not answer["ok"] and answer["error"].startswith("Error: OIDC")


def test_profile_loader_sets_badges_and_role_and_optional_fields_stay_out(make_app):
    app = make_app(**CORAL_SETTINGS)
    talk = app.extensions["demo_talk"]

    @talk.profile_loader
    def coral_profile(user):
        if user["username"] == "alice":
            return {"badges": ["subscriber", ""], "role": "staff", "url": "https://news.example/u/alice"}
        return {"badges": [], "role": None, "avatar": ""}

    import webtest

    testapp = webtest.TestApp(app)
    token = embed_config(login(testapp, "alice", next_path="/articles/cycle-lanes").follow().text)["token"]
    assert _claims(token)["user"] == {"id": "reader-alice", "email": "alice@example.org", "username": "alice",
                                      "badges": ["subscriber"], "role": "STAFF",
                                      "url": "https://news.example/u/alice"}
    testapp.reset()
    token = embed_config(login(testapp, "bob", next_path="/articles/cycle-lanes").follow().text)["token"]
    assert set(_claims(token)["user"]) == {"id", "email", "username"}


@pytest.mark.parametrize(("profile", "message"), [
    ({"role": "OWNER"}, "role must be one of"),
    ({"avatar": "/static/a.png"}, "'avatar' must be an absolute http(s) URL"),
    ({"url": "javascript:alert(1)"}, "'url' must be an absolute http(s) URL"),
    ({"url": "https://news.example/u/alice smith"}, "'url' has spaces or characters a URL cannot hold"),
    ({"avatar": "https://news.example/a\\b.png"}, "'avatar' has spaces or characters a URL cannot hold"),
    ({"username": None}, "need the user's username and email"),
])
def test_coral_profile_values_are_checked(coral_app, profile, message):
    base = {"id": "7", "username": "zoe", "email": "zoe@example.org"}
    with coral_app.app_context(), pytest.raises(ValueError, match=re.escape(message)):
        get_state().codec.mint({**base, **profile})


#: Avatars and whether Coral keeps them: the URL's path must end in an image extension, in
#: any case; the query string and fragment do not count.
AVATARS = [
    ("https://cdn.example/u/alice.png", True),
    ("https://cdn.example/u/alice.JPG", True),
    ("http://cdn.example/u/alice.jpeg?size=80", True),
    ("https://cdn.example/u/alice.gif#big", True),
    ("https://cdn.example/u/caf%C3%A9.WebP", True),
    ("https://cdn.example/u/x/../alice.png", True),
    ("https://www.gravatar.com/avatar/0bc83cb571cd1c50ba6f3e8a78ef1346?s=80", False),
    ("https://cdn.example/avatar?format=.png", False),
    ("https://cdn.example/u/alice.png/", False),
    ("https://cdn.example/u/alice.png;v=2", False),
    ("https://cdn.example/u/alice.svg", False),
    ("https://cdn.example/u/alice.pngx", False),
    ("https://cdn.example", False),
]


def _mint_with_avatar(app, avatar):
    with app.app_context():
        return get_state().codec.mint({"id": "7", "username": "zoe", "email": "zoe@example.org",
                                       "avatar": avatar}).token


@pytest.mark.node
def test_avatar_table_is_what_coral_keeps_and_coral_accepts_our_tokens(coral_app):
    """Coral's own rule (WHATWG URL pathname, Coral's regex) on each avatar given straight, and
    flask-talk's token for the same avatar accepted with the same user."""
    raw = [{"jti": "j", "user": {"id": "7", "email": "zoe@example.org", "username": "zoe", "avatar": avatar}}
           for avatar, _ in AVATARS]
    signed = talk_node([{"op": "coral_sign", "coral": CORAL, "payload": payload} for payload in raw])
    ours = [_mint_with_avatar(coral_app, avatar) for avatar, _ in AVATARS]
    answers = talk_node([{"op": "coral_verify", "coral": CORAL, "token": token}
                         for token in [answer["token"] for answer in signed] + ours])
    straight, of_ours = answers[:len(AVATARS)], answers[len(AVATARS):]
    for (avatar, kept), coral, mine, token in zip(AVATARS, straight, of_ours, ours):
        assert ("avatar" in coral["user"]) is kept, avatar
        assert mine["ok"] and mine["user"] == _claims(token)["user"], avatar


@pytest.mark.parametrize(("avatar", "kept"), AVATARS)
def test_avatar_coral_would_drop_is_left_out_with_a_warning(coral_app, caplog, avatar, kept):
    with caplog.at_level("WARNING", logger="flask_talk"):
        token = _mint_with_avatar(coral_app, avatar)  # never fails the mint
    user = _claims(token)["user"]
    assert ("avatar" in user) is kept and user.get("avatar", avatar) == avatar
    warnings = [r.getMessage() for r in caplog.records if "avatar" in r.getMessage()]
    if kept:
        assert warnings == []
    else:
        assert warnings == ["flask-talk: left user.avatar out of a Coral SSO token: Coral keeps only "
                            "avatars whose URL path ends in .jpg, .jpeg, .gif, .png or .webp"]
        assert all(private not in warnings[0] for private in ("cdn.example", "gravatar", "zoe", "7"))


def test_reader_with_an_unusable_avatar_still_gets_a_token(make_app, caplog):
    app = make_app(**CORAL_SETTINGS)

    @app.extensions["demo_talk"].profile_loader
    def coral_profile(user):
        return {"avatar": "https://www.gravatar.com/avatar/0bc83cb571cd1c50ba6f3e8a78ef1346"}

    import webtest

    testapp = webtest.TestApp(app)
    with caplog.at_level("WARNING", logger="flask_talk"):
        token = embed_config(login(testapp, "alice", next_path="/articles/cycle-lanes").follow().text)["token"]
    assert set(_claims(token)["user"]) == {"id", "email", "username"}
    assert any("left user.avatar out" in r.getMessage() for r in caplog.records)
    assert not any("gravatar" in r.getMessage() or "alice" in r.getMessage() for r in caplog.records)


def test_coral_is_hs256_only_and_uses_the_secret_whole(make_app):
    with pytest.raises(ConfigurationError, match="HS256 only"):
        make_app(TALK_JWT_ALG="RS256", **CORAL_SETTINGS)
    # "base64:" means nothing to Coral: the admin page's text is the key, prefix included.
    literal = "base64:" + base64.b64encode(b"x" * 40).decode()
    app = make_app(TALK_TOKEN_FORMAT="coral", TALK_JWT_SECRET=literal)
    with app.app_context():
        token = get_state().codec.mint({"id": "7", "username": "zoe", "email": "zoe@example.org"}).token
    coral = {"secrets": [{"kid": "a", "secret": literal}]}
    assert talk_node([{"op": "coral_verify", "coral": coral, "token": token}])[0]["ok"]


@pytest.mark.node
def test_coral_key_rotation_signs_with_the_first_kid(make_app):
    secrets = [{"kid": "new", "secret": CORAL_SECRET}, {"kid": "old", "secret": "ssosec_" + "0d" * 34}]
    app = make_app(TALK_TOKEN_FORMAT="coral", TALK_JWT_SECRET=None, TALK_JWT_SECRETS=json.dumps(secrets))
    with app.app_context():
        token = get_state().codec.mint({"id": "7", "username": "zoe", "email": "zoe@example.org"}).token
    assert _header(token)["kid"] == "new"
    # Coral after it retired "old" (one active key: kid ignored) and before (kid picks).
    for active in (secrets[:1], secrets):
        answer = talk_node([{"op": "coral_verify", "coral": {"secrets": active}, "token": token}])[0]
        assert answer["ok"], answer


# -- the demo, end to end, in Coral format -----------------------------------------------------

def test_demo_works_in_coral_format(coral_testapp):
    testapp = coral_testapp
    anonymous = embed_config(testapp.get("/articles/harbour-reopens").text)
    assert anonymous["format"] == "coral" and "token" not in anonymous
    page = login(testapp, "carol", next_path="/articles/harbour-reopens").follow()
    config = embed_config(page.text)
    assert config["format"] == "coral"
    token = config["token"]
    assert set(_claims(token)) == {"jti", "iat", "exp", "user"}
    lookup = testapp.get("/talk/user", headers={"Authorization": f"Bearer {token}"})
    assert lookup.json["id"] == "reader-carol" and lookup.json["username"] == "carol"
    standin = testapp.get("/stand-in/api/v1/auth", headers={"Authorization": f"Bearer {token}"})
    assert standin.json["user"]["username"] == "carol"
    renewed = testapp.post("/talk/token", headers={"X-CSRFToken": config["csrf_token"], "Accept": "application/json"})
    assert renewed.json["token"] != token and set(_claims(renewed.json["token"])) == {"jti", "iat", "exp", "user"}
    testapp.post("/talk/logout", {"csrf_token": csrf_from(page.text)})
    refused = testapp.get("/talk/user", headers={"Authorization": f"Bearer {token}"}, status=401)
    assert "revoked" in refused.json["error_description"]


#: Profile URLs a site might hand over; Coral checks each with Joi.string().uri().
PROFILE_URLS = [
    "https://news.example/u/alice", "https://news.example/u/alice?tab=comments#top",
    "https://news.example/u/al%C3%ADce", "https://news.example/u/(alice)!;v=2", "http://[::1]:8080/u/a",
    "https://user:pw@news.example/u/a", "https://news.example/u/alice smith", "https://news.example/u/josé",
    "https://news.example/a/[x].png", "https://news.example/a#b#c.png", "https://news.example/a\\b.png",
    "https://news.example/<a>", "https://news.example/a|b",
    "https://news.example/a\"b", "https://news.example/a{b}", "https://news.example/a^b", "https://news.example/a`b",
    "https://news.example/\u00a0", "https://news.example/a\tb",
    "http://[::1]@host/", "http://[::1]x/", "http://host:abc/", "http://host:80:90/", "http://:80/",
    "https://news.example:8443/u/a", "http://[v1.fe]/u/a", "https://a%40b@news.example/u",
]
#: Refused here though Joi lets them pass: a ``%`` must start an escape (RFC 3986).
STRICTER_THAN_CORAL = ["https://news.example/a%zz", "https://news.example/a%2"]


@pytest.mark.node
def test_profile_urls_we_put_in_a_token_are_urls_coral_accepts(coral_app):
    """Coral refuses the whole SSO token when user.url or user.avatar fails Joi's uri():
    every URL flask-talk lets through must pass it, and the ordinary ones must get through."""
    urls = PROFILE_URLS + STRICTER_THAN_CORAL
    joi = talk_node([{"op": "is_uri", "text": url} for url in urls])
    base = {"id": "7", "username": "zoe", "email": "zoe@example.org"}
    with coral_app.app_context():
        codec = get_state().codec
        for url, answer in zip(urls, joi):
            try:
                minted = codec.mint({**base, "url": url})
            except ValueError:
                assert not answer["value"] or url in STRICTER_THAN_CORAL, f"refused a URL Coral accepts: {url!r}"
                continue
            assert answer["value"], f"let through a URL Coral refuses: {url!r}"
            assert minted.claims["user"]["url"] == url

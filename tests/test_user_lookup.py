"""``GET /talk/user``: what Talk's tokenUserNotFound hook gets back (FC-02, 09, 13, 14, 16)."""
from __future__ import annotations

import time
import uuid

import pytest
from joserfc import jwt
from joserfc.jwk import OctKey

from flask_talk import current_talk

from .conftest import ROOT_URL
from .conftest import SECRET


def forge(claims, secret=SECRET, alg="HS256", header=None):
    """A token signed with the test secret but claims chosen by the test."""
    base = {"jti": str(uuid.uuid4()), "exp": int(time.time()) + 300, "iss": ROOT_URL, "aud": "talk",
            "sub": "reader-alice"}
    base.update(claims)
    base = {k: v for k, v in base.items() if v is not None}
    return jwt.encode({"alg": alg, **(header or {})}, base, OctKey.import_key(secret.encode()),
                      algorithms=[alg])


def lookup(testapp, token, status=200):
    return testapp.get("/talk/user", headers={"Authorization": f"Bearer {token}"}, status=status)


@pytest.mark.parametrize(("claims", "config", "status"), [
    ({"aud": "talk"}, {}, 200),
    ({"aud": ["talk", "other"]}, {}, 200),
    ({"aud": None}, {}, 401),
    ({"aud": "x"}, {"TALK_JWT_DISABLE_AUDIENCE": "TRUE"}, 200),
    ({"aud": "Talk"}, {}, 401),
    ({"iss": None}, {}, 401),
    ({"iss": "https://elsewhere.example/"}, {}, 401),
    ({"iss": "anything"}, {"TALK_JWT_DISABLE_ISSUER": "TRUE"}, 200),
])
def test_fc09_audience_and_issuer_rules_match_talks(make_app, claims, config, status):
    import webtest

    testapp = webtest.TestApp(make_app(**config))
    response = lookup(testapp, forge(claims), status)
    if status == 401:
        assert response.json["error"] == "invalid_token"
        assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_fc16_float_exp_from_another_issuer_is_accepted(testapp):
    assert lookup(testapp, forge({"exp": time.time() + 300.5})).json["id"] == "reader-alice"


def test_fc02_integer_sub_is_401_not_500(testapp):
    response = lookup(testapp, forge({"sub": 42}), 401)
    assert "not a non-empty string" in response.json["error_description"]


def test_fc13_missing_header_names_it_and_the_proxy_fix(testapp):
    response = testapp.get("/talk/user", status=401)
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="talk"'
    assert "Authorization" in response.json["error_description"]
    assert "WSGIPassAuthorization On" in response.json["error_description"]


def test_lower_case_bearer_scheme_is_accepted(testapp):
    response = testapp.get("/talk/user", headers={"Authorization": f"bearer {forge({})}"})
    assert response.json["username"] == "alice"


def test_deleted_user_is_404_not_found(app, testapp):
    token = forge({})
    with app.app_context():
        current_talk.users.builtin().delete("reader-alice")
    response = lookup(testapp, token, 404)
    assert response.json["error"] == "not_found"
    assert response.headers["Cache-Control"] == "no-store"


def test_jwks_is_404_for_hmac_never_publishing_the_secret(testapp):
    testapp.get("/talk/.well-known/jwks.json", status=404)

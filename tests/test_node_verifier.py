"""Talk's own verifier: Node's jsonwebtoken 9 with exactly Talk's options, both directions."""
from __future__ import annotations

import json

import pytest
import webtest

from .conftest import ROOT_URL
from .conftest import embed_config
from .conftest import login
from .realparts import talk_node
from .realparts import talk_sign

pytestmark = pytest.mark.node

NEW, OLD = "new-secret-" + "n" * 60, "old-secret-" + "o" * 60
CONFIGS = {
    "HS256": {"TALK_JWT_ALG": "HS256", "TALK_JWT_SECRET": "s" * 32},
    "HS384": {"TALK_JWT_ALG": "HS384", "TALK_JWT_SECRET": "s" * 48},
    "HS512": {"TALK_JWT_ALG": "HS512", "TALK_JWT_SECRET": "s" * 64},
    "two-key set": {"TALK_JWT_ALG": "HS256", "TALK_JWT_SECRETS": json.dumps(
        [{"kid": "2", "secret": NEW}, {"kid": "1", "secret": OLD}])},
    "base64 secret": {"TALK_JWT_SECRET": "base64:dGhpcy1pcy1hLWxvbmctZW5vdWdoLXRleHQtc2VjcmV0LTAxMjM0NQ=="},
    "custom claim and no issuer": {"TALK_JWT_SECRET": "s" * 32, "TALK_JWT_USER_ID_CLAIM": "user.id",
                                   "TALK_JWT_DISABLE_ISSUER": "TRUE"},
}


def site(make_app, env):
    app = make_app(TALK_JWT_SECRET=env.get("TALK_JWT_SECRET"), **{k: v for k, v in env.items()
                                                                  if k != "TALK_JWT_SECRET"})
    return webtest.TestApp(app)


@pytest.mark.parametrize("name", list(CONFIGS))
def test_talk_accepts_our_tokens(make_app, name):
    env = {**CONFIGS[name], "TALK_ROOT_URL": ROOT_URL}
    testapp = site(make_app, env)
    tokens = [embed_config(login(testapp, "alice", next_path="/articles/cycle-lanes").follow().text)["token"]]
    tokens.append(testapp.post("/talk/token", headers={"X-CSRFToken": _csrf(testapp)}).json["token"])
    answers = talk_node([{"op": "verify", "env": env, "token": t} for t in tokens])
    for answer in answers:
        assert answer["ok"], answer
        claim = env.get("TALK_JWT_USER_ID_CLAIM", "sub")
        value = answer["payload"]
        for part in claim.split("."):
            value = value[part]
        assert value == "reader-alice"


@pytest.mark.parametrize("name", list(CONFIGS))
def test_we_accept_talks_tokens(make_app, name):
    env = {**CONFIGS[name], "TALK_ROOT_URL": ROOT_URL}
    testapp = site(make_app, env)
    claim = env.get("TALK_JWT_USER_ID_CLAIM", "sub")
    payload = {"sub": "reader-bob"} if claim == "sub" else {"user": {"id": "reader-bob"}}
    token = talk_sign(env, payload)
    response = testapp.get("/talk/user", headers={"Authorization": f"Bearer {token}"})
    assert response.json["username"] == "bob"


def test_talk_and_we_refuse_the_same_wrong_tokens(make_app):
    env = {**CONFIGS["two-key set"], "TALK_ROOT_URL": ROOT_URL}
    testapp = site(make_app, env)
    wrong = {
        "other audience": talk_sign({**env, "TALK_JWT_AUDIENCE": "other"}, {"sub": "reader-bob"}),
        "other issuer": talk_sign({**env, "TALK_ROOT_URL": "https://elsewhere/"}, {"sub": "reader-bob"}),
        "unknown kid": talk_sign(env, {"sub": "reader-bob"}, kid="7"),
        "expired": talk_sign(env, {"sub": "reader-bob"}, expiresIn=-10),
    }
    answers = talk_node([{"op": "verify", "env": env, "token": t} for t in wrong.values()])
    for (name, token), answer in zip(wrong.items(), answers):
        assert not answer["ok"], name
        testapp.get("/talk/user", headers={"Authorization": f"Bearer {token}"}, status=401)


def _csrf(testapp):
    return testapp.get("/talk/login", headers={"Accept": "application/json"}).json["csrf_token"]

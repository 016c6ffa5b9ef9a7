"""RS/PS/ES keys: PEMs as Talk reads them, signing needs the private half, the algorithm comes
from configuration only, every algorithm Talk offers works, and the JWKS endpoint.
Field cases FC-06, FC-07, FC-08."""
from __future__ import annotations

import base64
import json
import time

import pytest

from flask_talk.errors import ConfigurationError
from flask_talk.state import get_state

from .conftest import ROOT_URL
from .keypairs import escaped
from .keypairs import key_pair
from .keypairs import pem_secret
from .keypairs import pem_spec
from .realparts import talk_node
from .realparts import talk_verify

ALICE = {"id": "reader-alice", "username": "alice", "email": "alice@example.org"}


def _bearer(app, token):
    return app.test_client().get("/talk/user", headers={"Authorization": f"Bearer {token}"})


def _mint(app, profile=ALICE, **options):
    with app.app_context():
        return get_state().codec.mint(profile, **options)


def _b64(obj) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


# -- FC-06: PEM strings with backslash-n escapes; a public key alone cannot sign -----------------

@pytest.mark.node
def test_fc06_escaped_pems_load_and_tokens_verify_in_talk(make_app):
    secret = pem_secret("RS256")
    assert "\\n" in secret and "\n" not in secret  # one line, as in an env file
    app = make_app(TALK_JWT_ALG="RS256", TALK_JWT_SECRET=secret, DEMO_SEED_READERS=False)
    minted = _mint(app)
    header = json.loads(base64.urlsafe_b64decode(minted.token.split(".")[0] + "=="))
    assert header == {"alg": "RS256", "typ": "JWT"}
    talk_env = {"TALK_JWT_ALG": "RS256", "TALK_ROOT_URL": ROOT_URL,
                "TALK_JWT_SECRET": json.dumps(pem_spec("RS256", private=False))}  # Talk holds only the public key
    answer = talk_verify(talk_env, minted.token)
    assert answer["ok"], answer
    assert answer["payload"]["sub"] == "reader-alice"


def test_fc06_real_newlines_in_the_json_work_too(make_app):
    private, public = key_pair("ES256")
    app = make_app(TALK_JWT_ALG="ES256", TALK_JWT_SECRET=json.dumps({"private": private, "public": public}),
                   DEMO_SEED_READERS=False)
    assert _bearer(app, _mint(app).token).status_code == 404  # verified; no such user in this app


@pytest.mark.parametrize("setting", ["TALK_JWT_SECRET", "TALK_JWT_SECRETS"])
def test_fc06_public_key_only_is_a_start_up_error_naming_the_key(make_app, setting):
    spec = pem_spec("RS256", private=False, kid="k1")
    value = json.dumps([spec]) if setting == "TALK_JWT_SECRETS" else json.dumps(spec)
    with pytest.raises(ConfigurationError) as info:
        make_app(**{"TALK_JWT_ALG": "RS256", "TALK_JWT_SECRET": None, setting: value})
    assert info.value.key == setting
    assert "tokens cannot be signed without 'private'" in str(info.value)


def test_a_retired_public_only_key_after_the_signer_is_fine(make_app):
    keys = json.dumps([pem_spec("PS256", 0, kid="new"), pem_spec("PS256", 1, kid="old", private=False)])
    app = make_app(TALK_JWT_ALG="PS256", TALK_JWT_SECRET=None, TALK_JWT_SECRETS=keys)
    assert _mint(app).token


@pytest.mark.parametrize(("alg", "value", "message"), [
    ("ES256", lambda: pem_secret("ES384"), "ES256 needs an EC key on curve P-256"),
    ("RS256", lambda: pem_secret("ES256"), "is not a PEM RSA key that parses"),
    ("ES256", lambda: json.dumps({"private": "-----BEGIN PRIVATE KEY-----\\nnot a key\\n-----END PRIVATE KEY-----"}),
     "'private' is not a PEM EC key that parses"),
    ("RS256", lambda: json.dumps({"private": pem_spec("RS256", 0)["private"], "public": pem_spec("RS256", 1)["public"]}),
     "'public' is not the public half of 'private'"),
    ("RS256", lambda: "-----BEGIN PRIVATE KEY-----", "needs a JSON object"),
    ("ES256", lambda: json.dumps({"kid": "x"}), "ES256 needs a PEM 'public' key"),
    # Talk fails to start without 'public', so a private-only value is refused here too.
    ("RS256", lambda: json.dumps({"private": pem_spec("RS256", 0)["private"]}), "RS256 needs a PEM 'public' key"),
    ("RS256", lambda: json.dumps(dict(zip(("private", "public"), map(escaped, key_pair("RSA", 0, 1024))))),
     "the RSA key has 1024 bits; flask-talk needs at least 2048"),
])
def test_bad_asymmetric_settings_stop_start_up(make_app, alg, value, message):
    with pytest.raises(ConfigurationError) as info:
        make_app(TALK_JWT_ALG=alg, TALK_JWT_SECRET=value())
    assert info.value.key == "TALK_JWT_SECRET"
    assert message in str(info.value)


# -- FC-07: the accepted algorithm comes from configuration, never from the token -----------

@pytest.fixture
def rs256_app(make_app):
    return make_app(TALK_JWT_ALG="RS256", TALK_JWT_SECRET=pem_secret("RS256"))


@pytest.mark.node
def test_fc07_algorithm_confusion_and_none_are_refused(rs256_app):
    public_pem = key_pair("RSA")[1]
    now = int(time.time())
    claims = {"sub": "reader-alice", "iss": ROOT_URL, "aud": "talk", "jti": "j-1", "iat": now, "exp": now + 600}
    forged = talk_node([
        {"op": "raw_sign", "alg": "HS256", "key": public_pem, "payload": claims},
        {"op": "raw_sign", "alg": "HS256", "key": public_pem.replace("\n", "\\n"), "payload": claims},
    ])
    for answer in forged:
        response = _bearer(rs256_app, answer["token"])
        assert response.status_code == 401, response.get_json()
        assert "algorithm" in response.get_json()["error_description"]
    none = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}."
    assert _bearer(rs256_app, none).status_code == 401
    assert _bearer(rs256_app, _mint(rs256_app).token).status_code == 200


# -- FC-08: every algorithm Talk offers, and exp is always checked ---------------------------

ALGS = ["HS384", "HS512", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"]


def _secret_for(alg: str) -> str:
    return "x" * 64 + "-fc08-secret" if alg.startswith("HS") else pem_secret(alg)


@pytest.mark.parametrize("alg", ALGS)
def test_fc08_each_algorithm_mints_verifies_and_checks_exp(make_app, alg):
    app = make_app(TALK_JWT_ALG=alg, TALK_JWT_SECRET=_secret_for(alg))
    minted = _mint(app)
    assert json.loads(base64.urlsafe_b64decode(minted.token.split(".")[0] + "=="))["alg"] == alg
    assert _bearer(app, minted.token).status_code == 200
    expired = _mint(app, now=time.time() - 3 * 86400)
    response = _bearer(app, expired.token)
    assert response.status_code == 401
    assert response.get_json()["error_description"] == "the token has expired"


@pytest.mark.node
def test_fc08_talk_verifies_every_algorithm(make_app):
    requests, tokens = [], []
    for alg in ALGS:
        app = make_app(TALK_JWT_ALG=alg, TALK_JWT_SECRET=_secret_for(alg), DEMO_SEED_READERS=False)
        token = _mint(app).token
        env = {"TALK_JWT_ALG": alg, "TALK_JWT_SECRET": _secret_for(alg), "TALK_ROOT_URL": ROOT_URL}
        requests.append({"op": "verify", "env": env, "token": token})
        tokens.append(token)
    answers = talk_node(requests)
    assert [a.get("error") for a in answers] == [None] * len(ALGS)


# -- JWKS -------------------------------------------------------------------------------------

@pytest.mark.node
def test_jwks_publishes_public_keys_with_kid_and_verifies_tokens(make_app):
    keys = json.dumps([pem_spec("ES384", 0, kid="2024-b"), pem_spec("ES384", 1, kid="2024-a", private=False)])
    app = make_app(TALK_JWT_ALG="ES384", TALK_JWT_SECRET=None, TALK_JWT_SECRETS=keys, DEMO_SEED_READERS=False)
    response = app.test_client().get("/talk/.well-known/jwks.json")
    assert response.status_code == 200
    jwks = response.get_json()
    assert [k["kid"] for k in jwks["keys"]] == ["2024-b", "2024-a"]
    for jwk in jwks["keys"]:
        assert jwk["kty"] == "EC" and jwk["crv"] == "P-384" and jwk["alg"] == "ES384" and jwk["use"] == "sig"
        assert "d" not in jwk
    token = _mint(app).token
    env = {"TALK_ROOT_URL": ROOT_URL}
    answer = talk_node([{"op": "jwks_verify", "jwks": jwks, "alg": "ES384", "token": token, "env": env}])[0]
    assert answer["ok"], answer
    assert answer["payload"]["sub"] == "reader-alice"


def test_jwks_for_a_single_rsa_key_has_no_private_parts(make_app):
    app = make_app(TALK_JWT_ALG="PS512", TALK_JWT_SECRET=pem_secret("PS512"), DEMO_SEED_READERS=False)
    (jwk,) = app.test_client().get("/talk/.well-known/jwks.json").get_json()["keys"]
    assert jwk["kty"] == "RSA" and jwk["alg"] == "PS512" and "kid" not in jwk
    assert not {"d", "p", "q", "dp", "dq", "qi"} & set(jwk)


def test_jwks_is_404_for_hmac_never_publishing_the_secret(app):
    response = app.test_client().get("/talk/.well-known/jwks.json")
    assert response.status_code == 404
    assert app.config["TALK_JWT_SECRET"] not in response.get_data(as_text=True)

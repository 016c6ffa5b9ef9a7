"""Token minting and verification (pure TokenCodec), held to the field cases."""
from __future__ import annotations

import base64
import json
import time

import pytest

from flask_talk.config import apply_defaults
from flask_talk.config import load_settings
from flask_talk.errors import TokenError
from flask_talk.tokens import TokenCodec
from flask_talk.tokens import TokenPolicy

from .conftest import SECRET

ALICE = {"id": "u-1", "username": "alice", "email": "Alice@Example.org"}


def codec(**values):
    config = {"TALK_JWT_SECRET": SECRET, **values}
    apply_defaults(config, environ={})
    s = load_settings(config)
    return TokenCodec(s.keys, TokenPolicy(
        token_format=s.token_format, issuer=s.issuer, audience=s.audience,
        expiry_seconds=s.expiry_seconds, user_id_claim=s.user_id_claim,
        leeway_seconds=s.leeway_seconds, allow_email_ids=s.allow_email_ids))


def segments(token):
    def part(text):
        return json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    head, body, _ = token.split(".")
    return part(head), part(body)


def test_fc01_claims_from_root_url():
    now = time.time()
    minted = codec(TALK_ROOT_URL="https://talk.example.com").mint(ALICE)
    header, claims = segments(minted.token)
    assert claims["iss"] == "https://talk.example.com"
    assert claims["aud"] == "talk"
    assert claims["sub"] == "u-1"
    assert isinstance(claims["jti"], str) and len(claims["jti"]) == 36
    assert isinstance(claims["exp"], int) and claims["exp"] > now
    assert isinstance(claims["iat"], int)
    assert claims["email"] == "alice@example.org"
    assert header == {"alg": "HS256", "typ": "JWT"}


@pytest.mark.parametrize(("switch", "claim"), [("TALK_JWT_DISABLE_AUDIENCE", "aud"),
                                               ("TALK_JWT_DISABLE_ISSUER", "iss")])
def test_fc01_disabled_claims_are_left_out(switch, claim):
    _, claims = segments(codec(TALK_ROOT_URL="https://t", **{switch: "TRUE"}).mint(ALICE).token)
    assert claim not in claims


def test_fc01_a_different_audience_is_refused():
    token = codec(TALK_JWT_AUDIENCE="Talk").mint(ALICE).token
    with pytest.raises(TokenError, match="audience"):
        codec().verify(token)


def test_fc02_integer_ids_become_strings():
    _, claims = segments(codec().mint({"id": 42, "username": "n"}).token)
    assert claims["sub"] == "42"
    _, claims = segments(codec(TALK_JWT_USER_ID_CLAIM="user.id").mint({"id": 42}).token)
    assert claims["user"] == {"id": "42"} and "sub" not in claims


def test_fc03_shape_is_a_compact_jws_with_top_level_claims():
    token = codec().mint(ALICE).token
    assert isinstance(token, str) and token.count(".") == 2
    assert "=" not in token
    _, claims = segments(token)
    assert not any(isinstance(v, str) and v.count(".") == 2 and len(v) > 40 for v in claims.values())


def test_fc04_every_mint_is_fresh():
    c = codec()
    first, second = c.mint(ALICE, now=1_800_000_000), c.mint(ALICE, now=1_800_000_005)
    assert first.jti != second.jti
    assert second.claims["iat"] == first.claims["iat"] + 5
    assert second.expires_at == first.expires_at + 5


@pytest.mark.parametrize("alg", ["HS256", "HS384", "HS512"])
def test_fc08_hmac_algorithms_round_trip(alg):
    c = codec(TALK_JWT_ALG=alg, TALK_JWT_SECRET="k" * 64)
    token = c.mint(ALICE).token
    assert segments(token)[0]["alg"] == alg
    assert c.verify(token)["sub"] == "u-1"


def test_fc08_expiry_is_always_checked():
    c = codec()
    minted = c.mint(ALICE, now=time.time() - 86400 - 60)
    with pytest.raises(TokenError) as caught:
        c.verify(minted.token)
    assert caught.value.code == "expired"


def test_leeway_is_ours_only_and_small():
    c = codec(TALK_JWT_LEEWAY="10s")
    minted = c.mint(ALICE, now=1_800_000_000)
    assert c.verify(minted.token, now=minted.expires_at + 9)
    with pytest.raises(TokenError):
        c.verify(minted.token, now=minted.expires_at + 11)


def test_fc12_email_shaped_ids_are_refused_unless_allowed():
    with pytest.raises(ValueError, match="e-mail"):
        codec().mint({"id": "alice@example.com"})
    token = codec(TALK_ALLOW_EMAIL_IDS="TRUE").mint({"id": "alice@example.com"}).token
    assert codec(TALK_ALLOW_EMAIL_IDS="TRUE").verify(token)["sub"] == "alice@example.com"
    with pytest.raises(TokenError, match="e-mail"):
        codec().verify(token)


def test_fc05_key_rotation_by_kid():
    new, old = "n" * 40, "o" * 40
    rotated = codec(TALK_JWT_SECRET=None, TALK_JWT_SECRETS=json.dumps(
        [{"kid": "2", "secret": new}, {"kid": "1", "secret": old}]))
    minted = rotated.mint(ALICE)
    assert segments(minted.token)[0]["kid"] == "2"
    before = codec(TALK_JWT_SECRET=None, TALK_JWT_SECRETS=json.dumps([{"kid": "1", "secret": old}]))
    old_token = before.mint(ALICE).token
    assert segments(old_token)[0]["kid"] == "1"  # a single-entry set still writes its kid
    assert rotated.verify(old_token)["sub"] == "u-1"
    unknown = codec(TALK_JWT_SECRET=None, TALK_JWT_SECRETS=json.dumps([{"kid": "9", "secret": old}]))
    with pytest.raises(TokenError) as caught:
        rotated.verify(unknown.mint(ALICE).token)
    assert caught.value.code == "unknown_kid"
    with pytest.raises(TokenError) as caught:
        rotated.verify(codec(TALK_JWT_SECRET=new).mint(ALICE).token)
    assert caught.value.code == "missing_kid"


def test_signature_from_another_secret_is_refused():
    with pytest.raises(TokenError) as caught:
        codec().verify(codec(TALK_JWT_SECRET="z" * 48).mint(ALICE).token)
    assert caught.value.code == "bad_signature"

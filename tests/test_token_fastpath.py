"""The HMAC short path (flask_talk/hmacjws.py) changes speed only, never an answer.

Minting: the same bytes as ``joserfc.jwt.encode``. Verifying: for every token, the codec
with the short path and the same codec forced through joserfc give the same claims or
the same refusal (code and reason).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from joserfc import jwt

from flask_talk.errors import TokenError
from flask_talk.keys import load_key_set
from flask_talk.tokens import TokenCodec
from flask_talk.tokens import TokenPolicy

SECRET = "fast-path-secret-0123456789-abcdefghijklmnopqrstuvwxyz"
OTHER = "another-secret-0123456789-abcdefghijklmnopqrstuvwxyz-xx"
ISSUER = "https://news.example.org/"
NOW = 1_800_000_000
PROFILE = {"id": "reader-alice", "username": "alice", "email": "Alice@Example.org"}

CONFIGS = {
    "hs256": {"TALK_JWT_SECRET": SECRET},
    "hs384": {"TALK_JWT_SECRET": SECRET, "TALK_JWT_ALG": "HS384"},
    "hs512": {"TALK_JWT_SECRET": SECRET + SECRET, "TALK_JWT_ALG": "HS512"},
    "kids": {"TALK_JWT_SECRETS": json.dumps([{"kid": "new", "secret": SECRET},
                                              {"kid": "old", "secret": OTHER}])},
}


def codecs(config: dict[str, Any], token_format: str = "talk") -> tuple[TokenCodec, TokenCodec]:
    """The codec with the short path, and an identical one forced through joserfc."""
    keys = load_key_set(config, coral=token_format == "coral")
    policy = TokenPolicy(token_format=token_format, issuer=ISSUER if token_format == "talk" else None,
                         audience="talk" if token_format == "talk" else None)
    fast, slow = TokenCodec(keys, policy), TokenCodec(keys, policy)
    slow._hmac = None
    assert fast._hmac is not None
    return fast, slow


def outcome(codec: TokenCodec, token: Any) -> tuple[str, Any]:
    try:
        return "ok", codec.verify(token, now=NOW)
    except TokenError as exc:
        return exc.code, exc.reason


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forge(header: Any, payload: Any, secret: str = SECRET, digest: str = "sha256",
          raw_payload: bytes | None = None) -> str:
    """A token signed by hand, so headers and payloads joserfc would never write can be tried."""
    head = b64(json.dumps(header).encode())
    body = b64(raw_payload if raw_payload is not None else json.dumps(payload).encode())
    signature = hmac.new(secret.encode(), f"{head}.{body}".encode(), getattr(hashlib, digest)).digest()
    return f"{head}.{body}.{b64(signature)}"


@pytest.mark.parametrize("name", sorted(CONFIGS))
@pytest.mark.parametrize("profile", [
    PROFILE,
    {"id": "42", "username": "Zoë 🦊 «quotes\"»", "email": "zoe@example.org"},
    {"id": "reader-bob"},
])
def test_mint_is_byte_identical_to_joserfc(name, profile):
    fast, _ = codecs(CONFIGS[name])
    claims = fast.claims_for(profile, now=NOW)
    expected = jwt.encode(fast._header, claims, fast.keys.signer.sign_key,
                          algorithms=fast._algorithms, registry=fast._registry)
    assert fast._hmac.sign(claims) == expected
    minted = fast.mint(profile, now=NOW)
    assert fast._fast_decode(minted.token) is not None, "the short path was not taken"
    assert fast.verify(minted.token, now=NOW) == minted.claims


def test_coral_mint_is_byte_identical_to_joserfc():
    fast, slow = codecs({"TALK_JWT_SECRET": SECRET}, "coral")
    claims = fast.claims_for(PROFILE, now=NOW)
    assert fast._hmac.sign(claims) == jwt.encode(fast._header, claims, fast.keys.signer.sign_key,
                                                 algorithms=fast._algorithms, registry=fast._registry)
    token = fast.mint(PROFILE, now=NOW).token
    assert outcome(fast, token) == outcome(slow, token)


def _claims(**extra: Any) -> dict[str, Any]:
    claims = {"jti": "j-1", "iat": NOW, "exp": NOW + 600, "iss": ISSUER, "aud": "talk",
              "sub": "reader-alice"}
    claims.update(extra)
    return {k: v for k, v in claims.items() if v is not None}


def _tokens() -> list[str]:
    fast, _ = codecs(CONFIGS["hs256"])
    good = fast.mint(PROFILE, now=NOW).token
    head, body, sig = good.split(".")
    return [
        good,
        f"{head}.{body}.{sig[:-1]}{'A' if sig[-1] != 'A' else 'Q'}",  # wrong signature
        f"{head}.{body}.{sig}A",  # signature of another length
        f"{head}.{b64(json.dumps(_claims(sub='mallory')).encode())}.{sig}",  # swapped payload
        forge({"alg": "HS256", "typ": "JWT"}, _claims()),
        forge({"alg": "HS256"}, _claims()),  # no typ
        forge({"typ": "JWT", "alg": "HS256"}, _claims()),  # other key order
        forge({"alg": "HS256", "typ": 1}, _claims()),
        forge({"alg": "HS256", "kid": 7}, _claims()),
        forge({"alg": "HS256", "kid": ""}, _claims()),
        forge({"alg": "HS256", "kid": "anything"}, _claims()),
        forge({"alg": "HS256", "crit": ["exp"]}, _claims()),
        forge({"alg": "HS256", "crit": []}, _claims()),
        forge({"alg": "HS256", "b64": False}, _claims()),
        forge({"alg": "HS256", "jku": "https://evil.example/jwks"}, _claims()),
        forge({"alg": "HS256", "x-custom": "1"}, _claims()),
        forge({"alg": "HS512"}, _claims(), digest="sha512"),
        forge({"alg": "none"}, _claims()),
        forge({"alg": "HS256", "typ": "JWT", "kid": "x" * 600}, _claims()),
        forge({"alg": "HS256"}, _claims(), secret=OTHER),
        forge({"alg": "HS256"}, ["not", "an", "object"]),
        forge({"alg": "HS256"}, "text"),
        forge({"alg": "HS256"}, None, raw_payload=b"{not json"),
        forge({"alg": "HS256"}, None, raw_payload=b""),
        forge(["alg", "HS256"], _claims()),
        forge({"alg": "HS256"}, _claims(exp=NOW - 3600)),
        forge({"alg": "HS256"}, _claims(iss="https://other.example/")),
        forge({"alg": "HS256"}, _claims(aud=["other", "talk"])),
        forge({"alg": "HS256"}, _claims(jti=None)),
        forge({"alg": "HS256"}, _claims(sub="alice@example.org")),
        forge({"alg": "HS256"}, _claims(exp="soon")),
        good[:-1] + {"A": "B", "Q": "R"}.get(good[-1], "A"),  # non-canonical base64 ending
        f"{head}..{sig}",
        f".{body}.{sig}",
        "a.b.c",
    ]


@pytest.mark.parametrize("index", range(len(_tokens())))
def test_verify_gives_the_same_answer_as_joserfc(index):
    fast, slow = codecs(CONFIGS["hs256"])
    token = _tokens()[index]
    assert outcome(fast, token) == outcome(slow, token)


@pytest.mark.parametrize("kid, secret", [("new", SECRET), ("old", OTHER), ("old", SECRET),
                                         (None, SECRET), ("gone", SECRET)])
def test_key_sets_give_the_same_answer_as_joserfc(kid, secret):
    fast, slow = codecs(CONFIGS["kids"])
    header = {"alg": "HS256", "typ": "JWT"} | ({"kid": kid} if kid else {})
    token = forge(header, _claims(), secret=secret)
    assert outcome(fast, token) == outcome(slow, token)


_values = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=8),
                    st.sampled_from(["HS256", "HS512", "JWT", "new", "none"]),
                    st.lists(st.text(max_size=4), max_size=2))
_headers = st.one_of(
    st.dictionaries(st.sampled_from(["alg", "typ", "kid", "crit", "b64", "cty", "x5t", "zip"]),
                    _values, max_size=4),
    _values,
)


@settings(max_examples=300, deadline=None)
@given(header=_headers, good_key=st.booleans(), payload=st.one_of(
    st.builds(_claims, sub=st.one_of(st.none(), st.text(max_size=6)),
              exp=st.one_of(st.none(), st.integers(NOW - 100, NOW + 100))),
    _values))
def test_random_tokens_give_the_same_answer_as_joserfc(header, good_key, payload):
    fast, slow = codecs(CONFIGS["hs256"])
    token = forge(header, payload, secret=SECRET if good_key else OTHER)
    assert outcome(fast, token) == outcome(slow, token)

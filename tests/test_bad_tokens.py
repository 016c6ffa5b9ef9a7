"""The bad-token matrix on ``GET /talk/user``: every kind of broken, forged, stale or revoked
token gets 401 with an RFC 6750 ``WWW-Authenticate`` header and a JSON reason, never a 500.

Tokens are forged by hand (raw HMAC / RSA over hand-written JSON), so the matrix can hold
inputs that a JOSE library would refuse to produce: non-JSON segments, NaN, duplicate keys.
"""
from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from typing import Any

import pytest

from flask_talk.errors import TokenError

from .apps import demo_app
from .conftest import ROOT_URL
from .conftest import SECRET
from .conftest import csrf_from
from .conftest import login
from .forging import ATTACKER_RSA
from .forging import DROP
from .forging import HS
from .forging import KID_SECRETS
from .forging import OTHER_SECRET
from .forging import SITE_RSA
from .forging import USER
from .forging import b64
from .forging import claims
from .forging import forge
from .forging import pem_private
from .forging import pem_public
from .forging import public_jwk
from .forging import raw_claims
from .forging import rs_forge
from .forging import segment


class KeyServer:
    """A loopback JWKS server that counts requests: ``jku``/``x5u`` must never be fetched."""

    def __init__(self) -> None:
        hits: list[str] = []
        body = json.dumps({"keys": [public_jwk(ATTACKER_RSA)]}).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                hits.append(self.path)
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.hits = hits
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/jwks.json"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Context:
    """What a case needs to build its Authorization header."""

    app: Any
    client: Any
    key_server: KeyServer

    def mint(self) -> str:
        return self.app.extensions["talk"].codec.mint({"id": USER, "username": "alice"}).token

    def revoked_token(self) -> str:
        """A token minted for a real session, then revoked by logging that session out."""
        page = self.client.get("/talk/login")
        csrf = csrf_from(page.get_data(as_text=True))
        signed_in = self.client.post("/talk/login", data={"username": "alice", "password": "alice-demo-pass",
                                                          "csrf_token": csrf})
        assert signed_in.status_code == 302
        csrf = self.client.get("/talk/login", headers={"Accept": "application/json"}).json["csrf_token"]
        token = self.client.post("/talk/token", headers={"X-CSRFToken": csrf}).json["token"]
        assert self.client.get("/talk/user", headers={"Authorization": "Bearer " + token}).status_code == 200
        assert self.client.post("/talk/logout", headers={"X-CSRFToken": csrf,
                                                         "Accept": "application/json"}).status_code == 200
        return token


def valid_then(change: Callable[[str], str]) -> Callable[[Context], str]:
    return lambda ctx: "Bearer " + change(ctx.mint())


def bearer(make: Callable[[], str]) -> Callable[[Context], str]:
    return lambda ctx: "Bearer " + make()


def flip_signature(token: str) -> str:
    head, body, sig = token.split(".")
    raw = bytearray(base64.urlsafe_b64decode(sig + "=" * (-len(sig) % 4)))
    raw[0] ^= 0x01
    return f"{head}.{body}.{b64(bytes(raw))}"


def swap_payload(token: str) -> str:
    head, _, sig = token.split(".")
    return f"{head}.{segment(claims(sub='reader-bob'))}.{sig}"


#: Coral's SSO secrets are used whole, prefix included.
CORAL_SECRET = "ssosec_" + "c0" * 34

#: (kind, app settings name, builder of the Authorization header value or None for no header)
CASES: list[tuple[str, str, Callable[[Context], str | None]]] = [
    # -- the header itself
    ("no-authorization-header", "hs", lambda ctx: None),
    ("empty-header", "hs", lambda ctx: ""),
    ("basic-scheme", "hs", lambda ctx: "Basic abc"),
    ("basic-scheme-with-valid-token", "hs", lambda ctx: "Basic " + ctx.mint()),
    ("token-without-scheme", "hs", lambda ctx: ctx.mint()),
    ("bearer-without-token", "hs", lambda ctx: "Bearer"),
    ("bearer-blank-token", "hs", lambda ctx: "Bearer    "),
    ("other-scheme-jwt", "hs", lambda ctx: "JWT " + ctx.mint()),
    ("two-tokens", "hs", lambda ctx: "Bearer " + ctx.mint() + " " + ctx.mint()),
    # -- segments and encoding
    ("one-segment", "hs", bearer(lambda: segment(HS))),
    ("two-segments", "hs", bearer(lambda: segment(HS) + "." + segment(claims()))),
    ("four-segments", "hs", valid_then(lambda t: t + ".AAAA")),
    ("five-segments-jwe-shape", "hs", bearer(lambda: "eyJhbGciOiJkaXIiLCJlbmMiOiJBMTI4R0NNIn0..aaaa.bbbb.cccc")),
    ("only-dots", "hs", bearer(lambda: "..")),
    ("bad-base64-characters", "hs", valid_then(lambda t: "!!!!" + t[4:])),
    ("base64-padding", "hs", valid_then(lambda t: t.replace(".", "=.", 1))),
    ("standard-base64-alphabet", "hs", valid_then(lambda t: t.replace("-", "+").replace("_", "/") + "+/")),
    ("header-not-json", "hs", bearer(lambda: forge("not json at all", claims()))),
    ("payload-not-json", "hs", bearer(lambda: forge(HS, "{'sub': 'reader-alice'}"))),
    ("header-json-array", "hs", bearer(lambda: forge('["HS256"]', claims()))),
    ("header-json-null", "hs", bearer(lambda: forge("null", claims()))),
    ("payload-json-array", "hs", bearer(lambda: forge(HS, [claims()]))),
    ("payload-json-string", "hs", bearer(lambda: forge(HS, '"reader-alice"'))),
    ("payload-json-number", "hs", bearer(lambda: forge(HS, "42"))),
    ("payload-invalid-utf8", "hs", bearer(lambda: forge(HS, b'{"sub":"\xff\xfe"}'))),
    ("payload-deeply-nested", "hs", bearer(lambda: forge(HS, "[" * 3000 + "]" * 3000))),
    ("non-ascii-token", "hs", valid_then(lambda t: t[:10] + "\u00e9" + t[11:])),
    ("huge-token", "hs", bearer(lambda: forge(HS, claims(pad="x" * 20000)))),
    ("huge-header-value", "hs", lambda ctx: "Bearer " + "A" * 200_000),
    # -- signature and algorithm
    ("bad-signature-other-secret", "hs", bearer(lambda: forge(HS, claims(), OTHER_SECRET))),
    ("signature-bit-flipped", "hs", valid_then(flip_signature)),
    ("signature-truncated", "hs", valid_then(lambda t: t[:-6])),
    ("signature-empty", "hs", valid_then(lambda t: t.rsplit(".", 1)[0] + ".")),
    ("payload-swapped-signature-kept", "hs", valid_then(swap_payload)),
    ("alg-none-unsigned", "hs", bearer(lambda: segment({"alg": "none"}) + "." + segment(claims()) + ".")),
    ("alg-None-mixed-case", "hs", bearer(lambda: segment({"alg": "None"}) + "." + segment(claims()) + ".")),
    ("alg-none-with-signature", "hs", bearer(lambda: forge({"alg": "none"}, claims()))),
    ("alg-missing", "hs", bearer(lambda: forge({"typ": "JWT"}, claims()))),
    ("alg-not-a-string", "hs", bearer(lambda: forge({"alg": 256}, claims()))),
    ("alg-hs512-not-configured", "hs", bearer(lambda: forge({"alg": "HS512"}, claims(), SECRET, hashlib.sha512))),
    ("alg-rs256-attacker-key", "hs", bearer(lambda: rs_forge({"alg": "RS256"}, claims()))),
    ("hs256-signed-with-public-pem", "rs", bearer(lambda: forge(HS, claims(), pem_public(SITE_RSA)))),
    ("hs256-signed-with-public-jwk-json", "rs",
     bearer(lambda: forge(HS, claims(), json.dumps(public_jwk(SITE_RSA))))),
    ("rs256-attacker-key", "rs", bearer(lambda: rs_forge({"alg": "RS256"}, claims()))),
    ("rs256-alg-none", "rs", bearer(lambda: segment({"alg": "none"}) + "." + segment(claims()) + ".")),
    # -- headers that must never choose the key
    ("jwk-header-attacker-rsa", "rs",
     bearer(lambda: rs_forge({"alg": "RS256", "jwk": public_jwk(ATTACKER_RSA)}, claims()))),
    ("jwk-header-attacker-oct", "hs",
     bearer(lambda: forge({"alg": "HS256", "jwk": {"kty": "oct", "k": b64(OTHER_SECRET.encode())}},
                          claims(), OTHER_SECRET))),
    ("jku-header-attacker-jwks", "rs",
     lambda ctx: "Bearer " + rs_forge({"alg": "RS256", "jku": ctx.key_server.url}, claims())),
    ("x5u-header-attacker-url", "rs",
     lambda ctx: "Bearer " + rs_forge({"alg": "RS256", "x5u": ctx.key_server.url}, claims())),
    ("jku-header-hs-attacker", "hs",
     lambda ctx: "Bearer " + forge({"alg": "HS256", "jku": ctx.key_server.url}, claims(), OTHER_SECRET)),
    # -- kid
    ("kid-unknown", "kid", bearer(lambda: forge({"alg": "HS256", "kid": "9"}, claims(), KID_SECRETS["2"]))),
    ("kid-missing-with-key-set", "kid", bearer(lambda: forge(HS, claims(), KID_SECRETS["2"]))),
    ("kid-not-a-string", "kid", bearer(lambda: forge({"alg": "HS256", "kid": 2}, claims(), KID_SECRETS["2"]))),
    ("kid-names-other-key", "kid", bearer(lambda: forge({"alg": "HS256", "kid": "1"}, claims(), KID_SECRETS["2"]))),
    ("kid-path-traversal", "kid",
     bearer(lambda: forge({"alg": "HS256", "kid": "../../dev/null"}, claims(), ""))),
    # -- crit and friends
    ("crit-unknown-extension", "hs", bearer(lambda: forge({"alg": "HS256", "crit": ["x-ext"], "x-ext": 1}, claims()))),
    ("crit-not-a-list", "hs", bearer(lambda: forge({"alg": "HS256", "crit": "exp"}, claims()))),
    ("crit-empty-list", "hs", bearer(lambda: forge({"alg": "HS256", "crit": []}, claims()))),
    ("crit-b64-false", "hs", bearer(lambda: forge({"alg": "HS256", "b64": False, "crit": ["b64"]}, claims()))),
    ("zip-header", "hs", bearer(lambda: forge({"alg": "HS256", "zip": "DEF"}, claims()))),
    # -- time claims
    ("expired", "hs", bearer(lambda: forge(HS, claims(exp=int(time.time()) - 3600, iat=int(time.time()) - 7200)))),
    ("exp-missing", "hs", bearer(lambda: forge(HS, claims(exp=DROP)))),
    ("exp-string", "hs", bearer(lambda: forge(HS, claims(exp=str(int(time.time()) + 600))))),
    ("exp-null", "hs", bearer(lambda: forge(HS, claims(exp=None)))),
    ("exp-boolean", "hs", bearer(lambda: forge(HS, claims(exp=True)))),
    ("exp-list", "hs", bearer(lambda: forge(HS, claims(exp=[int(time.time()) + 600])))),
    ("exp-nan", "hs", bearer(lambda: forge(HS, raw_claims("NaN")))),
    ("exp-infinity", "hs", bearer(lambda: forge(HS, raw_claims("Infinity")))),
    ("exp-float-past", "hs", bearer(lambda: forge(HS, claims(exp=time.time() - 120.5)))),
    ("nbf-future", "hs", bearer(lambda: forge(HS, claims(nbf=int(time.time()) + 3600)))),
    ("nbf-string", "hs", bearer(lambda: forge(HS, claims(nbf="now")))),
    ("iat-future", "hs", bearer(lambda: forge(HS, claims(iat=int(time.time()) + 3600)))),
    ("iat-string", "hs", bearer(lambda: forge(HS, claims(iat="yesterday")))),
    ("iat-object", "hs", bearer(lambda: forge(HS, claims(iat={"t": 1})))),
    # -- issuer and audience
    ("iss-wrong", "hs", bearer(lambda: forge(HS, claims(iss="https://evil.example/")))),
    ("iss-missing", "hs", bearer(lambda: forge(HS, claims(iss=DROP)))),
    ("iss-list", "hs", bearer(lambda: forge(HS, claims(iss=[ROOT_URL])))),
    ("iss-trailing-slash-differs", "hs", bearer(lambda: forge(HS, claims(iss=ROOT_URL.rstrip("/"))))),
    ("aud-wrong", "hs", bearer(lambda: forge(HS, claims(aud="Talk")))),
    ("aud-missing", "hs", bearer(lambda: forge(HS, claims(aud=DROP)))),
    ("aud-number", "hs", bearer(lambda: forge(HS, claims(aud=1)))),
    ("aud-list-without-talk", "hs", bearer(lambda: forge(HS, claims(aud=["other", "TALK"])))),
    # -- the user id and jti
    ("sub-integer-FC-02", "hs", bearer(lambda: forge(HS, claims(sub=42)))),
    ("sub-missing", "hs", bearer(lambda: forge(HS, claims(sub=DROP)))),
    ("sub-empty", "hs", bearer(lambda: forge(HS, claims(sub="")))),
    ("sub-null", "hs", bearer(lambda: forge(HS, claims(sub=None)))),
    ("sub-object", "hs", bearer(lambda: forge(HS, claims(sub={"id": USER})))),
    ("sub-list", "hs", bearer(lambda: forge(HS, claims(sub=[USER])))),
    ("sub-email-shaped-FC-12", "hs", bearer(lambda: forge(HS, claims(sub="alice@example.org")))),
    ("sub-too-long", "hs", bearer(lambda: forge(HS, claims(sub="x" * 300)))),
    ("jti-missing", "hs", bearer(lambda: forge(HS, claims(jti=DROP)))),
    ("jti-integer", "hs", bearer(lambda: forge(HS, claims(jti=7)))),
    ("jti-empty", "hs", bearer(lambda: forge(HS, claims(jti="")))),
    ("sub-lone-surrogate", "hs", bearer(lambda: forge(HS, claims(sub="\ud800")))),
    ("jti-lone-surrogate", "hs", bearer(lambda: forge(HS, claims(jti="jti-\udfff")))),
    ("coral-user-id-lone-surrogate", "coral",
     bearer(lambda: forge(HS, {"jti": "c2", "iat": int(time.time()), "exp": int(time.time()) + 600,
                               "user": {"id": "\ud800", "email": "alice@example.org", "username": "alice"}},
                          CORAL_SECRET))),
    ("coral-token-on-talk-app", "hs",
     bearer(lambda: forge(HS, {"jti": "c1", "iat": int(time.time()), "exp": int(time.time()) + 600,
                               "user": {"id": USER, "email": "alice@example.org", "username": "alice"}}))),
    # -- revocation
    ("revoked-after-logout", "hs", lambda ctx: "Bearer " + ctx.revoked_token()),
]

APPS: dict[str, dict[str, Any]] = {
    "hs": {},
    "rs": {"TALK_JWT_ALG": "RS256",
           "TALK_JWT_SECRET": json.dumps({"private": pem_private(SITE_RSA), "public": pem_public(SITE_RSA)})},
    "coral": {"TALK_TOKEN_FORMAT": "coral", "TALK_JWT_SECRET": CORAL_SECRET},
    "kid": {"TALK_JWT_SECRET": None,
            "TALK_JWT_SECRETS": json.dumps([{"kid": k, "secret": v} for k, v in KID_SECRETS.items()])},
}


def test_the_matrix_has_at_least_40_kinds() -> None:
    names = [name for name, _, _ in CASES]
    assert len(names) == len(set(names))
    assert len(names) >= 40


@pytest.fixture(scope="module")
def key_server() -> Any:
    server = KeyServer()
    yield server
    server.close()


@pytest.fixture(scope="module")
def matrix_apps(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One app per configuration for the whole matrix."""
    return {name: demo_app(tmp_path_factory.mktemp(name), **settings) for name, settings in APPS.items()}


@pytest.mark.parametrize(("kind", "app_kind", "build"), CASES, ids=[c[0] for c in CASES])
def test_bad_token_is_refused_with_a_reason(matrix_apps: dict[str, Any], key_server: KeyServer, kind: str,
                                            app_kind: str, build: Callable[[Context], str | None]) -> None:
    app = matrix_apps[app_kind]
    client = app.test_client()
    value = build(Context(app, client, key_server))
    headers = {} if value is None else {"Authorization": value}
    response = client.get("/talk/user", headers=headers)

    assert response.status_code == 401, response.get_data(as_text=True)[:300]
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith('Bearer realm="talk"')
    body = response.get_json()
    assert isinstance(body["error"], str) and body["error"]
    assert isinstance(body["error_description"], str) and body["error_description"]
    assert response.headers["Cache-Control"] == "no-store"
    if value and value.lower().startswith("bearer ") and value[7:].strip():
        assert 'error="invalid_token"' in challenge
        assert body["error"] == "invalid_token"
        token = value[7:].strip()
        assert token not in response.get_data(as_text=True)
        assert token not in challenge
    assert key_server.hits == [], "a jku/x5u URL from the token header was fetched"


def test_jwk_and_jku_headers_are_ignored_on_a_genuine_token(make_app: Any, key_server: KeyServer) -> None:
    """The key comes from configuration only: extra key headers neither help nor hurt."""
    app = make_app()
    header = {"alg": "HS256", "jku": key_server.url, "x5u": key_server.url,
              "jwk": {"kty": "oct", "k": b64(OTHER_SECRET.encode())}}
    response = app.test_client().get("/talk/user", headers={"Authorization": "Bearer " + forge(header, claims())})
    assert response.status_code == 200
    assert key_server.hits == []


@pytest.mark.parametrize("claim", ["sub", "jti"])
def test_ids_that_are_no_utf8_text_are_malformed(app: Any, claim: str) -> None:
    """A lone surrogate (JSON ``\\ud800``) in an id the store and the user lookup get."""
    with pytest.raises(TokenError) as refused:
        app.extensions["talk"].codec.verify(forge(HS, claims(**{claim: "id-\ud800"})))
    assert refused.value.code == "malformed"


# -- FC-14, in full ---------------------------------------------------------------------

def test_fc14_no_header_names_the_realm_and_the_missing_header(client: Any) -> None:
    response = client.get("/talk/user")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith('Bearer realm="talk"')
    assert "Authorization" in response.get_json()["error_description"]


def test_fc14_basic_scheme_is_401(client: Any) -> None:
    assert client.get("/talk/user", headers={"Authorization": "Basic abc"}).status_code == 401


def test_fc14_lower_case_bearer_is_accepted(app: Any, client: Any) -> None:
    token = app.extensions["talk"].codec.mint({"id": USER}).token
    response = client.get("/talk/user", headers={"Authorization": "bearer " + token})
    assert response.status_code == 200
    assert response.get_json()["id"] == USER


@pytest.mark.parametrize("kind", ["expired", "bad-signature", "wrong-iss", "wrong-aud", "revoked"])
def test_fc14_bad_kinds_say_invalid_token_with_a_description(app: Any, client: Any, key_server: KeyServer,
                                                             kind: str) -> None:
    now = int(time.time())
    token = {
        "expired": lambda: forge(HS, claims(exp=now - 3600, iat=now - 7200)),
        "bad-signature": lambda: forge(HS, claims(), OTHER_SECRET),
        "wrong-iss": lambda: forge(HS, claims(iss="https://other.example/")),
        "wrong-aud": lambda: forge(HS, claims(aud="not-talk")),
        "revoked": lambda: Context(app, client, key_server).revoked_token(),
    }[kind]()
    response = client.get("/talk/user", headers={"Authorization": "Bearer " + token})
    assert response.status_code == 401
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith('Bearer realm="talk"')
    assert 'error="invalid_token"' in challenge
    assert "error_description=" in challenge
    body = response.get_json()
    assert body["error"] == "invalid_token"
    assert body["error_description"]
    expected = {"expired": "expired", "bad-signature": "signature", "wrong-iss": "iss",
                "wrong-aud": "aud", "revoked": "revoked"}[kind]
    assert expected in body["error_description"]


def test_fc14_valid_token_of_a_deleted_user_is_404(app: Any, client: Any) -> None:
    with app.app_context():
        users = app.extensions["talk"].users.builtin()
    users.create("reader-gone", "gone", "gone@example.org", "gone-demo-pass")
    token = app.extensions["talk"].codec.mint({"id": "reader-gone"}).token
    assert client.get("/talk/user", headers={"Authorization": "Bearer " + token}).status_code == 200
    assert users.delete("reader-gone")
    response = client.get("/talk/user", headers={"Authorization": "Bearer " + token})
    assert response.status_code == 404
    assert response.get_json()["error"] == "not_found"


def test_fc14_valid_token_gives_the_user_uncached(app: Any, testapp: Any) -> None:
    login(testapp, "alice")
    page = testapp.get("/talk/login")
    token = testapp.post("/talk/token", headers={"X-CSRFToken": csrf_from(page.text)}).json["token"]
    response = testapp.get("/talk/user", headers={"Authorization": f"Bearer {token}"})
    assert response.status_int == 200
    assert {"id", "username", "email"} <= set(response.json)
    assert response.json["id"] == USER
    assert response.headers["Cache-Control"] == "no-store"


# -- FC-02 and FC-16 --------------------------------------------------------------------

def test_fc02_integer_user_id_is_minted_as_a_string_and_integer_sub_refused(app: Any, client: Any) -> None:
    minted = app.extensions["talk"].codec.mint({"id": 42, "username": "answer"})
    assert minted.claims["sub"] == "42"
    response = client.get("/talk/user", headers={"Authorization": "Bearer " + forge(HS, claims(sub=42))})
    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_token"


def test_fc16_float_exp_from_another_issuer_is_accepted(client: Any) -> None:
    token = forge(HS, claims(exp=1893456000.5))
    response = client.get("/talk/user", headers={"Authorization": "Bearer " + token})
    assert response.status_code == 200
    assert response.get_json()["id"] == USER


def test_fc16_we_always_emit_integer_times(app: Any) -> None:
    minted = app.extensions["talk"].codec.mint({"id": USER})
    assert type(minted.claims["exp"]) is int and type(minted.claims["iat"]) is int

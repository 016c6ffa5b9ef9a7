"""Conformance with Talk 4 and Coral 5+, over a matrix of operator configurations.

For every configuration, in both directions, with the real ``jsonwebtoken`` in Node: 9, and
for Talk 4 also 8.5.1, the version Talk 4.12 pins (tests/node/talk_jwt.js reproduces Talk 4's
key handling and Coral's SSO verifier):

* ours -> theirs: a token minted here is accepted there, with the user id where Talk/Coral
  reads it, and with the same lifetime Talk would give it (same duration grammar);
* theirs -> ours: a token signed there (by each key of a key set) gets 200 on ``/talk/user``;
* wrong tokens (other key, expired, wrong ``iss``/``aud``, algorithm confusion, ``alg: none``,
  missing or unknown ``kid``) are refused by both sides.

All Node work runs in two batched calls per session, so the matrix stays fast.
"""
from __future__ import annotations

import base64
import json
import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field
from typing import Any

import pytest
from flask import Flask

from flask_talk import TalkAuth
from flask_talk.config import apply_defaults
from flask_talk.state import get_state
from flask_talk.tokens import claim_at

from .keypairs import key_pair
from .keypairs import pem_secret
from .keypairs import pem_spec
from .realparts import talk_node

pytestmark = pytest.mark.node

ROOT_URL = "https://talk.example.test/"
USER = {"id": "reader-alice", "username": "alice", "email": "alice@example.org",
        "display_name": "Alice Martin"}
HS_SECRET = "conformance-secret-0123456789-abcdefghijklmnopqrstuvwxyz-ABCDEFGHIJ"
OTHER_HS_SECRET = "a-different-secret-0123456789-abcdefghijklmnopqrstuvwxyz-ABCDEFGHI"
#: 32 random bytes that are not UTF-8: Talk decodes them to text (U+FFFD for bad bytes).
BINARY_B64 = "base64:" + base64.b64encode(bytes(range(200, 232))).decode()
TEXT_B64 = "base64:" + base64.b64encode(HS_SECRET.encode()).decode()
CORAL_SECRETS = [f"ssosec_{n}f3c0ffee{n}0123456789abcdef0123456789abcdef0123456789abcdef01" for n in "123"]


#: Label of answers from jsonwebtoken 8.5.1, the version Talk 4.12's yarn.lock pins.
V8 = "jsonwebtoken-8.5.1"


def _hs_set(count: int, *, base64_first: bool = False) -> str:
    entries = [{"kid": f"k{n}", "secret": f"{HS_SECRET}-{n}"} for n in range(count, 0, -1)]
    if base64_first:
        entries[0]["secret"] = TEXT_B64
    return json.dumps(entries)


def _pem_set(alg: str, count: int, *, public_only_last: bool = False) -> str:
    entries = [pem_spec(alg, n, kid=f"key-{n}") for n in range(count)]
    if public_only_last and count > 1:
        entries[-1] = pem_spec(alg, count - 1, kid=f"key-{count - 1}", private=False)
    return json.dumps(entries)


def _coral(count: int) -> dict[str, Any]:
    secrets = [{"kid": f"c{n}", "secret": CORAL_SECRETS[n]} for n in range(count)]
    env: dict[str, Any] = {"TALK_TOKEN_FORMAT": "coral"}
    if count == 1:
        env["TALK_JWT_SECRET"] = CORAL_SECRETS[0]
    else:
        env["TALK_JWT_SECRETS"] = json.dumps(secrets)
    return env


#: id -> Talk env (format talk) or site env (format coral). Extra keys: see ``Case``.
MATRIX: dict[str, dict[str, Any]] = {
    # HMAC, every hash, every way of writing the secret.
    "hs256-plain": {"TALK_JWT_SECRET": HS_SECRET},
    "hs384-plain-6h": {"TALK_JWT_ALG": "HS384", "TALK_JWT_SECRET": HS_SECRET, "TALK_JWT_EXPIRY": "6h"},
    "hs512-plain": {"TALK_JWT_ALG": "HS512", "TALK_JWT_SECRET": HS_SECRET + "-long-enough-for-hs512"},
    "hs256-base64-text": {"TALK_JWT_SECRET": TEXT_B64, "TALK_JWT_EXPIRY": "2.5 hrs"},
    "hs256-base64-binary": {"TALK_JWT_SECRET": BINARY_B64},
    "hs256-json-looking": {"TALK_JWT_SECRET": '{"secret": "' + HS_SECRET + '"}'},
    # Talk key sets (header kid required), 1 to 3 keys.
    "hs256-set1": {"TALK_JWT_SECRETS": _hs_set(1)},
    "hs256-set2-ms-expiry": {"TALK_JWT_SECRETS": _hs_set(2), "TALK_JWT_EXPIRY": "3600000"},
    "hs512-set3-base64": {"TALK_JWT_ALG": "HS512", "TALK_JWT_SECRETS": _hs_set(3, base64_first=True)},
    # Claims: custom user-id claim, disabled issuer / audience, explicit issuer and audience.
    "hs256-claim-user.id": {"TALK_JWT_SECRET": HS_SECRET, "TALK_JWT_USER_ID_CLAIM": "user.id"},
    "hs256-no-issuer": {"TALK_JWT_SECRET": HS_SECRET, "TALK_JWT_DISABLE_ISSUER": "TRUE"},
    "hs256-no-audience": {"TALK_JWT_SECRET": HS_SECRET, "TALK_JWT_DISABLE_AUDIENCE": "TRUE"},
    "hs256-no-iss-no-aud-deep-claim": {"TALK_JWT_SECRET": HS_SECRET, "TALK_JWT_DISABLE_ISSUER": "TRUE",
                                       "TALK_JWT_DISABLE_AUDIENCE": "TRUE",
                                       "TALK_JWT_USER_ID_CLAIM": "profile.account.id"},
    "hs256-explicit-iss-aud": {"TALK_JWT_SECRET": HS_SECRET, "TALK_JWT_ISSUER": "news-site",
                               "TALK_JWT_AUDIENCE": "comments", "TALK_JWT_EXPIRY": "90 minutes"},
    # RSA PKCS#1 v1.5, RSA-PSS and ECDSA, PEMs with backslash-n escapes.
    "rs256": {"TALK_JWT_ALG": "RS256", "TALK_JWT_SECRET": pem_secret("RS256")},
    "rs384": {"TALK_JWT_ALG": "RS384", "TALK_JWT_SECRET": pem_secret("RS384")},
    "rs512-single-with-kid": {"TALK_JWT_ALG": "RS512", "TALK_JWT_SECRET": pem_secret("RS512", kid="only")},
    "ps256": {"TALK_JWT_ALG": "PS256", "TALK_JWT_SECRET": pem_secret("PS256")},
    "ps384-claim-user.id": {"TALK_JWT_ALG": "PS384", "TALK_JWT_SECRET": pem_secret("PS384"),
                            "TALK_JWT_USER_ID_CLAIM": "user.id"},
    "ps512-no-audience": {"TALK_JWT_ALG": "PS512", "TALK_JWT_SECRET": pem_secret("PS512"),
                          "TALK_JWT_DISABLE_AUDIENCE": "TRUE"},
    "es256": {"TALK_JWT_ALG": "ES256", "TALK_JWT_SECRET": pem_secret("ES256")},
    "es384-no-issuer": {"TALK_JWT_ALG": "ES384", "TALK_JWT_SECRET": pem_secret("ES384"),
                        "TALK_JWT_DISABLE_ISSUER": "TRUE"},
    "es512": {"TALK_JWT_ALG": "ES512", "TALK_JWT_SECRET": pem_secret("ES512"), "TALK_JWT_EXPIRY": "1d"},
    "rs256-set2-rotated-public-only": {"TALK_JWT_ALG": "RS256",
                                       "TALK_JWT_SECRETS": _pem_set("RS256", 2, public_only_last=True)},
    "ps256-set1": {"TALK_JWT_ALG": "PS256", "TALK_JWT_SECRETS": _pem_set("PS256", 1)},
    "rs384-set3": {"TALK_JWT_ALG": "RS384", "TALK_JWT_SECRETS": _pem_set("RS384", 3)},
    "es256-set2-claim-user.id": {"TALK_JWT_ALG": "ES256", "TALK_JWT_SECRETS": _pem_set("ES256", 2),
                                 "TALK_JWT_USER_ID_CLAIM": "user.id"},
    # Coral 5+ SSO tokens (HS256, admin-page secret used whole), 1 to 3 keys, with and without OIDC.
    "coral-1": _coral(1),
    "coral-1-oidc-enabled": {**_coral(1), "_oidc": True},
    "coral-2-rotation": _coral(2),
    "coral-3-rotation-profile": {**_coral(3), "_profile": {"badges": ["subscriber"], "role": "member",
                                                           "url": "https://news.example/u/alice",
                                                           "avatar": "https://news.example/a.png"}},
    "coral-1-expiry-30m": {**_coral(1), "TALK_JWT_EXPIRY": "30 minutes"},
}


@dataclass
class Case:
    """One configuration: its env, the site app, and every token and answer in both directions."""

    name: str
    env: dict[str, Any]
    app: Flask
    coral: bool
    ours: Any = None
    theirs: dict[str, str] = field(default_factory=dict)
    wrong: dict[str, str] = field(default_factory=dict)
    answers: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def claim(self) -> str:
        return "user.id" if self.coral else self.env.get("TALK_JWT_USER_ID_CLAIM", "sub")

    @property
    def alg(self) -> str:
        return self.env.get("TALK_JWT_ALG", "HS256")

    @property
    def kids(self) -> list[str]:
        raw = self.env.get("TALK_JWT_SECRETS")
        return [entry["kid"] for entry in json.loads(raw)] if raw else []

    def coral_spec(self) -> dict[str, Any]:
        raw = self.env.get("TALK_JWT_SECRETS")
        secrets = json.loads(raw) if raw else [{"kid": "single", "secret": self.env["TALK_JWT_SECRET"]}]
        return {"secrets": secrets, "oidc": bool(self.env.get("_oidc")), "tenantId": "tenant-1"}

    def talk_env(self) -> dict[str, Any]:
        return {k: v for k, v in self.env.items() if not k.startswith("_")}


class MemoryUsers:
    """The site's users (only Alice), as a site with its own user model supplies them."""

    def __init__(self, profile: dict[str, Any]) -> None:
        self.user = {**USER, **profile}

    def get(self, user_id: str) -> dict[str, Any] | None:
        return dict(self.user) if user_id == self.user["id"] else None

    def authenticate(self, username: str, password: str) -> None:
        return None


def site_app(env: dict[str, Any], folder: Any) -> Flask:
    """A small real site: Flask + TalkAuth with the configuration under test."""
    app = Flask(__name__, instance_path=str(folder))
    config: dict[str, Any] = {key: value for key, value in env.items() if not key.startswith("_")}
    config.setdefault("TALK_ROOT_URL", ROOT_URL)
    config.update(SECRET_KEY="conformance-session-key-" + "k" * 32, TESTING=True,
                  TALK_DATABASE=str(folder / "talk.sqlite3"))
    apply_defaults(config, environ={})  # the machine's TALK_* variables must not leak in
    app.config.update(config)
    TalkAuth(app, users=MemoryUsers(env.get("_profile", {})))
    return app


def _payload(case: Case, *, iat: int | None = None, exp_in: int = 3600, **extra: Any) -> dict[str, Any]:
    """A token payload that is right for ``case`` in every respect (wrong tokens change one)."""
    now = iat if iat is not None else int(time.time())
    payload: dict[str, Any] = {"jti": str(uuid.uuid4()), "iat": now, "exp": now + exp_in}
    if case.coral:
        payload["user"] = {"id": USER["id"], "email": USER["email"], "username": USER["username"]}
    else:
        settings = get_state_for(case).settings
        if settings.issuer:
            payload["iss"] = settings.issuer
        if settings.audience:
            payload["aud"] = settings.audience
        node: dict[str, Any] = payload
        *parents, last = case.claim.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = USER["id"]
    payload.update(extra)
    return payload


def get_state_for(case: Case) -> Any:
    with case.app.app_context():
        return get_state()


def _none_token(payload: dict[str, Any]) -> str:
    def part(obj: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(payload)}."


def _other_key(case: Case) -> str:
    """A key of the same kind that the configuration does not hold."""
    if case.coral:
        return "ssosec_" + "9" * 64
    if case.alg.startswith("HS"):
        return OTHER_HS_SECRET
    family = case.alg if case.alg.startswith("ES") else "RSA"
    return key_pair(family, 7)[0]


def _public_pem(case: Case) -> str:
    env = case.talk_env()
    spec = json.loads(env["TALK_JWT_SECRETS"])[0] if env.get("TALK_JWT_SECRETS") else json.loads(
        env["TALK_JWT_SECRET"])
    return spec["public"].replace("\\n", "\n")


def _sign_requests(case: Case) -> list[tuple[str, str, dict[str, Any]]]:
    """(kind, name, node request) for the tokens Node signs: theirs and the wrong ones."""
    requests: list[tuple[str, str, dict[str, Any]]] = []
    first_kid = case.kids[0] if case.kids else None
    if case.coral:
        spec = case.coral_spec()
        kids = [s["kid"] for s in spec["secrets"]] if case.env.get("TALK_JWT_SECRETS") else [None]
        for kid in kids:
            requests.append(("theirs", f"kid={kid}", {"op": "coral_sign", "coral": spec, "payload": _payload(case),
                                                      **({"kid": kid} if kid else {})}))
        if len(kids) > 1:  # Coral: several keys and no kid -> each key is tried
            requests.append(("theirs", "no-kid", {"op": "coral_sign", "coral": spec,
                                                  "payload": _payload(case)}))
            requests.append(("wrong", "unknown-kid", {"op": "raw_sign", "alg": "HS256", "key": spec["secrets"][0]["secret"],
                                                      "payload": _payload(case), "keyid": "nope"}))
        requests.append(("wrong", "expired", {"op": "coral_sign", "coral": spec,
                                              "payload": _payload(case, iat=int(time.time()) - 7200)}))
        requests.append(("wrong", "hs512", {"op": "raw_sign", "alg": "HS512", "key": spec["secrets"][0]["secret"],
                                            "payload": _payload(case)}))
    else:
        env = case.talk_env()
        # Talk's own signer, with each private key of the set (rotation: old keys still verify).
        entries = json.loads(env["TALK_JWT_SECRETS"]) if env.get("TALK_JWT_SECRETS") else [None]
        for entry in entries:
            if entry is not None and not case.alg.startswith("HS") and "private" not in entry:
                # A retired key: only its public half is configured; tokens it signed before
                # the rotation must still verify.
                index = int(entry["kid"].rsplit("-", 1)[1])
                private = key_pair("RSA" if case.alg[:2] in ("RS", "PS") else case.alg, index)[0]
                requests.append(("theirs", f"retired kid={entry['kid']}", {
                    "op": "raw_sign", "alg": case.alg, "key": private, "payload": _payload(case),
                    "keyid": entry["kid"]}))
                continue
            kid = entry["kid"] if entry else None
            requests.append(("theirs", f"kid={kid}", {"op": "sign", "env": env, "payload": _strip_claims(_payload(case)),
                                                      "kid": kid}))
        requests.append(("wrong", "expired", {"op": "sign", "env": env, "payload": _strip_claims(_payload(case)),
                                              "expiresIn": -3600}))
        if env.get("TALK_JWT_DISABLE_ISSUER") != "TRUE":
            requests.append(("wrong", "other-iss", {"op": "sign", "env": {**env, "TALK_JWT_ISSUER": "https://evil.example/"},
                                                    "payload": _strip_claims(_payload(case))}))
        if env.get("TALK_JWT_DISABLE_AUDIENCE") != "TRUE":
            requests.append(("wrong", "aud-Talk", {"op": "sign", "env": {**env, "TALK_JWT_AUDIENCE": "Talk"},
                                                   "payload": _strip_claims(_payload(case))}))
        if case.alg.startswith("HS"):
            other = "HS384" if case.alg == "HS256" else "HS256"
            requests.append(("wrong", f"alg-{other}", {"op": "raw_sign", "alg": other, "key": _hs_key(case),
                                                       "payload": _payload(case), "keyid": first_kid}))
        else:
            requests.append(("wrong", "hs256-with-public-pem", {"op": "raw_sign", "alg": "HS256", "key": _public_pem(case),
                                                                "payload": _payload(case), "keyid": first_kid}))
        if case.kids:
            requests.append(("wrong", "missing-kid", {"op": "raw_sign", "alg": case.alg, "key": _sign_key(case),
                                                      "payload": _payload(case)}))
            requests.append(("wrong", "unknown-kid", {"op": "raw_sign", "alg": case.alg, "key": _sign_key(case),
                                                      "payload": _payload(case), "keyid": "nope"}))
    alg = "HS256" if case.coral else case.alg
    requests.append(("wrong", "other-key", {"op": "raw_sign", "alg": alg, "key": _other_key(case),
                                            "payload": _payload(case), "keyid": first_kid}))
    return requests


def _strip_times(payload: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in payload.items() if k not in ("iat", "exp", "jti")}


def _strip_claims(payload: dict[str, Any]) -> dict[str, Any]:
    """What Talk's signer is given: it adds ``jti``, ``iat``, ``exp``, ``iss`` and ``aud`` itself."""
    return {k: v for k, v in _strip_times(payload).items() if k not in ("iss", "aud")}


def _hs_key(case: Case) -> str:
    """The HMAC key as Talk derives it (the text after ``base64:`` decoded)."""
    env = case.talk_env()
    raw = json.loads(env["TALK_JWT_SECRETS"])[0]["secret"] if env.get("TALK_JWT_SECRETS") else env["TALK_JWT_SECRET"]
    if raw.startswith("base64:"):
        return base64.b64decode(raw[7:]).decode("utf-8", errors="replace")
    return raw


def _sign_key(case: Case) -> str:
    if case.alg.startswith("HS"):
        return _hs_key(case)
    env = case.talk_env()
    return json.loads(env["TALK_JWT_SECRETS"])[0]["private"].replace("\\n", "\n")


def _verify_request(case: Case, token: str, *, lib: int = 9) -> dict[str, Any]:
    if case.coral:
        return {"op": "coral_verify", "coral": case.coral_spec(), "token": token}
    return {"op": "verify", "env": case.talk_env(), "token": token, "lib": lib}


@pytest.fixture(scope="session")
def matrix(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Case]]:
    """Every configuration with its tokens and Node's answers (two Node runs in total)."""
    saved = {key: os.environ.pop(key) for key in list(os.environ) if key.startswith("TALK_")}
    try:
        cases: dict[str, Case] = {}
        for name, env in MATRIX.items():
            env = {"TALK_ROOT_URL": ROOT_URL, **env}  # one env file for both sides
            folder = tmp_path_factory.mktemp(name)
            coral = env.get("TALK_TOKEN_FORMAT") == "coral"
            case = Case(name=name, env=env, app=site_app(env, folder), coral=coral)
            with case.app.app_context():
                state = get_state()
                case.ours = state.codec.mint(state.users.get(USER["id"]) | env.get("_profile", {}))
            cases[name] = case
        signing = [(case, kind, label, request) for case in cases.values()
                   for kind, label, request in _sign_requests(case)]
        # Talk 4.12 itself runs jsonwebtoken 8.5.1: its signer's tokens must pass here too.
        signing += [(case, kind, f"{label} {V8}", {**request, "lib": 8})
                    for case, kind, label, request in list(signing)
                    if kind == "theirs" and request["op"] == "sign"]
        signed = talk_node([request for _, _, _, request in signing])
        for (case, kind, label, _), answer in zip(signing, signed):
            assert answer["ok"], (case.name, label, answer)
            getattr(case, kind)[label] = answer["token"]
        for case in cases.values():
            payload = _payload(case)
            case.wrong["alg-none"] = _none_token(payload)
        verifying = [(case, "ours", case.ours.token) for case in cases.values()]
        verifying += [(case, f"wrong:{label}", token) for case in cases.values()
                      for label, token in case.wrong.items()]
        verifying += [(case, f"{V8}:{label}", token) for case, label, token in list(verifying) if not case.coral]
        answers = talk_node([_verify_request(case, token, lib=8 if label.startswith(V8) else 9)
                             for case, label, token in verifying])
        for (case, label, _), answer in zip(verifying, answers):
            case.answers[label] = answer
        yield cases
    finally:
        os.environ.update(saved)


NAMES = list(MATRIX)


def test_the_matrix_covers_what_operators_can_choose():
    algs = {env.get("TALK_JWT_ALG", "HS256") for env in MATRIX.values()}
    assert algs == {"HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
                    "ES256", "ES384", "ES512"}
    set_sizes = {len(json.loads(env["TALK_JWT_SECRETS"])) for env in MATRIX.values() if "TALK_JWT_SECRETS" in env}
    assert set_sizes == {1, 2, 3}
    assert len(MATRIX) >= 24
    assert any(env.get("TALK_TOKEN_FORMAT") == "coral" for env in MATRIX.values())


@pytest.mark.parametrize("name", NAMES)
def test_our_token_is_accepted_by_talk(matrix, name):
    case = matrix[name]
    answer = case.answers["ours"]
    assert answer["ok"], answer["error"]
    if not case.coral:
        assert case.answers[f"{V8}:ours"]["ok"], case.answers[f"{V8}:ours"]["error"]
    payload = answer["payload"]
    assert claim_at(payload, case.claim) == USER["id"]
    if case.coral:
        assert set(payload) == {"jti", "iat", "exp", "user"}  # FC-11: nothing OIDC-like
        assert answer["user"]["email"] == USER["email"]
    if name == "coral-3-rotation-profile":
        assert payload["user"]["role"] == "MEMBER" and payload["user"]["badges"] == ["subscriber"]


@pytest.mark.parametrize("name", NAMES)
def test_our_token_lifetime_matches_talks(matrix, name):
    """Same duration words, same ``exp - iat`` as Talk's own signer (ms grammar)."""
    case = matrix[name]
    lifetime = case.ours.claims["exp"] - case.ours.claims["iat"]
    if case.coral:
        from flask_talk.durations import parse_duration_ms

        assert lifetime == int(parse_duration_ms(case.env.get("TALK_JWT_EXPIRY", "1 day")) / 1000)
        return
    theirs = next(token for label, token in case.theirs.items())
    claims = json.loads(base64.urlsafe_b64decode(theirs.split(".")[1] + "=="))
    assert lifetime == claims["exp"] - claims["iat"]


@pytest.mark.parametrize("name", NAMES)
def test_talks_tokens_are_accepted_by_the_site(matrix, name):
    case = matrix[name]
    assert case.theirs
    assert case.coral or any(label.endswith(V8) for label in case.theirs)
    client = case.app.test_client()
    for label, token in case.theirs.items():
        response = client.get("/talk/user", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200, (label, response.get_json())
        assert response.get_json()["id"] == USER["id"]


@pytest.mark.parametrize("name", NAMES)
def test_wrong_tokens_are_refused_on_both_sides(matrix, name):
    case = matrix[name]
    client = case.app.test_client()
    assert len(case.wrong) >= 4
    for label, token in case.wrong.items():
        node = case.answers[f"wrong:{label}"]
        assert not node["ok"], f"{label}: Talk/Coral accepted it"
        if not case.coral:
            assert not case.answers[f"{V8}:wrong:{label}"]["ok"], f"{label}: Talk on {V8} accepted it"
        response = client.get("/talk/user", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, (label, response.get_json())
        assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]

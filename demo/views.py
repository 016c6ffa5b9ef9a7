"""The demo site's own pages: the front page, articles with comments, and a settings page."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from flask import Blueprint
from flask import Flask
from flask import abort
from flask import current_app
from flask import jsonify
from flask import render_template
from flask import request
from flask_wtf.csrf import validate_csrf
from wtforms.validators import ValidationError

from flask_talk import current_reader
from flask_talk import current_talk
from flask_talk.config import DEFAULTS
from flask_talk.config import MUST_MATCH_TALK
from flask_talk.config import TALK_VARIABLES
from flask_talk.config import masked
from flask_talk.errors import TokenError
from flask_talk.security import embed_csp

from .articles import ARTICLES
from .articles import BY_SLUG
from .bodies import json_object
from .bodies import not_an_object

bp = Blueprint("demo", __name__, static_folder="static", static_url_path="/demo-static")

#: The seeded readers; their passwords are shown on the sign-in page, this is a demo.
READERS = [
    {"id": "reader-alice", "username": "alice", "email": "Alice@example.org",
     "display_name": "Alice Martin", "password": "alice-demo-pass"},
    {"id": "reader-bob", "username": "bob", "email": "bob@example.org",
     "display_name": "Bob Okafor", "password": "bob-demo-pass"},
    {"id": "reader-carol", "username": "carol", "email": "carol@example.org",
     "display_name": "Carol Nguyen", "password": "carol-demo-pass"},
]


def seed_readers(app: Flask) -> None:
    """Create the demo readers once (the default SQLite user store only)."""
    with app.app_context():
        users = current_talk.users.builtin()
        if users is None:
            return
        for reader in READERS:
            if users.get(reader["id"]) is None:
                users.create(reader["id"], reader["username"], reader["email"], reader["password"],
                             reader["display_name"])


@bp.app_context_processor
def demo_context() -> dict[str, Any]:
    return {"reader": current_reader(), "demo_readers": READERS}


@bp.after_app_request
def demo_headers(response: Any) -> Any:
    """The demo's own pages hold the embed: same strict policy as flask-talk's embed page."""
    if request.blueprint == "demo" and request.endpoint != "demo.static":
        response.headers.setdefault("Content-Security-Policy", embed_csp(current_talk.talk_base))
        response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/")
def index() -> str:
    return render_template("index.html", articles=ARTICLES)


@bp.route("/articles/<slug>")
def article(slug: str) -> str:
    found = BY_SLUG.get(slug)
    if found is None:
        abort(404)
    return render_template("article.html", article=found)


def _origin(key: str, value: Any) -> str:
    """Where a setting's value came from, in words QA can act on."""
    if value is None or value == "":
        return "not set"
    if key == "TALK_JWT_SECRET":
        dev = Path(current_app.instance_path) / "talk-dev-secret.txt"
        if dev.exists() and dev.read_text().strip() == value:
            return "demo development secret (instance folder)"
    if os.environ.get(key) == value:
        return "environment"
    if value == DEFAULTS.get(key):
        return "Talk's default" if key in TALK_VARIABLES else "flask-talk default"
    return "site configuration"


def _talk_rows(issuer_from_root: bool) -> list[dict[str, Any]]:
    """The variables Talk must see with the same value, and whether each one is set here."""
    rows = []
    for key in (*MUST_MATCH_TALK[:4], "TALK_ROOT_URL", *MUST_MATCH_TALK[4:]):
        if key == "TALK_ROOT_URL" and not issuer_from_root:
            continue
        value = current_app.config.get(key)
        origin = _origin(key, value)
        rows.append({"key": key, "value": masked(key, value), "origin": origin,
                     "set": origin not in ("not set", "Talk's default")})
    return rows


@bp.route("/settings")
def settings() -> str:
    """The effective configuration, secrets masked: what QA compares with Talk's env."""
    state = current_talk
    config = current_app.config
    issuer_from_root = bool(state.settings.issuer) and not config.get("TALK_JWT_ISSUER")
    rows = [
        {"key": key, "value": masked(key, config.get(key)), "origin": _origin(key, config.get(key)),
         "shared": key in MUST_MATCH_TALK or (key == "TALK_ROOT_URL" and issuer_from_root)}
        for key in DEFAULTS
    ]
    effective = {
        "algorithm": state.settings.alg,
        "issuer (iss)": state.settings.issuer or "(not written, not checked)",
        "audience (aud)": state.settings.audience or "(not written, not checked)",
        "token lifetime": f"{state.settings.expiry_seconds:g} s",
        "renewal": f"{state.settings.renew_before_seconds:g} s before expiry",
        "user id claim": state.settings.user_id_claim,
        "token format": state.settings.token_format,
        "keys": ", ".join(e.kid or "(no kid)" for e in state.settings.keys.entries),
        "Talk server": state.talk_base + (" (the built-in stand-in)" if config.get("TALK_STANDIN_URL") else ""),
        "revocation store": "Redis" if state.settings.redis_url else "SQLite file",
    }
    return render_template("settings.html", rows=rows, effective=effective,
                           talk_rows=_talk_rows(issuer_from_root), issuer_from_root=issuer_from_root)


@bp.route("/demo/revoke", methods=["POST"])
def revoke_token() -> Any:
    """QA scenario: revoke one token the page holds (the panel's 'Revoke' button)."""
    try:
        validate_csrf(request.headers.get("X-CSRFToken"))
    except ValidationError:
        return jsonify(error="csrf_failed"), 400
    if current_reader() is None:
        return jsonify(error="login_required"), 401
    data = json_object()
    if data is None:
        return not_an_object()
    try:
        claims = current_talk.codec.verify(str(data.get("token") or ""))
    except TokenError as exc:
        return jsonify(error="invalid_token", error_description=exc.reason), 400
    if claims.get("sub") != current_reader()["id"] and \
            current_talk.codec.user_id(claims) != current_reader()["id"]:
        return jsonify(error="forbidden"), 403
    current_talk.store.revoke(claims["jti"], claims["exp"])
    return jsonify(revoked=claims["jti"])

"""A built-in stand-in for a Talk server, so QA can click through the loop on one machine.

It does with the token what Talk 4 does: verify it with the same settings and no clock
leeway; for a user it has not seen, call the site's ``/talk/user`` with the token (the
``tokenUserNotFound`` hook) and keep the user; then show "commenting as ...". It keeps its
users and comments in memory: it is a stand-in, not a comment system.
"""
from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from dataclasses import replace
from pathlib import Path
from typing import Any

from flask import Blueprint
from flask import Response
from flask import current_app
from flask import jsonify
from flask import request
from flask import send_from_directory
from flask import url_for
from werkzeug.test import Client

from flask_talk import current_talk
from flask_talk.errors import TokenError
from flask_talk.tokens import TokenCodec

from .bodies import json_object
from .bodies import not_an_object

bp = Blueprint("standin", __name__)
STATIC = Path(__file__).resolve().parent / "static"
_lock = threading.Lock()
#: Bounds on the stand-in's in-memory comments (it is a demo, not a comment system).
MAX_ASSET_URL, MAX_STREAMS, MAX_COMMENTS = 500, 100, 200


def _memory() -> dict[str, Any]:
    return current_app.extensions.setdefault("standin", {"users": {}, "comments": {}})


def _talk_codec() -> TokenCodec:
    """Talk's view of the same settings: no leeway on its side."""
    codec = current_talk.codec
    return TokenCodec(codec.keys, replace(codec.policy, leeway_seconds=0))


def lookup_user(token: str) -> tuple[int, Any]:
    """Call the site's ``/talk/user`` with the token, as Talk's ``tokenUserNotFound`` hook does.

    Over HTTP when ``TALK_STANDIN_LOOKUP_URL`` is set; otherwise through the app's own WSGI
    stack (same headers, status and JSON), which cannot deadlock a single-worker server.
    """
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    url = current_app.config.get("TALK_STANDIN_LOOKUP_URL")
    if url:
        try:
            with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=5) as r:
                return r.status, json.loads(r.read() or b"null")
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"null")
        except (urllib.error.URLError, OSError, ValueError) as exc:
            return 502, {"error": "lookup_failed", "error_description": type(exc).__name__}
    response = Client(current_app._get_current_object()).get(url_for("talk.user"), headers=headers)
    return response.status_code, response.get_json(silent=True)


def _bearer() -> str | None:
    scheme, _, token = (request.headers.get("Authorization") or "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _authenticate(token: str) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    codec = _talk_codec()
    try:
        claims = codec.verify(token)
    except TokenError as exc:
        return None, {"verified": False, "reason": exc.reason, "code": exc.code}
    user_id = codec.user_id(claims)
    report: dict[str, Any] = {"verified": True, "jti": claims["jti"]}
    with _lock:
        known = _memory()["users"].get(user_id)
    if known is not None:
        report["source"] = "known user"
        return known, report
    status, body = lookup_user(token)
    report.update(source="tokenUserNotFound", lookup={"status": status, "body": body})
    if status != 200 or not isinstance(body, dict):
        return None, report
    user = {"id": user_id, "username": body.get("username") or user_id,
            "email": body.get("email")}
    with _lock:
        _memory()["users"][user_id] = user
    return user, report


@bp.route("/static/embed.js")
@bp.route("/assets/js/embed.js")
def embed_script() -> Response:
    """The stand-in's embed script, at Talk 4's and Coral 5's paths."""
    return send_from_directory(STATIC, "standin.js")


@bp.route("/api/v1/auth")
def auth() -> Any:
    """Talk 4's ``GET /api/v1/auth``: 200 ``{user}``, or 204 (anonymous) with the reason in
    ``X-Standin-Report`` for QA."""
    token = _bearer()
    if token is None:
        anonymous = Response(status=204)
        del anonymous.headers["Content-Type"]
        return anonymous
    user, report = _authenticate(token)
    if user is None:
        # Talk answers a token it cannot use as anonymous (204); the reason rides along in a
        # header so the QA panel can show it.
        anonymous = Response(status=204)
        del anonymous.headers["Content-Type"]
        anonymous.headers["X-Standin-Report"] = json.dumps({"user": None, "report": report})
        return anonymous
    return jsonify(user=user, report=report)


@bp.route("/api/v1/comments", methods=["GET", "POST"])
def comments() -> Any:
    asset = (request.args.get("asset_url") or "")[:MAX_ASSET_URL]
    if request.method == "GET":
        with _lock:
            return jsonify(comments=list(_memory()["comments"].get(asset, [])))
    token = _bearer()
    user, report = _authenticate(token) if token else (None, {"reason": "no token"})
    if user is None:
        return jsonify(error="not_signed_in", report=report), 401
    data = json_object()
    if data is None:
        return not_an_object()
    body = str(data.get("body") or "").strip()[:2000]
    if not body:
        return jsonify(error="empty_comment"), 400
    comment = {"author": user["username"], "body": body}
    with _lock:
        streams = _memory()["comments"]
        if asset not in streams and len(streams) >= MAX_STREAMS:
            streams.pop(next(iter(streams)))  # forget the oldest stream: memory stays bounded
        stream = streams.setdefault(asset, [])
        stream.append(comment)
        del stream[:-MAX_COMMENTS]
    return jsonify(comment=comment), 201

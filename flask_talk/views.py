"""The blueprint: login/logout, token minting, the embed page, Talk's user lookup, JWKS."""
from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from flask import Blueprint
from flask import Response
from flask import abort
from flask import current_app
from flask import flash
from flask import jsonify
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_wtf.csrf import CSRFError
from flask_wtf.csrf import generate_csrf
from flask_wtf.csrf import validate_csrf
from werkzeug.exceptions import RequestEntityTooLarge
from wtforms.validators import ValidationError

from .bearer import require_talk_token
from .embed import embed_context
from .errors import ConfigurationError
from .errors import StoreUnavailable
from .readers import SignedOut
from .readers import can_sign_in
from .readers import current_reader
from .readers import log_in
from .readers import log_out
from .readers import mint_for_reader
from .security import deny_framing
from .security import embed_csp
from .security import no_store
from .security import safe_next
from .state import get_state
from .text import usable_text

logger = logging.getLogger("flask_talk")

bp = Blueprint("talk", __name__, template_folder="templates", static_folder="static")

#: Largest request body the blueprint reads when the app sets no ``MAX_CONTENT_LENGTH``:
#: its forms and JSON are a few hundred bytes.
MAX_BODY_BYTES = 64 * 1024
#: Longest username tried at sign-in (an e-mail address has at most 254 characters).
MAX_USERNAME_LENGTH = 254


def wants_json() -> bool:
    """JSON callers (``fetch``, API clients) get JSON answers; browsers get pages."""
    return request.is_json or request.accept_mimetypes.best == "application/json"


def json_error(status: int, error: str, description: str, **headers: str) -> Response:
    response = jsonify(error=error, error_description=description)
    response.status_code = status
    response.headers.update(headers)
    return response


@bp.before_request
def limit_body() -> None:
    """Refuse large bodies before anything parses them (413); a site's own limit wins.

    Registered before :func:`check_csrf`, the first reader. A chunked body has no
    ``Content-Length`` to check up front: the request's limit makes Werkzeug stop reading
    it there, and a body that reached the limit is refused rather than parsed cut short.
    """
    if current_app.config.get("MAX_CONTENT_LENGTH") is not None:
        return
    request.max_content_length = MAX_BODY_BYTES
    if request.content_length is None:  # read now, at most the limit; the form parser reuses it
        too_large = len(request.get_data(cache=True)) >= MAX_BODY_BYTES
    else:
        too_large = request.content_length > MAX_BODY_BYTES
    if too_large:
        raise RequestEntityTooLarge()


@bp.before_request
def check_csrf() -> None:
    """Every state-changing request carries the CSRF token (form field or X-CSRFToken header)."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    token = request.form.get("csrf_token") or request.headers.get("X-CSRFToken") \
        or request.headers.get("X-CSRF-Token")
    if not token and request.is_json:
        body = request.get_json(silent=True)
        token = body.get("csrf_token") if isinstance(body, dict) else None
    if not usable_text(token):
        token = None  # a number, a list or a lone surrogate is no token (and must not reach itsdangerous)
    # The page renews its Talk token with the CSRF token it was rendered with, up to a
    # token lifetime later; other forms keep Flask-WTF's time limit.
    time_limit = None
    if request.endpoint == "talk.token":
        time_limit = int(2 * get_state().settings.expiry_seconds) + 3600
    try:
        validate_csrf(token, time_limit=time_limit)
    except ValidationError as exc:
        raise CSRFError(exc.args[0]) from None


@bp.after_request
def keep_out_of_caches(response: Response) -> Response:
    """Every answer of this blueprint may carry a token or user data."""
    if request.endpoint != "talk.static":
        no_store(response)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
    return response


@bp.errorhandler(CSRFError)
def csrf_failed(error: CSRFError) -> Any:
    if request.endpoint == "talk.logout" and not wants_json():
        if current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token") not in request.form:
            # Most likely the site's own sign-out form, written without the field.
            logger.warning("flask-talk: a sign-out form was posted without a csrf_token field; add "
                           '<input type="hidden" name="csrf_token" value="{{ csrf_token() }}"> to it')
        # A sign-out form from a page open too long: ask again with a fresh token.
        return deny_framing(Response(render_template("flask_talk/logout.html"), status=400))
    if wants_json() or request.endpoint != "talk.login":
        return json_error(400, "csrf_failed", f"{error.description} Reload the page and try again.")
    flash("The form expired or was sent from another site. Please try again.", "error")
    return _login_page(400)


@bp.errorhandler(RequestEntityTooLarge)
def body_too_large(error: RequestEntityTooLarge) -> Any:
    if wants_json():
        return json_error(413, "too_large", "The request body is too large.")
    return error


def store_unavailable(error: StoreUnavailable) -> Response:
    """503 for a store outage; ``init_app`` registers it for the whole app (routes and pages)."""
    logger.error("flask-talk: %s", error)
    return json_error(503, "temporarily_unavailable",
                      "The sign-in store is unreachable; nothing was changed. Try again shortly.",
                      **{"Retry-After": "5"})


# -- login / logout -----------------------------------------------------------------------

def _login_page(status: int = 200) -> Any:
    username = request.form.get("username", "") if request.method == "POST" else ""
    response = Response(render_template("flask_talk/login.html", username=username[:200],
                                        next=safe_next(request.values.get("next"), ""),
                                        reader=current_reader()),
                        status=status)
    return deny_framing(response)


def _throttled(keys: list[str]) -> float | None:
    """Seconds to wait when any of ``keys`` used up its failures, else ``None``."""
    settings = get_state().settings
    for key in keys:
        count, retry_after = get_state().store.failures(key, settings.login_window_seconds)
        if count >= settings.login_max_failures:
            return max(retry_after, 1.0)
    return None


def _too_many(retry_after: float) -> Any:
    seconds = str(int(retry_after) + 1)
    message = "Too many failed sign-in attempts. Try again later."
    if wants_json():
        return json_error(429, "too_many_attempts", message, **{"Retry-After": seconds})
    flash(message, "error")
    response = _login_page(429)
    response.headers["Retry-After"] = seconds
    return response


def _signed_in_elsewhere() -> Any:
    """A site with its own users and no credentials checker: send readers to its login page."""
    view = getattr(getattr(current_app, "login_manager", None), "login_view", None)
    if view and not wants_json():
        return redirect(url_for(view, next=safe_next(request.values.get("next"), "") or None))
    return json_error(404, "not_available", "This site signs readers in on its own pages.")


def _submitted() -> Mapping[str, Any]:
    """The login fields, from a JSON object or a form; anything else counts as empty."""
    if request.is_json:
        body = request.get_json(silent=True)
        return body if isinstance(body, dict) else {}
    return request.form


def _credentials(data: Mapping[str, Any]) -> tuple[str, str] | None:
    """The submitted username and password, or ``None`` when they cannot be anyone's.

    Refused before any store write or rate-limit key: text that UTF-8 cannot encode (it would
    fail in the store or the password hash), and usernames over ``MAX_USERNAME_LENGTH``
    (each failure is recorded under its username).
    """
    username = str(data.get("username") or "").strip()
    password = str(data.get("password") or "")
    if len(username) > MAX_USERNAME_LENGTH or not (usable_text(username) and usable_text(password)):
        return None
    return username, password


def _bad_credentials() -> Any:
    """The one answer for every refused sign-in, so none of them tells accounts apart."""
    logger.info("flask-talk: failed sign-in from %s", request.remote_addr)
    message = "Unknown username or wrong password."
    if wants_json():
        return json_error(401, "invalid_credentials", message)
    flash(message, "error")
    return _login_page(401)


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    """Sign a reader in with the site's credentials (HTML form or JSON)."""
    state = get_state()
    if not getattr(state.users, "can_authenticate", lambda: True)():
        return _signed_in_elsewhere()
    if request.method == "GET":
        if wants_json():
            reader = current_reader()  # first: a revoked session is cleared, CSRF token included
            return jsonify(csrf_token=generate_csrf(), user=reader)
        return _login_page()
    data = _submitted()
    credentials = _credentials(data)
    if credentials is None:
        return _bad_credentials()
    username, password = credentials
    keys = ["account:" + username.lower(), "address:" + (request.remote_addr or "unknown")]
    window, limit = state.settings.login_window_seconds, state.settings.login_max_failures
    retry_after = _throttled(keys)
    if retry_after is not None:
        return _too_many(retry_after)
    # Count the attempt before hashing the password, so a burst of parallel guesses
    # cannot all pass the check above; only `limit` of them get a password check.
    count, attempt = state.store.add_attempt(keys, window)
    if count > limit:
        state.store.withdraw_attempt(keys, attempt)
        return _too_many(_throttled(keys) or window)
    user = state.users.authenticate(username, password) if username and password else None
    if user is None or not can_sign_in(user):
        # A wrong password, or an account Flask-Login refuses (inactive): the same answer,
        # and the attempt stays counted, so the limit cannot be reset by a right guess.
        return _bad_credentials()
    # The store first: if it fails, the 503 is true to its word and nothing changed.
    state.store.withdraw_attempt(keys, attempt)
    state.store.clear_failures(keys[0])
    profile = log_in(user)
    if profile is None:
        return _bad_credentials()
    target = safe_next(data.get("next") or request.args.get("next"), "/")
    if wants_json():
        # The session was rotated: the caller needs the new CSRF token for its next POST.
        return jsonify(user=profile, next=target, csrf_token=generate_csrf())
    return redirect(target)


@bp.route("/logout", methods=["POST"])
def logout() -> Any:
    """End the session and revoke its live tokens (a store failure answers 503, nothing lost)."""
    revoked = log_out()
    if wants_json():
        return jsonify(logged_out=True, revoked_tokens=revoked)
    flash("You are signed out.", "info")
    return redirect(safe_next(request.values.get("next"), "/"))


# -- tokens and the embed -----------------------------------------------------------------

@bp.route("/token", methods=["POST"])
def token() -> Any:
    """A fresh token for the signed-in reader: ``{"token", "expires_at"}``."""
    reader = current_reader()
    if reader is None:
        return json_error(401, "login_required", "Sign in on the site first.")
    try:
        minted = mint_for_reader(reader)
    except SignedOut:
        return json_error(401, "login_required", "The sign-in ended; sign in on the site again.")
    except ValueError as exc:
        return json_error(422, "unusable_user", str(exc))
    return jsonify(token=minted.token, expires_at=minted.expires_at, issued_at=minted.claims["iat"],
                   jti=minted.jti)


@bp.route("/embed")
def embed() -> Any:
    """A page holding only the Talk stream for ``asset_url`` / ``asset_id``, signed in when possible."""
    try:
        context = embed_context(request.args.get("asset_url"), request.args.get("asset_id"))
    except ConfigurationError as exc:
        logger.error("flask-talk: %s", exc)
        if wants_json():
            return json_error(503, "not_configured", "Comments are not configured on this site yet.")
        return Response(render_template("flask_talk/not_configured.html"), status=503)
    response = Response(render_template("flask_talk/embed_page.html", embed=context))
    response.headers["Content-Security-Policy"] = embed_csp(context["talk_url"])
    return response


# -- what Talk calls ----------------------------------------------------------------------

@bp.route("/user")
@require_talk_token
def user() -> Any:
    """Talk's ``tokenUserNotFound`` lookup: the verified token's user as JSON."""
    from authlib.integrations.flask_oauth2 import current_token

    state = get_state()
    user_id = state.codec.user_id(current_token)
    found = state.users.get(user_id)
    if found is None:
        return json_error(404, "not_found", "The token is valid but its user no longer exists.")
    from .users import profile_of

    profile = profile_of(found)
    for loader in state.profile_loaders:
        profile.update(loader(found) or {})
    return jsonify(profile)


@bp.route("/.well-known/jwks.json")
def jwks() -> Any:
    """Public keys for asymmetric algorithms; HMAC secrets are never published (404)."""
    keys = get_state().settings.keys
    if keys.symmetric:
        abort(404)
    return jsonify(keys.public_jwks())

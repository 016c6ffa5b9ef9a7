"""Small, separately testable security helpers: safe redirects, cookies, response headers."""
from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Flask
from flask import Response
from flask import request
from flask.sessions import SecureCookieSessionInterface


def safe_next(target: str | None, default: str = "/") -> str:
    """``target`` when it is a path on this site, else ``default``.

    Refuses absolute and scheme-relative URLs (``//evil``), backslash tricks (``/\\evil``),
    and control characters, which browsers strip before resolving.
    """
    if not target or not isinstance(target, str):
        return default
    if any(ord(ch) < 32 or ch == "\\" for ch in target):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    return target


class TalkSessionInterface(SecureCookieSessionInterface):
    """Flask's cookie session, with ``Secure`` whenever the request came over https.

    The signing serializer is built once per set of keys rather than on every request
    (Flask rebuilds it each time; it is a measurable part of a token mint).
    """

    def __init__(self) -> None:
        self._serializers: dict[tuple[Any, ...], Any] = {}

    def get_signing_serializer(self, app: Flask) -> Any:
        keys = (app.secret_key, *(app.config.get("SECRET_KEY_FALLBACKS") or ()))
        cached = self._serializers.get(keys)
        if cached is None:
            cached = super().get_signing_serializer(app)
            if cached is not None:
                self._serializers = {keys: cached}
        return cached

    def get_cookie_secure(self, app: Flask) -> bool:
        if app.config.get("SESSION_COOKIE_SECURE"):
            return True
        try:
            return request.is_secure
        except RuntimeError:
            return False


def harden_session_cookie(app: Flask) -> None:
    """HttpOnly and SameSite=Lax by default; ``Secure`` over https. Explicit settings win."""
    app.config["SESSION_COOKIE_HTTPONLY"] = app.config.get("SESSION_COOKIE_HTTPONLY", True)
    if not app.config.get("SESSION_COOKIE_SAMESITE"):
        app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    if type(app.session_interface) is SecureCookieSessionInterface:
        app.session_interface = TalkSessionInterface()


def no_store(response: Response) -> Response:
    """Keep tokens and user data out of every cache."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response


def deny_framing(response: Response) -> Response:
    """Clickjacking protection for pages with credentials forms."""
    response.headers["X-Frame-Options"] = "DENY"
    response.headers.setdefault("Content-Security-Policy", "frame-ancestors 'none'")
    return response


def origin_of(url: str | None) -> str | None:
    """``scheme://host[:port]`` of an absolute URL, ``None`` for relative ones."""
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme and parts.netloc:
        return f"{parts.scheme}://{parts.netloc}"
    return None


def embed_csp(talk_url: str | None) -> str:
    """A Content-Security-Policy allowing our own scripts and the Talk origin only."""
    talk = origin_of(talk_url)
    extra = f" {talk}" if talk else ""
    return (
        f"default-src 'self'; script-src 'self'{extra}; connect-src 'self'{extra}; "
        f"frame-src 'self'{extra}; img-src 'self' data:{extra}; style-src 'self' 'unsafe-inline'{extra}; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'self'"
    )

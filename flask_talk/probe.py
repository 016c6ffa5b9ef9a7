"""Ask a running Talk 4 whether it accepts a token minted here, and explain the answer.

Talk 4 answers ``GET /api/v1/auth`` with 200 and ``{"user": ...}`` for a signed-in reader
and 204 for an anonymous one. A token Talk cannot verify is *not* an error there: Talk
quietly treats the reader as anonymous, so a 204 is the symptom of most misconfigurations.
"""
from __future__ import annotations

import email.utils
import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from dataclasses import field
from typing import Any

#: Talk's clock may differ from ours by this much before it is worth mentioning.
CLOCK_SKEW_WARNING_SECONDS = 60

CAUSES_ANONYMOUS = (
    "Talk could not verify the token: its TALK_JWT_SECRET(S), TALK_JWT_ALG, TALK_JWT_ISSUER "
    "(or TALK_ROOT_URL) or TALK_JWT_AUDIENCE differ from the site's; run "
    "`flask talk check-env <Talk's env file>`.",
    "Talk verified the token but knows no user with its id, and no tokenUserNotFound hook "
    "created one: is talk-plugin-flask-talk listed in Talk's plugins (TALK_PLUGINS_JSON or "
    "plugins.json) and is TALK_FLASK_TALK_USER_URL set to this site's /talk/user, reachable "
    "from the Talk server? Talk's log shows '[talk-plugin-flask-talk]' lines when it is not.",
    "TALK_JWT_USER_ID_CLAIM differs, so Talk looks for the user id in another claim.",
)


@dataclass
class ProbeResult:
    """What Talk answered and what it means; ``ok`` only for a signed-in answer."""

    ok: bool
    summary: str
    causes: list[str] = field(default_factory=list)
    user: dict[str, Any] | None = None


def _clock_skew(date_header: str | None) -> float | None:
    if not date_header:
        return None
    try:
        their_time = email.utils.parsedate_to_datetime(date_header).timestamp()
    except (TypeError, ValueError):
        return None
    return their_time - time.time()


def _skew_cause(skew: float | None, lifetime: float) -> list[str]:
    if skew is None or abs(skew) < CLOCK_SKEW_WARNING_SECONDS:
        return []
    where = "ahead of" if skew > 0 else "behind"
    cause = f"Talk's clock is {abs(skew):.0f} s {where} this server's"
    if skew > lifetime:
        cause += ", more than the token's lifetime: Talk sees it as expired (Talk allows no clock leeway)"
    return [cause + "."]


def interpret(status: int, body: bytes, headers: Any, *, user_id: str, lifetime: float) -> ProbeResult:
    """Turn Talk's answer to ``GET /api/v1/auth`` into a verdict and likely causes."""
    skew = _skew_cause(_clock_skew(headers.get("Date")), lifetime)
    if status == 200:
        try:
            user = json.loads(body or b"{}").get("user") or {}
        except (ValueError, AttributeError):
            user = {}
        name = user.get("username") or user.get("id") or "?"
        result = ProbeResult(True, f"Talk accepted the token: signed in as {name}", user=user)
        if user.get("id") not in (None, user_id):
            result.causes.append(f"Talk's user id is {user.get('id')!r}, not the site's {user_id!r}: "
                                 "the Talk account was created another way (e.g. e-mail login)")
        return result
    if status == 204:
        return ProbeResult(False, "Talk treated the token as anonymous (204)", [*skew, *CAUSES_ANONYMOUS])
    if status == 401:
        return ProbeResult(False, "Talk refused the request (401)", [
            "The token's jti was revoked in Talk (a sign-out inside the comment box); the probe "
            "mints a fresh one each time, so this is unlikely.",
            "A tokenUserNotFound hook threw an error: see Talk's log.",
        ])
    if status == 404:
        return ProbeResult(False, "TALK_URL has no /api/v1/auth (404)", [
            "TALK_URL is not the root of a Talk 4 server (a path prefix missing or extra?).",
            "Coral 5 and later have no /api/v1/auth: use TALK_TOKEN_FORMAT=coral for them.",
        ])
    if 300 <= status < 400:
        return ProbeResult(False, f"Talk answered with a redirect ({status}) to {headers.get('Location')}", [
            "Set TALK_URL to the final address (https? trailing path?).",
        ])
    return ProbeResult(False, f"Talk answered {status}", [*skew, "See Talk's log for the error."])


def probe(talk_url: str, token: str, *, user_id: str, lifetime: float, timeout: float) -> ProbeResult:
    """``GET {talk_url}/api/v1/auth`` with the token as Bearer, never following redirects."""
    url = talk_url.rstrip("/") + "/api/v1/auth"
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}",
                                                   "Accept": "application/json"})
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(request, timeout=timeout) as response:
            return interpret(response.status, response.read(65536), response.headers,
                             user_id=user_id, lifetime=lifetime)
    except urllib.error.HTTPError as exc:
        with exc:
            return interpret(exc.code, exc.read(65536), exc.headers, user_id=user_id, lifetime=lifetime)
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return ProbeResult(False, f"could not reach Talk at {url}: {reason}", [
            "Is Talk running, and is TALK_URL its address as seen from this machine?",
            "A TLS error means the certificate is not trusted here (self-signed?).",
        ])


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is reported, not followed: the token must not travel to another address."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None

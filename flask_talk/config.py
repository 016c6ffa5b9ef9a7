"""The ``TALK_*`` settings: one table of defaults, read from ``app.config`` then the environment.

Names, meanings and defaults are Talk 4's own, so one env file configures both Talk and
the site. Everything is parsed and checked once, at start-up, into :class:`TalkSettings`.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .durations import is_bare_number
from .durations import parse_duration_ms
from .errors import ConfigurationError
from .keys import KeySet
from .keys import load_key_set

logger = logging.getLogger("flask_talk")

#: Every setting flask-talk reads, with its default (``None``: unset).
DEFAULTS: dict[str, Any] = {
    # Shared with Talk: same names, same meanings, same defaults.
    "TALK_JWT_SECRET": None,
    "TALK_JWT_SECRETS": None,
    "TALK_JWT_ALG": "HS256",
    "TALK_JWT_ISSUER": None,
    "TALK_ROOT_URL": None,
    "TALK_JWT_AUDIENCE": "talk",
    "TALK_JWT_DISABLE_ISSUER": "FALSE",
    "TALK_JWT_DISABLE_AUDIENCE": "FALSE",
    "TALK_JWT_EXPIRY": "1 day",
    "TALK_JWT_USER_ID_CLAIM": "sub",
    # The site's side.
    "TALK_URL": None,
    "TALK_TOKEN_FORMAT": "talk",
    "TALK_REDIS_URL": None,
    "TALK_DATABASE": None,
    "TALK_URL_PREFIX": "/talk",
    "TALK_JWT_LEEWAY": "10s",
    "TALK_LOGIN_MAX_FAILURES": "5",
    "TALK_LOGIN_WINDOW": "15 minutes",
    "TALK_ALLOW_EMAIL_IDS": "FALSE",
    "TALK_RENEW_BEFORE": "2 minutes",
}

#: Settings that must be identical on the Talk side.
SHARED_WITH_TALK = (
    "TALK_JWT_SECRET", "TALK_JWT_SECRETS", "TALK_JWT_ALG", "TALK_JWT_ISSUER",
    "TALK_JWT_AUDIENCE", "TALK_JWT_DISABLE_ISSUER", "TALK_JWT_DISABLE_AUDIENCE",
    "TALK_JWT_EXPIRY", "TALK_JWT_USER_ID_CLAIM",
)

#: Of those, the ones that must be identical for Talk to accept the site's tokens
#: (a different lifetime still works: Talk checks ``exp``, not the lifetime).
MUST_MATCH_TALK = tuple(key for key in SHARED_WITH_TALK if key != "TALK_JWT_EXPIRY")

#: Variables Talk itself reads (the rest are flask-talk's own).
TALK_VARIABLES = frozenset({*SHARED_WITH_TALK, "TALK_ROOT_URL", "TALK_REDIS_URL"})

#: Settings whose values are secret and are masked wherever they are shown.
SECRET_KEYS = frozenset({"TALK_JWT_SECRET", "TALK_JWT_SECRETS", "TALK_REDIS_URL"})

TOKEN_FORMATS = ("talk", "coral")

#: The most clock skew ``TALK_JWT_LEEWAY`` may forgive: more would keep expired tokens alive.
MAX_LEEWAY_SECONDS = 300


def _unset(value: Any) -> bool:
    """Talk reads its settings with ``process.env.X || default``: an empty value is no value."""
    return value is None or value == ""


def apply_defaults(config: dict[str, Any], environ: Mapping[str, str] | None = None) -> None:
    """Fill every unset (or empty) ``TALK_*`` key from the environment, then from :data:`DEFAULTS`."""
    environ = os.environ if environ is None else environ
    for key, default in DEFAULTS.items():
        if _unset(config.get(key)):
            from_env = environ.get(key)
            config[key] = default if _unset(from_env) else from_env


def talk_flag(config: Mapping[str, Any], key: str) -> bool:
    """Talk's booleans: only the exact string ``TRUE`` (or Python ``True``) is true."""
    value = config.get(key)
    if value is True or value == "TRUE":
        return True
    if isinstance(value, str) and value.strip().upper() in ("TRUE", "1", "YES", "ON"):
        logger.warning(
            "%s=%r is read as FALSE, as Talk reads it: Talk only accepts the exact word TRUE",
            key, value,
        )
    return False


def _duration_seconds(config: Mapping[str, Any], key: str, *, allow_zero: bool = False,
                      at_most: float | None = None) -> float:
    value = config.get(key)
    ms = parse_duration_ms(value)
    if ms is None:
        raise ConfigurationError(
            key, f"{value!r} is not a duration in Talk's words "
            "(examples: '1 day', '6h', '90 minutes', '3600000' for milliseconds)",
        )
    if ms < 0 or (ms == 0 and not allow_zero):
        raise ConfigurationError(key, f"{value!r} must be a positive duration")
    if at_most is not None and ms > at_most * 1000:
        raise ConfigurationError(key, f"{value!r} is more than {at_most:g} seconds")
    if is_bare_number(value) and ms < 60000 and ms != 0:
        logger.warning("%s=%r means %g seconds: a number without a unit is milliseconds, as in Talk "
                       "(write '%ss' or '%sh' for seconds or hours)", key, value, ms / 1000, value, value)
    return ms / 1000


def _positive_int(config: Mapping[str, Any], key: str) -> int:
    try:
        value = int(config.get(key))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        value = 0
    if value < 1:
        raise ConfigurationError(key, f"{config.get(key)!r} must be a positive whole number")
    return value


@dataclass(frozen=True)
class TalkSettings:
    """Parsed, validated settings; built once by :func:`load_settings`."""

    keys: KeySet
    token_format: str
    issuer: str | None
    audience: str | None
    expiry_seconds: float
    user_id_claim: str
    leeway_seconds: int
    talk_url: str | None
    redis_url: str | None
    database: str | None
    url_prefix: str
    login_max_failures: int
    login_window_seconds: float
    allow_email_ids: bool
    renew_before_seconds: float

    @property
    def alg(self) -> str:
        return self.keys.alg


def load_settings(config: Mapping[str, Any]) -> TalkSettings:
    """Parse and check every setting, raising :class:`ConfigurationError` naming the key."""
    token_format = str(config.get("TALK_TOKEN_FORMAT") or "talk").lower()
    if token_format not in TOKEN_FORMATS:
        raise ConfigurationError(
            "TALK_TOKEN_FORMAT", f"{config.get('TALK_TOKEN_FORMAT')!r} is not one of: talk, coral"
        )
    keys = load_key_set(config, coral=token_format == "coral")
    coral = token_format == "coral"
    issuer = None
    if not coral and not talk_flag(config, "TALK_JWT_DISABLE_ISSUER"):
        issuer = config.get("TALK_JWT_ISSUER") or config.get("TALK_ROOT_URL") or None
    audience = None
    if not coral and not talk_flag(config, "TALK_JWT_DISABLE_AUDIENCE"):
        audience = config.get("TALK_JWT_AUDIENCE") or None
        if audience is None:
            raise ConfigurationError("TALK_JWT_AUDIENCE", "is empty; set it or TALK_JWT_DISABLE_AUDIENCE=TRUE")
    user_id_claim = "user.id" if coral else str(config.get("TALK_JWT_USER_ID_CLAIM") or "sub")
    if any(not part for part in user_id_claim.split(".")) or any(ch in user_id_claim for ch in "[]'\""):
        # Talk reads the path with lodash's get(), which also knows brackets (users[0].id);
        # plain dotted paths are the part both sides read the same way.
        raise ConfigurationError("TALK_JWT_USER_ID_CLAIM", f"{user_id_claim!r} is not a dotted claim path "
                                 "such as 'sub' or 'user.id' (brackets are not supported)")
    if coral and config.get("TALK_JWT_USER_ID_CLAIM") not in (None, "sub", "user.id"):
        logger.warning("TALK_JWT_USER_ID_CLAIM is ignored with TALK_TOKEN_FORMAT=coral (Coral reads user.id)")
    prefix = str(config.get("TALK_URL_PREFIX") or "")
    if prefix and (not prefix.startswith("/") or prefix.endswith("/")):
        raise ConfigurationError("TALK_URL_PREFIX", f"{prefix!r} must start with '/' and not end with '/'")
    talk_url = (config.get("TALK_URL") or None)
    if talk_url and not str(talk_url).startswith(("http://", "https://")):
        raise ConfigurationError("TALK_URL", f"{talk_url!r} must be an absolute http(s) URL")
    expiry_seconds = _duration_seconds(config, "TALK_JWT_EXPIRY")
    if expiry_seconds < 1:
        # exp = floor(iat + lifetime): under a second, every token is expired when minted.
        raise ConfigurationError("TALK_JWT_EXPIRY", f"{config.get('TALK_JWT_EXPIRY')!r} is under a second, "
                                 "so every token would be expired when minted")
    if issuer is None and not coral and not talk_flag(config, "TALK_JWT_DISABLE_ISSUER"):
        logger.warning("flask-talk: neither TALK_JWT_ISSUER nor TALK_ROOT_URL is set, so tokens carry no "
                       "iss; Talk in production always has TALK_ROOT_URL and checks iss against it "
                       "(set the same TALK_ROOT_URL here, or TALK_JWT_DISABLE_ISSUER=TRUE on both sides)")
    return TalkSettings(
        keys=keys,
        token_format=token_format,
        issuer=issuer,
        audience=audience,
        expiry_seconds=expiry_seconds,
        user_id_claim=user_id_claim,
        leeway_seconds=int(_duration_seconds(config, "TALK_JWT_LEEWAY", allow_zero=True,
                                             at_most=MAX_LEEWAY_SECONDS)),
        talk_url=str(talk_url).rstrip("/") if talk_url else None,
        redis_url=config.get("TALK_REDIS_URL") or None,
        database=config.get("TALK_DATABASE") or None,
        url_prefix=prefix,
        login_max_failures=_positive_int(config, "TALK_LOGIN_MAX_FAILURES"),
        login_window_seconds=_duration_seconds(config, "TALK_LOGIN_WINDOW"),
        allow_email_ids=talk_flag(config, "TALK_ALLOW_EMAIL_IDS"),
        renew_before_seconds=_duration_seconds(config, "TALK_RENEW_BEFORE", allow_zero=True),
    )


def masked(key: str, value: Any) -> str:
    """Show a setting's value for humans, hiding secrets but saying whether they are set."""
    if value is None or value == "":
        return "(unset)"
    if key in SECRET_KEYS:
        return f"(set, {len(str(value))} characters, hidden)"
    return str(value)

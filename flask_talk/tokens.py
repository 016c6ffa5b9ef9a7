"""Mint and verify Talk tokens with joserfc. Pure: no Flask, explicit clock, keys imported once.

Verification pins the configured algorithm (never the header's), resolves the key by
``kid`` the way Talk does, and validates every claim explicitly, because joserfc's
``jwt.decode`` checks only the signature.
"""
from __future__ import annotations

import logging
import math
import re
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from joserfc import jwt
from joserfc.errors import BadSignatureError
from joserfc.errors import ExpiredTokenError
from joserfc.errors import JoseError
from joserfc.errors import MissingClaimError
from joserfc.errors import UnsupportedAlgorithmError
from joserfc.errors import UnsupportedHeaderError
from joserfc.jws import JWSRegistry

from .errors import TokenError
from .keys import Key
from .keys import KeySet
from .keys import signing_key
from .text import usable_text

#: Longest token accepted; Talk's tokens are a few hundred bytes.
MAX_TOKEN_LENGTH = 8192
#: Roles Coral accepts in an SSO token's ``user.role``.
CORAL_ROLES = ("COMMENTER", "MEMBER", "STAFF", "MODERATOR", "ADMIN")
#: Coral keeps an SSO ``user.avatar`` only when its URL's path (query and fragment aside)
#: ends in one of these, in any case, and silently drops any other (coralproject/talk
#: common/lib/helpers/validateImagePathname.ts, used by the SSO verifier's isValidImageURL).
CORAL_AVATAR_PATH = re.compile(r"\.(?:jpe?g|gif|png|webp)\Z", re.IGNORECASE)
_EMAIL_SHAPED = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_SEGMENT = re.compile(r"^[A-Za-z0-9_-]*$")
#: RFC 3986: unreserved and reserved characters, and ``%`` escapes.
_URI_CHARACTERS = re.compile(r"^(?:[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=]|%[0-9A-Fa-f]{2})*\Z")
#: RFC 3986 authority: ``[userinfo@]host[:port]``, the host a name or a bracketed IP literal.
_AUTHORITY = re.compile(
    r"^(?:(?:[A-Za-z0-9\-._~!$&'()*+,;=:]|%[0-9A-Fa-f]{2})*@)?"
    r"(?:\[(?:[0-9A-Fa-f:.]+|v[0-9A-Fa-f]+\.[A-Za-z0-9\-._~!$&'()*+,;=:]+)\]"
    r"|(?:[A-Za-z0-9\-._~!$&'()*+,;=]|%[0-9A-Fa-f]{2})+)"
    r"(?::[0-9]*)?\Z")
logger = logging.getLogger("flask_talk")


@dataclass(frozen=True)
class TokenPolicy:
    """What goes into a token and what a token must satisfy; built from the settings."""

    token_format: str = "talk"
    issuer: str | None = None
    audience: str | None = "talk"
    expiry_seconds: float = 86400.0
    user_id_claim: str = "sub"
    leeway_seconds: int = 10
    allow_email_ids: bool = False


@dataclass(frozen=True)
class MintedToken:
    """A freshly signed token and the facts the caller needs without decoding it."""

    token: str
    jti: str
    expires_at: int
    claims: dict[str, Any]


def claim_at(claims: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted claim path (``user.id``), or ``None``."""
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def _set_claim(claims: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    node = claims
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = value


def _absolute_url(value: Any, name: str) -> str:
    text = str(value)
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"user {name!r} must be an absolute http(s) URL")
    if not _is_rfc3986(text, parts.netloc):
        # Coral checks these with Joi's uri() (RFC 3986), which refuses the whole token over them.
        raise ValueError(f"user {name!r} has spaces or characters a URL cannot hold; percent-encode them")
    return text


def _is_rfc3986(text: str, netloc: str) -> bool:
    """ASCII URI characters only, ``%`` escapes well formed, an authority of RFC 3986's shape
    (brackets only around an IP literal, a port of digits), and at most one ``#``."""
    if not _URI_CHARACTERS.match(text) or text.count("#") > 1 or not _AUTHORITY.match(netloc):
        return False
    outside_authority = text.replace(netloc, "", 1)  # the first match is the authority itself
    return "[" not in outside_authority and "]" not in outside_authority


def check_user_id(user_id: Any, *, allow_email_ids: bool) -> str:
    """The user id as the string Talk stores; e-mail-shaped ids only when explicitly allowed.

    Talk also matches ``sub`` against e-mail-based local profiles, so an e-mail as id could
    land a reader in somebody else's comment account.
    """
    if isinstance(user_id, bool) or user_id is None:
        raise ValueError("the user has no id")
    text = str(user_id)
    if not text or len(text) > 255:
        raise ValueError("the user id must be 1 to 255 characters")
    if not allow_email_ids and _EMAIL_SHAPED.match(text):
        raise ValueError(
            "the user id looks like an e-mail address; Talk could match it to another "
            "account's e-mail (set TALK_ALLOW_EMAIL_IDS=TRUE if your ids really are e-mails)"
        )
    return text


class TokenCodec:
    """Signs tokens for users and verifies tokens presented back, for one configuration."""

    def __init__(self, keys: KeySet, policy: TokenPolicy) -> None:
        self.keys = keys
        self.policy = policy
        self._algorithms = [keys.alg]
        self._registry = JWSRegistry(algorithms=self._algorithms)
        self._header: dict[str, Any] = {"alg": keys.alg, "typ": "JWT"}
        if keys.signer.kid:
            self._header["kid"] = keys.signer.kid
        claim_options: dict[str, Any] = {"exp": {"essential": True}, "jti": {"essential": True}}
        if policy.token_format == "talk":
            if policy.issuer is not None:
                claim_options["iss"] = {"essential": True, "value": policy.issuer}
            if policy.audience is not None:
                claim_options["aud"] = {"essential": True, "value": policy.audience}
        self._claim_options = claim_options
        # Built once: with no fixed ``now`` joserfc reads the clock at each validation.
        self._claims_now = jwt.JWTClaimsRegistry(leeway=policy.leeway_seconds, **claim_options)

    # -- minting ---------------------------------------------------------------------------

    def claims_for(self, profile: Mapping[str, Any], *, now: float | None = None) -> dict[str, Any]:
        """The claims of a new token for ``profile`` (``id``, ``username``, ``email``, ...)."""
        issued = int(now if now is not None else time.time())
        user_id = check_user_id(profile.get("id"), allow_email_ids=self.policy.allow_email_ids)
        claims: dict[str, Any] = {
            "jti": str(uuid.uuid4()),
            "iat": issued,
            "exp": math.floor(issued + self.policy.expiry_seconds),
        }
        email = str(profile["email"]).strip().lower() if profile.get("email") else None
        username = str(profile["username"]) if profile.get("username") else None
        if self.policy.token_format == "coral":
            claims["user"] = self._coral_user(user_id, username, email, profile)
            return claims
        if self.policy.issuer is not None:
            claims["iss"] = self.policy.issuer
        if self.policy.audience is not None:
            claims["aud"] = self.policy.audience
        _set_claim(claims, self.policy.user_id_claim, user_id)
        if username:
            claims["username"] = username
        if email:
            claims["email"] = email
        return claims

    @staticmethod
    def _coral_user(user_id: str, username: str | None, email: str | None,
                    profile: Mapping[str, Any]) -> dict[str, Any]:
        if not username or not email:
            raise ValueError("Coral SSO tokens need the user's username and email")
        user: dict[str, Any] = {"id": user_id, "email": email, "username": username}
        badges = [str(badge) for badge in profile.get("badges") or () if str(badge)]
        if badges:
            user["badges"] = badges
        role = profile.get("role")
        if role:
            role = str(role).upper()
            if role not in CORAL_ROLES:
                raise ValueError(f"role must be one of {', '.join(CORAL_ROLES)}")
            user["role"] = role
        for name in ("url", "avatar"):
            if profile.get(name):
                user[name] = _absolute_url(profile[name], name)
        if "avatar" in user and not CORAL_AVATAR_PATH.search(urlsplit(user["avatar"]).path):
            # Coral would drop it without a word; say so here, naming no one.
            logger.warning("flask-talk: left user.avatar out of a Coral SSO token: Coral keeps only "
                           "avatars whose URL path ends in .jpg, .jpeg, .gif, .png or .webp")
            del user["avatar"]
        return user

    def mint(self, profile: Mapping[str, Any], *, now: float | None = None) -> MintedToken:
        """Sign a new token (fresh ``jti``, ``iat``, ``exp``) for ``profile``."""
        claims = self.claims_for(profile, now=now)
        token = jwt.encode(self._header, claims, signing_key(self.keys),
                           algorithms=self._algorithms, registry=self._registry)
        return MintedToken(token=token, jti=claims["jti"], expires_at=claims["exp"], claims=claims)

    # -- verifying -------------------------------------------------------------------------

    def _resolve_key(self, header: Mapping[str, Any]) -> Key | None:
        """The key for this header, or ``None`` when each configured key must be tried.

        Talk: with a key set the header ``kid`` is required and must match; with one
        secret it is ignored. Coral: one key ignores ``kid``; several keys use the named
        one, or are tried in turn when the token names none.
        """
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise TokenError("the token's kid header is not a string", "bad_kid")
        entries = self.keys.entries
        if len(entries) == 1 and not self.keys.require_kid:
            return entries[0].verify_key
        if not kid:
            if self.keys.require_kid:
                raise TokenError("the token has no kid header, which this key set requires", "missing_kid")
            return None
        entry = self.keys.by_kid.get(kid)
        if entry is None:
            raise TokenError("the token's kid names no configured key", "unknown_kid")
        return entry.verify_key

    def verify(self, token: Any, *, now: float | None = None) -> dict[str, Any]:
        """Return the claims of a valid token, or raise :class:`TokenError` saying why not."""
        if not isinstance(token, str) or not token:
            raise TokenError("no token was given", "malformed")
        if len(token) > MAX_TOKEN_LENGTH:
            raise TokenError(f"the token is longer than {MAX_TOKEN_LENGTH} characters", "too_large")
        segments = token.split(".")
        if len(segments) != 3 or not all(_SEGMENT.match(s) for s in segments):
            raise TokenError("the token is not three base64url segments separated by dots", "malformed")
        try:
            decoded = self._decode(token)
        except TokenError:
            raise
        except UnsupportedAlgorithmError:
            raise TokenError(f"the token's algorithm is not accepted; only {self.keys.alg} is",
                             "bad_algorithm") from None
        except BadSignatureError:
            raise TokenError("the signature does not verify", "bad_signature") from None
        except UnsupportedHeaderError:
            raise TokenError("the token has a critical header this server does not understand",
                             "bad_header") from None
        except (JoseError, ValueError, TypeError, KeyError, AttributeError, RecursionError):
            raise TokenError("the token is not a well-formed JWT", "malformed") from None
        if "crit" in decoded.header:
            # RFC 7515 4.1.11: we implement no extension, and an empty list is malformed.
            raise TokenError("the token has a critical header this server does not understand",
                             "bad_header")
        claims = decoded.claims
        if not isinstance(claims, dict):
            raise TokenError("the token's payload is not a JSON object", "malformed")
        self._validate_claims(claims, now)
        return claims

    def _decode(self, token: str) -> Any:
        chosen: list[Key | None] = []

        def key_for(guest: Any) -> Key:
            key = self._resolve_key(guest.headers())
            chosen.append(key)
            return key if key is not None else self.keys.entries[0].verify_key

        try:
            return jwt.decode(token, key_for, algorithms=self._algorithms, registry=self._registry)
        except BadSignatureError:
            if not chosen or chosen[0] is not None:
                raise
        for entry in self.keys.entries[1:]:  # Coral: no kid and several keys: try each
            try:
                return jwt.decode(token, entry.verify_key, algorithms=self._algorithms,
                                  registry=self._registry)
            except BadSignatureError:
                continue
        raise BadSignatureError()

    def _validate_claims(self, claims: dict[str, Any], now: float | None) -> None:
        registry = self._claims_now if now is None else jwt.JWTClaimsRegistry(
            now=int(now), leeway=self.policy.leeway_seconds, **self._claim_options)
        try:
            registry.validate(claims)
        except ExpiredTokenError:
            raise TokenError("the token has expired", "expired") from None
        except MissingClaimError as exc:
            raise TokenError(f"the token lacks the required claim(s): {exc.description}",
                             "missing_claim") from None
        except JoseError as exc:
            raise TokenError(_claim_reason(exc), "bad_claim") from None
        except (TypeError, ValueError, OverflowError):
            raise TokenError("a time claim is not a number", "bad_claim") from None
        user_id = claim_at(claims, self.policy.user_id_claim)
        # Both ids go to the revocation store and the user lookup: lone surrogates (a JSON
        # "\ud800" escape) cannot be encoded there.
        if isinstance(user_id, str) and not usable_text(user_id):
            raise TokenError(f"the user id at '{self.policy.user_id_claim}' is not valid UTF-8 text",
                             "malformed")
        if not usable_text(claims.get("jti")):
            raise TokenError("the token's jti is not valid UTF-8 text", "malformed")
        if not isinstance(user_id, str) or not user_id:
            raise TokenError(f"the user id at '{self.policy.user_id_claim}' is not a non-empty string",
                             "bad_claim")
        try:
            check_user_id(user_id, allow_email_ids=self.policy.allow_email_ids)
        except ValueError as exc:
            raise TokenError(str(exc), "bad_claim") from None

    def user_id(self, claims: Mapping[str, Any]) -> str:
        """The user id of verified claims."""
        return str(claim_at(claims, self.policy.user_id_claim))


def _claim_reason(exc: JoseError) -> str:
    text = str(exc.description or exc.error)
    for claim, reason in (("'iss'", "the token's issuer (iss) does not match TALK_JWT_ISSUER "
                                    "(or TALK_ROOT_URL, its default)"),
                          ("'aud'", "the token's audience (aud) does not match TALK_JWT_AUDIENCE"),
                          ("'jti'", "the token's jti is not a non-empty string"),
                          ("'sub'", "the user id at 'sub' is not a non-empty string")):
        if claim in text:
            return reason
    if "future" in text:
        return "the token was issued in the future"
    if "not yet valid" in text:
        return "the token is not valid yet (nbf)"
    return "a claim is invalid: " + text[:120]

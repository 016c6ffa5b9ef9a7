"""``Authorization: Bearer <jwt>`` on the lookup route, with Authlib's RFC 6750 machinery.

Authlib's Flask ``ResourceProtector`` parses the header and turns errors into 401s with a
``WWW-Authenticate: Bearer ...`` header, a JSON body and ``Cache-Control: no-store``. We
supply the validator (our JWT check plus the revocation list) and clearer messages for
the two header problems users actually hit: no header at all (often a proxy that strips
it) and another scheme.
"""
from __future__ import annotations

from typing import Any

from authlib.integrations.flask_oauth2 import ResourceProtector
from authlib.oauth2.rfc6749 import MissingAuthorizationError
from authlib.oauth2.rfc6750 import BearerTokenValidator
from authlib.oauth2.rfc6750 import InvalidTokenError

from .errors import TokenError
from .state import get_state

REALM = "talk"


class MissingTokenError(MissingAuthorizationError):
    """No credentials at all: RFC 6750 §3.1 says answer with the realm and no error code."""

    error = "missing_token"
    description = (
        "No Authorization header reached the server. Send 'Authorization: Bearer <token>'. "
        "If a proxy or Apache mod_wsgi is in front, make it pass the header on "
        "(mod_wsgi: WSGIPassAuthorization On)."
    )

    def get_headers(self) -> list[tuple[str, str]]:
        headers = [h for h in super().get_headers() if h[0] != "WWW-Authenticate"]
        headers.append(("WWW-Authenticate", f'Bearer realm="{REALM}"'))
        return headers


def invalid_token(reason: str) -> InvalidTokenError:
    """An RFC 6750 ``invalid_token`` error whose description is safe to show."""
    return InvalidTokenError(description=reason.replace('"', "'"), realm=REALM)


class TalkTokenValidator(BearerTokenValidator):
    """Verifies the bearer JWT for the current app and refuses revoked token ids."""

    def authenticate_token(self, token_string: str) -> dict[str, Any]:
        state = get_state()
        try:
            claims = state.codec.verify(token_string.strip())
        except TokenError as exc:
            raise invalid_token(exc.reason) from None
        if state.store.is_revoked(claims["jti"]):
            raise invalid_token("the token has been revoked (its sign-in ended, or the site revoked it)")
        return claims

    def validate_token(self, token: Any, scopes: Any, request: Any) -> None:
        """Everything was checked in :meth:`authenticate_token`; there are no scopes."""


class TalkResourceProtector(ResourceProtector):
    """Authlib's protector with our header messages."""

    def parse_request_authorization(self, request: Any) -> tuple[Any, str]:
        auth = request.headers.get("Authorization")
        if not auth or not auth.strip():
            raise MissingTokenError()
        scheme, _, token = auth.strip().partition(" ")
        if scheme.lower() != "bearer":
            raise invalid_token("the Authorization header must use the Bearer scheme: 'Bearer <token>'")
        if not token.strip():
            raise invalid_token("the Authorization header has the Bearer scheme but no token")
        return self.get_token_validator("bearer"), token.strip()


#: Decorator for routes that Talk calls with a bearer token; the claims are in ``current_token``.
require_talk_token = TalkResourceProtector()
require_talk_token.register_token_validator(TalkTokenValidator(realm=REALM))

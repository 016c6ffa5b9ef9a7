"""A short path for HMAC (``HS*``) compact JWS, the two hot operations of every page view.

joserfc's generic machinery (header registries, key guessing, algorithm objects) costs
about 15 µs per token of which the HMAC itself is 2. For HMAC tokens this module does:

* **Signing**: byte for byte what ``joserfc.jwt.encode`` produces: the header segment is
  taken from joserfc once, the payload is JSON with joserfc's own options.
* **Verifying**: a fast *accept* only. :meth:`HmacCompact.verify` returns the claims when
  the token certainly passes ``joserfc.jwt.decode`` with the same key, algorithm and
  registry limits, and ``None`` for anything else; the caller then runs joserfc, which
  decides and gives the reason. So no token is accepted here that joserfc would refuse.

Claims are still validated by the caller (``JWTClaimsRegistry``), as before.
"""
from __future__ import annotations

import hmac
import json
from typing import Any

from joserfc.util import urlsafe_b64decode
from joserfc.util import urlsafe_b64encode

#: hashlib names of the HMAC algorithms.
HASHES = {"HS256": "sha256", "HS384": "sha384", "HS512": "sha512"}
#: Header parameters a fast-accepted token may carry (all plain strings in joserfc's registry).
HEADER_KEYS = frozenset({"alg", "typ", "kid"})
#: joserfc's JWSRegistry limits (bytes of each segment); longer segments go to joserfc.
MAX_HEADER_SEGMENT = 512
MAX_SIGNATURE_SEGMENT = 1024


class HmacCompact:
    """Sign and fast-verify compact HMAC JWS for one algorithm."""

    def __init__(self, alg: str, header_segment: str, sign_key: bytes) -> None:
        self.alg = alg
        self._hash = HASHES[alg]
        self._header_dot = header_segment.encode("ascii") + b"."
        self._sign_key = sign_key
        # Our own tokens all carry this header segment: parse it once (same input, same answer).
        self._own_segment = header_segment
        self._own_header = self._parse_header(header_segment)

    def sign(self, claims: dict[str, Any]) -> str:
        """The compact token for ``claims`` (same bytes as ``jwt.encode``)."""
        payload = json.dumps(claims, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        signing_input = self._header_dot + urlsafe_b64encode(payload)
        signature = urlsafe_b64encode(hmac.digest(self._sign_key, signing_input, self._hash))
        return (signing_input + b"." + signature).decode("ascii")

    def header(self, token: str) -> dict[str, Any] | None:
        """The protected header when it is one joserfc accepts as it is, else ``None``."""
        segments = token.split(".")
        if len(segments) != 3 or len(segments[0]) > MAX_HEADER_SEGMENT \
                or len(segments[2]) > MAX_SIGNATURE_SEGMENT:
            return None
        if segments[0] == self._own_segment and self._own_header is not None:
            return dict(self._own_header)
        return self._parse_header(segments[0])

    def _parse_header(self, segment: str) -> dict[str, Any] | None:
        try:
            header = json.loads(urlsafe_b64decode(segment.encode("ascii")))
        except (ValueError, TypeError, UnicodeError, RecursionError):
            return None
        if type(header) is not dict or not header.keys() <= HEADER_KEYS or header.get("alg") != self.alg:
            return None
        if not all(type(value) is str for value in header.values()):
            return None
        return header

    def verify(self, token: str, key: bytes) -> dict[str, Any] | None:
        """The claims when the signature matches ``key`` and the payload is a JSON object."""
        signing_input, _, signature = token.rpartition(".")
        signing_bytes = signing_input.encode("ascii")
        try:
            given = urlsafe_b64decode(signature.encode("ascii"))
        except (ValueError, TypeError):
            return None
        if not hmac.compare_digest(given, hmac.digest(key, signing_bytes, self._hash)):
            return None
        try:
            claims = json.loads(urlsafe_b64decode(signing_bytes.partition(b".")[2]))
        except (ValueError, TypeError, UnicodeError, RecursionError):
            return None
        return claims if type(claims) is dict else None

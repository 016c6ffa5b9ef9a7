"""Signing and verification keys from ``TALK_JWT_SECRET`` / ``TALK_JWT_SECRETS``, read as Talk reads them.

* HMAC (``HS*``): the secret string itself; a ``base64:`` prefix means the rest is base64.
* ``RS*``, ``PS*``, ``ES*``: a JSON object ``{"kid"?, "private"?, "public"}`` of PEM strings in
  which a literal backslash-n stands for a newline; ``public`` is required, as in Talk.
* ``TALK_JWT_SECRETS``: a JSON array of such secrets (``{"kid", "secret"}`` for HMAC), each
  with a unique non-empty ``kid``; the first signs, any verifies, chosen by the header's ``kid``.

Keys are imported once here, never per request.
"""
from __future__ import annotations

import base64
import binascii
import json
import logging
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from typing import Any
from typing import Union

from joserfc.errors import JoseError
from joserfc.errors import SecurityWarning
from joserfc.jwk import ECKey
from joserfc.jwk import OctKey
from joserfc.jwk import RSAKey

from .errors import ConfigurationError

logger = logging.getLogger("flask_talk")

Key = Union[OctKey, RSAKey, ECKey]

#: The algorithms Talk offers (jsonwebtoken's list minus ``none``), and nothing else.
HMAC_ALGORITHMS = {"HS256": 32, "HS384": 48, "HS512": 64}
RSA_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512")
EC_CURVES = {"ES256": "P-256", "ES384": "P-384", "ES512": "P-521"}
ALGORITHMS = (*HMAC_ALGORITHMS, *RSA_ALGORITHMS, *EC_CURVES)
MIN_RSA_BITS = 2048


@dataclass(frozen=True)
class KeyEntry:
    """One configured key: ``kid`` (may be ``None``), and the verify and sign halves."""

    kid: str | None
    verify_key: Key
    sign_key: Key | None


@dataclass(frozen=True)
class KeySet:
    """All keys for one algorithm. The first entry signs; ``require_kid`` mirrors Talk's rule."""

    alg: str
    entries: tuple[KeyEntry, ...]
    require_kid: bool
    by_kid: dict[str, KeyEntry] = field(default_factory=dict)
    #: The setting the keys came from, for error messages.
    setting: str = "TALK_JWT_SECRET"

    @property
    def signer(self) -> KeyEntry:
        return self.entries[0]

    @property
    def symmetric(self) -> bool:
        return self.alg in HMAC_ALGORITHMS

    def public_jwks(self) -> dict[str, Any]:
        """The public keys as a JWK Set; empty for HMAC, whose secret must never be published."""
        if self.symmetric:
            return {"keys": []}
        keys = []
        for entry in self.entries:
            jwk = entry.verify_key.as_dict(private=False)
            jwk.update({"alg": self.alg, "use": "sig"})
            if entry.kid:
                jwk["kid"] = entry.kid
            keys.append(jwk)
        return {"keys": keys}


def _pem(text: Any, key: str, part: str) -> bytes:
    if not isinstance(text, str) or not text.strip():
        raise ConfigurationError(key, f"'{part}' must be a PEM string")
    return text.replace("\\n", "\n").encode()


def _talk_base64(text: str, key: str) -> bytes:
    """Decode ``base64:`` secrets as Talk does: bytes -> UTF-8 text -> the key's bytes."""
    cleaned = text.strip().replace("-", "+").replace("_", "/")
    cleaned += "=" * (-len(cleaned) % 4)
    try:
        raw = base64.b64decode(cleaned, validate=True)
    except (binascii.Error, ValueError):
        raise ConfigurationError(key, "the text after 'base64:' is not valid base64") from None
    as_text = raw.decode("utf-8", errors="replace")
    if as_text.encode("utf-8") != raw:
        logger.warning(
            "%s: the base64 secret is not UTF-8 text; Talk decodes it to text, replacing invalid "
            "bytes, and so does flask-talk, so both sides use the same (weaker) key", key,
        )
    return as_text.encode("utf-8")


def _hmac_key(secret: Any, key: str, alg: str, *, coral: bool) -> OctKey:
    if not isinstance(secret, str) or not secret:
        raise ConfigurationError(key, "the HMAC secret is empty")
    if secret.startswith("base64:") and not coral:
        raw = _talk_base64(secret[len("base64:"):], key)
    else:
        if secret.lstrip().startswith("{"):
            logger.warning(
                "%s looks like JSON; for %s Talk uses the whole text, braces included, as the "
                "secret (its documentation says otherwise), and so does flask-talk", key, alg,
            )
        raw = secret.encode()
    need = HMAC_ALGORITHMS[alg]
    if len(raw) < need:
        advice = ("copy the whole secret from Coral's admin page (Configure, Authentication, "
                  "single sign-on)" if coral else "generate one with `python -m flask_talk gen-secret`")
        raise ConfigurationError(key, f"the secret is {len(raw)} bytes; {alg} needs at least {need} ({advice})")
    with warnings.catch_warnings():
        warnings.simplefilter("error", SecurityWarning)
        try:
            return OctKey.import_key(raw)
        except (SecurityWarning, JoseError, ValueError):
            # A public key used as an HMAC secret is the HS/RS confusion attack's key.
            raise ConfigurationError(key, f"the secret looks like a PEM or SSH key, which must never be an "
                                          f"{alg} secret (set TALK_JWT_ALG to the key's algorithm)") from None


def _check_asymmetric(imported: Key, key: str, alg: str) -> None:
    if alg in EC_CURVES:
        if not isinstance(imported, ECKey) or imported.curve_name != EC_CURVES[alg]:
            raise ConfigurationError(key, f"{alg} needs an EC key on curve {EC_CURVES[alg]}")
        return
    if not isinstance(imported, RSAKey):
        raise ConfigurationError(key, f"{alg} needs an RSA key")
    bits = imported.raw_value.key_size
    if bits < MIN_RSA_BITS:
        raise ConfigurationError(key, f"the RSA key has {bits} bits; flask-talk needs at least {MIN_RSA_BITS} "
                                      "(shorter keys are breakable; jsonwebtoken 9 refuses them too)")


def _import_pem(pem: bytes, key: str, alg: str, part: str) -> Key:
    cls = ECKey if alg in EC_CURVES else RSAKey
    try:
        with warnings.catch_warnings():
            # A short RSA key is refused below with a message naming the setting.
            warnings.simplefilter("ignore", SecurityWarning)
            imported = cls.import_key(pem)
    except (JoseError, ValueError, TypeError):
        raise ConfigurationError(key, f"'{part}' is not a PEM {cls.key_type} key that parses") from None
    _check_asymmetric(imported, key, alg)
    return imported


def _asymmetric_entry(spec: Any, key: str, alg: str) -> KeyEntry:
    if isinstance(spec, str):
        try:
            spec = json.loads(spec)
        except ValueError:
            raise ConfigurationError(
                key, f"{alg} needs a JSON object like {{\"private\": \"-----BEGIN ...\", \"public\": ...}}"
            ) from None
    if not isinstance(spec, Mapping):
        raise ConfigurationError(key, f"{alg} needs a JSON object with 'private' and/or 'public'")
    sign_key = None
    if spec.get("private"):
        sign_key = _import_pem(_pem(spec["private"], key, "private"), key, alg, "private")
        if not sign_key.is_private:
            raise ConfigurationError(key, "'private' holds a public key")
    if not spec.get("public"):
        # Talk requires the public half (it fails to start without it), so one env file
        # that works here must carry it too.
        raise ConfigurationError(key, f"{alg} needs a PEM 'public' key (Talk requires it, even beside "
                                      "'private'; `python -m flask_talk gen-secret --alg ...` prints both halves)")
    verify_key = _import_pem(_pem(spec["public"], key, "public"), key, alg, "public")
    if sign_key is not None and verify_key.as_dict(private=False) != sign_key.as_dict(private=False):
        raise ConfigurationError(key, "'public' is not the public half of 'private'")
    return KeyEntry(kid=_kid(spec.get("kid"), key, required=False), verify_key=verify_key, sign_key=sign_key)


def _kid(value: Any, key: str, *, required: bool) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value:
        raise ConfigurationError(key, "every entry needs a non-empty string 'kid' (Talk requires it)")
    return value


def _entry(spec: Any, key: str, alg: str, *, coral: bool, in_set: bool) -> KeyEntry:
    if alg in HMAC_ALGORITHMS:
        if in_set:
            if not isinstance(spec, Mapping):
                raise ConfigurationError(key, 'each entry must be an object {"kid": ..., "secret": ...}')
            secret_key = _hmac_key(spec.get("secret"), key, alg, coral=coral)
            return KeyEntry(_kid(spec.get("kid"), key, required=True), secret_key, secret_key)
        secret_key = _hmac_key(spec, key, alg, coral=coral)
        return KeyEntry(None, secret_key, secret_key)
    entry = _asymmetric_entry(spec, key, alg)
    if in_set:
        _kid(entry.kid, key, required=True)
    return entry


def load_key_set(config: Mapping[str, Any], *, coral: bool = False) -> KeySet:
    """Build the :class:`KeySet` from the config, or raise :class:`ConfigurationError`."""
    alg = str(config.get("TALK_JWT_ALG") or "HS256")
    if alg not in ALGORITHMS:
        raise ConfigurationError("TALK_JWT_ALG", f"{alg!r} is not one of {', '.join(ALGORITHMS)}")
    if coral and alg != "HS256":
        raise ConfigurationError("TALK_JWT_ALG", "Coral SSO tokens are signed with HS256 only")
    many = config.get("TALK_JWT_SECRETS")
    if many:
        key = "TALK_JWT_SECRETS"
        if isinstance(many, str):
            try:
                many = json.loads(many)
            except ValueError:
                raise ConfigurationError(key, "is not valid JSON (expected an array of objects)") from None
        if not isinstance(many, list) or not many:
            raise ConfigurationError(key, "must be a non-empty JSON array")
        if not all(isinstance(spec, Mapping) for spec in many):
            raise ConfigurationError(key, "every entry must be a JSON object with a 'kid'")
        entries = tuple(_entry(spec, key, alg, coral=coral, in_set=True) for spec in many)
        kids = [entry.kid for entry in entries]
        if len(set(kids)) != len(kids):
            raise ConfigurationError(key, "two entries share the same 'kid'")
        # Talk requires a header kid whenever a key set is configured; Coral does not.
        require_kid = not coral
    elif config.get("TALK_JWT_SECRET"):
        key = "TALK_JWT_SECRET"
        entries = (_entry(config["TALK_JWT_SECRET"], key, alg, coral=coral, in_set=False),)
        require_kid = False
    else:
        raise ConfigurationError(
            "TALK_JWT_SECRET", "is not set (nor TALK_JWT_SECRETS); use the value Talk is configured with "
            "(a new one: `python -m flask_talk gen-secret`)"
        )
    return KeySet(
        alg=alg,
        entries=entries,
        require_kid=require_kid,
        by_kid={entry.kid: entry for entry in entries if entry.kid},
        setting=key,
    )


def signing_key(keys: KeySet) -> Key:
    """The key that signs, or a start-up error when only a public key was configured."""
    key = keys.signer.sign_key
    if key is None:
        raise ConfigurationError(
            keys.setting, f"tokens cannot be signed without 'private': only a public key is configured for {keys.alg}"
        )
    return key

"""RSA and EC key pairs for tests, generated once per test session (generation is the slow part)."""
from __future__ import annotations

import functools
import json
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric import rsa

CURVES = {"ES256": ec.SECP256R1, "ES384": ec.SECP384R1, "ES512": ec.SECP521R1}


@functools.lru_cache(maxsize=None)
def key_pair(family: str, index: int = 0, rsa_bits: int = 2048) -> tuple[str, str]:
    """``(private_pem, public_pem)`` for ``RSA`` or an ``ES*`` algorithm; ``index`` picks another pair."""
    if family == "RSA":
        private: Any = rsa.generate_private_key(public_exponent=65537, key_size=rsa_bits)
    else:
        private = ec.generate_private_key(CURVES[family]())
    private_pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption()).decode()
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return private_pem, public_pem


def family_of(alg: str) -> str:
    return alg if alg.startswith("ES") else "RSA"


def escaped(pem: str) -> str:
    """A PEM as operators paste it into an env file: each newline written as backslash-n."""
    return pem.replace("\n", "\\n")


def pem_spec(alg: str, index: int = 0, *, kid: str | None = None, private: bool = True) -> dict[str, str]:
    """``{"kid"?, "private"?, "public"}`` with backslash-n escapes, as Talk's env holds it."""
    private_pem, public_pem = key_pair(family_of(alg), index)
    spec = {"public": escaped(public_pem)}
    if private:
        spec["private"] = escaped(private_pem)
    if kid is not None:
        spec["kid"] = kid
    return spec


def pem_secret(alg: str, index: int = 0, **options: Any) -> str:
    """A ``TALK_JWT_SECRET`` value for ``alg``."""
    return json.dumps(pem_spec(alg, index, **options))

"""Hand-forged tokens for attack tests: raw HMAC / RSA over exactly the JSON a test writes,
so tests can hold inputs a JOSE library would refuse to produce (non-JSON segments, NaN...)."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric import rsa

from .apps import ROOT_URL
from .apps import SECRET

OTHER_SECRET = "another-secret-that-is-not-ours-0123456789-xyzxyz"
KID_SECRETS = {"2": "new-rotation-secret-0123456789-abcdefghijklmnop",
               "1": "old-rotation-secret-0123456789-abcdefghijklmnop"}
USER = "reader-alice"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def segment(part: Any) -> str:
    """A JWT segment from a dict/list (JSON-encoded), a str (used as raw JSON text) or bytes."""
    if isinstance(part, bytes):
        return b64(part)
    text = part if isinstance(part, str) else json.dumps(part)
    return b64(text.encode())


def hs_sign(signing_input: str, secret: str | bytes, digest: Any = hashlib.sha256) -> str:
    key = secret.encode() if isinstance(secret, str) else secret
    return b64(hmac.new(key, signing_input.encode(), digest).digest())


def forge(header: Any, payload: Any, secret: str | bytes = SECRET, digest: Any = hashlib.sha256) -> str:
    """An HMAC-signed token over exactly the given header and payload."""
    signing_input = segment(header) + "." + segment(payload)
    return signing_input + "." + hs_sign(signing_input, secret, digest)


#: An attacker's RSA key (and the site's own, for the RS256 app).
ATTACKER_RSA = rsa.generate_private_key(public_exponent=65537, key_size=2048)
SITE_RSA = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def pem_private(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def pem_public(key: rsa.RSAPrivateKey) -> str:
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def rs_forge(header: Any, payload: Any, key: rsa.RSAPrivateKey = ATTACKER_RSA) -> str:
    signing_input = segment(header) + "." + segment(payload)
    signature = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return signing_input + "." + b64(signature)


def public_jwk(key: rsa.RSAPrivateKey) -> dict[str, str]:
    numbers = key.public_key().public_numbers()

    def as_b64(value: int) -> str:
        return b64(value.to_bytes((value.bit_length() + 7) // 8, "big"))

    return {"kty": "RSA", "e": as_b64(numbers.e), "n": as_b64(numbers.n), "alg": "RS256"}


def claims(**changes: Any) -> dict[str, Any]:
    """Valid claims for the default test app; ``name=DROP`` removes a claim."""
    now = int(time.time())
    base: dict[str, Any] = {"jti": "jti-" + str(now), "iat": now, "exp": now + 600, "iss": ROOT_URL,
                            "aud": "talk", "sub": USER, "username": "alice"}
    base.update(changes)
    return {k: v for k, v in base.items() if v is not DROP}


DROP = object()
HS = {"alg": "HS256", "typ": "JWT"}


def raw_claims(json_text_for_exp: str) -> str:
    """Claims as raw JSON text with ``exp`` written verbatim (NaN, Infinity, huge numbers)."""
    now = int(time.time())
    return ('{"jti":"j-raw","iat":%d,"exp":%s,"iss":"%s","aud":"talk","sub":"%s"}'
            % (now, json_text_for_exp, ROOT_URL, USER))

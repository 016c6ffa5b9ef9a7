#!/usr/bin/env python3
"""In-process micro-benchmark of the token core: µs per mint and per verify.

Compares flask-talk's :class:`~flask_talk.tokens.TokenCodec` (all checks: algorithm
pinning, every claim, the user id rules), joserfc called directly (encode; decode +
``JWTClaimsRegistry``), and the floor: one raw HMAC-SHA256 of the same signing input with
``hmac``. Process CPU time, best of several repeats, so a busy shared machine inflates little.

    .venv/bin/python bench/micro.py [--repeat 7] [--number 20000]
"""
from __future__ import annotations

import argparse
import hashlib
import hmac
import secrets
import sys
import time
import timeit
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from joserfc import jwt  # noqa: E402
from joserfc.jwk import OctKey  # noqa: E402
from joserfc.jws import JWSRegistry  # noqa: E402

from flask_talk.keys import load_key_set  # noqa: E402
from flask_talk.tokens import TokenCodec  # noqa: E402
from flask_talk.tokens import TokenPolicy  # noqa: E402

ISSUER = "https://news.example.org/"
PROFILE = {"id": "reader-alice", "username": "alice", "email": "alice@example.org"}


def best_us(work: Callable[[], Any], number: int, repeat: int) -> float:
    """The fastest of ``repeat`` timings, in µs of this process's CPU per call.

    CPU time, not wall time: on a shared machine other processes take turns on the cores.
    """
    timer = timeit.Timer(work, timer=time.process_time)
    return min(timer.repeat(number=number, repeat=repeat)) / number * 1e6


def measure(number: int, repeat: int) -> dict[str, float]:
    secret = secrets.token_urlsafe(48)
    codec = TokenCodec(load_key_set({"TALK_JWT_SECRET": secret}),
                       TokenPolicy(issuer=ISSUER, audience="talk"))
    minted = codec.mint(PROFILE)
    token, claims = minted.token, minted.claims
    assert codec.verify(token)["sub"] == PROFILE["id"]

    key = OctKey.import_key(secret)
    algorithms = ["HS256"]
    registry = JWSRegistry(algorithms=algorithms)
    header = {"alg": "HS256", "typ": "JWT"}

    def jose_decode_and_validate() -> Any:
        decoded = jwt.decode(token, key, algorithms=algorithms, registry=registry)
        jwt.JWTClaimsRegistry(now=int(time.time()), leeway=10, exp={"essential": True},
                              jti={"essential": True}, iss={"essential": True, "value": ISSUER},
                              aud={"essential": True, "value": "talk"}).validate(decoded.claims)
        return decoded

    raw = secret.encode()
    signing_input = token.rsplit(".", 1)[0].encode()

    results = {
        "flask-talk mint": best_us(lambda: codec.mint(PROFILE), number, repeat),
        "flask-talk verify": best_us(lambda: codec.verify(token), number, repeat),
        "joserfc encode": best_us(lambda: jwt.encode(header, claims, key, algorithms=algorithms,
                                                     registry=registry), number, repeat),
        "joserfc decode": best_us(lambda: jwt.decode(token, key, algorithms=algorithms,
                                                     registry=registry), number, repeat),
        "joserfc decode+claims": best_us(jose_decode_and_validate, number, repeat),
        "hmac.new().digest() (floor)": best_us(
            lambda: hmac.new(raw, signing_input, hashlib.sha256).digest(), number, repeat),
        "hmac.digest() one-shot": best_us(
            lambda: hmac.digest(raw, signing_input, "sha256"), number, repeat),
    }
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--number", type=int, default=20000, help="calls per timing")
    parser.add_argument("--repeat", type=int, default=7, help="timings; the best is kept")
    args = parser.parse_args(argv)
    results = measure(args.number, args.repeat)
    floor = results["hmac.new().digest() (floor)"]
    print(f"{'operation':<30}{'µs/op':>10}{'x floor':>10}")
    for name, value in results.items():
        print(f"{name:<30}{value:>10.2f}{value / floor:>9.1f}x")
    target = 10 * floor
    for name in ("flask-talk mint", "flask-talk verify"):
        verdict = "meets" if results[name] < target else "misses"
        print(f"{name} {verdict} the target (< 10x floor = {target:.2f} µs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Exceptions flask-talk raises, grouped so a site can catch or customise them.

Messages never contain a secret or a token: they name the setting or the claim.
"""
from __future__ import annotations


class TalkError(Exception):
    """Base class of every flask-talk exception."""


class ConfigurationError(TalkError, RuntimeError):
    """A setting is missing or wrong; raised at start-up, naming the key."""

    def __init__(self, key: str, message: str) -> None:
        self.key = key
        #: The message without the key's name in front.
        self.message = message
        super().__init__(f"{key}: {message}")


class TokenError(TalkError, ValueError):
    """A token was refused. ``reason`` is safe to show to the caller."""

    #: short machine-readable code, e.g. ``expired`` or ``bad_signature``
    code = "invalid_token"

    def __init__(self, reason: str, code: str | None = None) -> None:
        self.reason = reason
        if code:
            self.code = code
        super().__init__(reason)


class StoreUnavailable(TalkError):
    """The revocation / rate-limit store cannot be reached; callers fail closed."""

    def __init__(self, backend: str, problem: str) -> None:
        self.backend = backend
        self.problem = problem
        super().__init__(f"{backend} store unavailable: {problem}")

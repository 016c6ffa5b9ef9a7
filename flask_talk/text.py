"""Text from outside: whether a value is a string flask-talk can sign, hash and store.

JSON may spell lone surrogates (``"\\ud800"``). Python decodes them into a ``str`` that
cannot be encoded as UTF-8, so itsdangerous, hashlib, SQLite and Redis raise
``UnicodeEncodeError`` on it, deep inside. Values are checked where they enter (the CSRF
token, the login fields, a token's ids) and refused there with the ordinary answer.
"""
from __future__ import annotations

from typing import Any


def usable_text(value: Any) -> bool:
    """Whether ``value`` is a ``str`` that encodes as UTF-8 (it holds no lone surrogate)."""
    if not isinstance(value, str):
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True

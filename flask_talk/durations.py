"""Talk's duration words (``1 day``, ``6h``, ``2.5 hrs``, ``90000``) parsed as Talk parses them.

Talk hands ``TALK_JWT_EXPIRY`` to ``jsonwebtoken``'s ``expiresIn``, which passes a string
through the ``ms`` package: a number with an optional unit, case-insensitive, and a bare
number means *milliseconds*. ``exp`` is then ``floor(iat + ms / 1000)``.
"""
from __future__ import annotations

import re
from typing import Any

_UNITS_MS = {
    "years": 31557600000, "year": 31557600000, "yrs": 31557600000, "yr": 31557600000,
    "y": 31557600000,
    "weeks": 604800000, "week": 604800000, "w": 604800000,
    "days": 86400000, "day": 86400000, "d": 86400000,
    "hours": 3600000, "hour": 3600000, "hrs": 3600000, "hr": 3600000, "h": 3600000,
    "minutes": 60000, "minute": 60000, "mins": 60000, "min": 60000, "m": 60000,
    "seconds": 1000, "second": 1000, "secs": 1000, "sec": 1000, "s": 1000,
    "milliseconds": 1, "millisecond": 1, "msecs": 1, "msec": 1, "ms": 1,
}
# JavaScript semantics: ``\d`` and case-folding are ASCII-only, and ``$`` is the very end
# (Python's ``$`` would also let a trailing newline through), hence ASCII and ``\Z``.
_PATTERN = re.compile(
    r"^(?P<n>-?(?:\d+)?\.?\d+) *(?P<unit>" + "|".join(sorted(_UNITS_MS, key=len, reverse=True))
    + r")?\Z",
    re.IGNORECASE | re.ASCII,
)


def parse_duration_ms(value: Any) -> float | None:
    """Return the duration in milliseconds, or ``None`` where ``ms`` returns undefined.

    A Python number is taken as seconds (like ``expiresIn`` given a number).
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value) * 1000
    text = str(value)
    if not text or len(text) > 100:
        return None
    match = _PATTERN.match(text)
    if not match:
        return None
    unit = (match.group("unit") or "ms").lower()
    return float(match.group("n")) * _UNITS_MS[unit]


def is_bare_number(value: Any) -> bool:
    """Whether ``value`` is a string without a unit, which Talk reads as milliseconds."""
    match = _PATTERN.match(value) if isinstance(value, str) else None
    return match is not None and match.group("unit") is None

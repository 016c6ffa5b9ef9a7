"""The demo's JSON request bodies: an object, or a 400 with a JSON error.

``(request.get_json(silent=True) or {}).get(...)`` fails with a 500 on a body such as
``[1]``: valid JSON, but not an object. Routes read their bodies through here instead.
"""
from __future__ import annotations

from typing import Any

from flask import jsonify
from flask import request


def json_object() -> dict[str, Any] | None:
    """The request's JSON object; ``{}`` when it carries no (valid) JSON, ``None`` when its
    JSON is something else (a list, a string, a number), which the caller answers with
    :func:`not_an_object`."""
    body = request.get_json(silent=True)
    if body is None:
        return {}
    return body if isinstance(body, dict) else None


def not_an_object() -> Any:
    """The 400 for a body that is JSON but not an object."""
    return jsonify(error="bad_request", error_description="The request body must be a JSON object."), 400

"""The Talk embed: the values a page needs, and the ``talk_embed()`` Jinja global.

Values reach the page only as JSON inside ``<script type="application/json">`` (Jinja's
``|tojson`` escapes ``<``, ``>``, ``&`` and quotes), and a static script turns them into
``Coral.Talk.render`` (Talk 4) or ``Coral.createStreamEmbed`` (Coral 5+), so the page
needs no inline script and a strict Content-Security-Policy holds.
"""
from __future__ import annotations

import itertools
import logging
from typing import Any

from flask import render_template
from flask import request
from flask import url_for
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup

from .errors import ConfigurationError
from .errors import StoreUnavailable
from .readers import SignedOut
from .readers import current_reader
from .readers import mint_for_reader
from .state import get_state

logger = logging.getLogger("flask_talk")
_counter = itertools.count(1)

#: Where each Talk generation serves its embed script, under ``TALK_URL``.
SCRIPT_PATHS = {"talk": "/static/embed.js", "coral": "/assets/js/embed.js"}


def talk_script_url(talk_url: str, token_format: str) -> str:
    return talk_url.rstrip("/") + SCRIPT_PATHS[token_format]


def embed_context(asset_url: str | None = None, asset_id: str | None = None) -> dict[str, Any]:
    """Everything the embed needs, with a freshly minted token when a reader is signed in.

    Every call mints a new token (new ``jti``): Talk blocks a ``jti`` after the reader signs
    out inside the comment box, so a cached token would lock them out.
    """
    state = get_state()
    talk_url = state.talk_base
    if not talk_url:
        raise ConfigurationError("TALK_URL", "is not set: the embed has no Talk server to load")
    config: dict[str, Any] = {
        "format": state.settings.token_format,
        "talk_url": talk_url,
        "asset_url": asset_url or request.base_url,
        "element_id": f"talk-embed-{next(_counter)}",
        "token_url": url_for("talk.token"),
        "renew_before": state.settings.renew_before_seconds,
    }
    if asset_id:
        config["asset_id"] = asset_id
    try:
        reader = current_reader()
        if reader is not None:
            minted = mint_for_reader(reader)
            config.update(token=minted.token, expires_at=minted.expires_at, issued_at=minted.claims["iat"],
                          username=reader.get("username"))
    except SignedOut:
        pass  # signed out while this page was rendered: the stream shows anonymously
    except StoreUnavailable as exc:
        # Fail closed: show the stream anonymously rather than an untracked token.
        logger.error("flask-talk: embed rendered anonymously: %s", exc)
    except ValueError as exc:
        logger.error("flask-talk: cannot mint a token for this reader: %s", exc)
    # After current_reader(): a session signed out elsewhere is cleared there, and a CSRF
    # token made from the old session would turn every renewal into a 400 instead of a 401.
    config["csrf_token"] = generate_csrf()
    return {
        "config": config,
        "talk_url": talk_url,
        "script_url": talk_script_url(talk_url, state.settings.token_format),
        "loader_url": url_for("talk.static", filename="flask_talk/talk-embed.js"),
    }


def talk_embed(asset_url: str | None = None, asset_id: str | None = None) -> Markup:
    """Jinja global: ``{{ talk_embed(asset_url=..., asset_id=...) }}`` in the site's own templates.

    Without ``TALK_URL`` the page still renders, with a visible note instead of the stream.
    """
    try:
        context = embed_context(asset_url, asset_id)
    except ConfigurationError as exc:
        logger.error("flask-talk: %s", exc)
        return Markup(render_template("flask_talk/not_configured_note.html"))
    return Markup(render_template("flask_talk/embed.html", embed=context))

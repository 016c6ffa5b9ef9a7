"""Per-app state (``app.extensions["talk"]``) and the accessor every module uses."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field
from typing import Any

from flask import current_app
from werkzeug.local import LocalProxy

from .config import TalkSettings
from .stores import StateStore
from .tokens import TokenCodec
from .users import UserStore

EXTENSION_KEY = "talk"


@dataclass
class TalkState:
    """Everything flask-talk keeps for one app, built once in ``init_app``."""

    settings: TalkSettings
    codec: TokenCodec
    store: StateStore
    users: UserStore
    #: ``callback(user) -> dict`` adding profile fields (badges, role, ...) to tokens.
    profile_loaders: list[Callable[[Any], dict[str, Any]]] = field(default_factory=list)
    #: Base URL of the Talk-compatible server the embed talks to (``TALK_URL`` or a stand-in).
    talk_base: str | None = None


def get_state() -> TalkState:
    """The current app's :class:`TalkState`, or a clear error when ``TalkAuth`` was never set up."""
    try:
        return current_app.extensions[EXTENSION_KEY]
    except KeyError:
        raise RuntimeError(
            "flask-talk is not initialised on this app: call TalkAuth(app) or talk.init_app(app)"
        ) from None


#: The current app's :class:`TalkState`.
current_talk: TalkState = LocalProxy(get_state)  # type: ignore[assignment]

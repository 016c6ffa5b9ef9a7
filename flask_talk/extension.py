"""``TalkAuth``: the Flask extension object that wires settings, stores, routes and CLI."""
from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Any

from flask import Flask
from flask import Response
from flask import g
from flask_wtf.csrf import generate_csrf

from .config import apply_defaults
from .config import load_settings
from .embed import talk_embed
from .errors import ConfigurationError
from .errors import StoreUnavailable
from .keys import signing_key
from .security import harden_session_cookie
from .security import no_store
from .state import EXTENSION_KEY
from .state import TalkState
from .stores import RedisStateStore
from .stores import SQLiteStateStore
from .stores import StateStore
from .tokens import TokenCodec
from .tokens import TokenPolicy
from .users import SiteUsers
from .users import UserStore

logger = logging.getLogger("flask_talk")


class TalkAuth:
    """Make a Flask app the identity provider of an embedded Talk comment stream.

    ``TalkAuth(app)`` or ``talk = TalkAuth(); talk.init_app(app)``. Reads the ``TALK_*``
    settings (app config, then environment), refuses to start on a bad one, and registers
    the ``talk`` blueprint at ``TALK_URL_PREFIX`` (``/talk``), the ``talk_embed()`` Jinja
    global and the ``flask talk`` commands.

    :param app: the app to set up now, or ``None`` to call :meth:`init_app` later.
    :param users: a ready user store (``get(id)``, ``authenticate(username, password)``);
        by default the SQLite store in the instance folder, or the registered callbacks.
    :param store: the revocation / rate-limit store; by default Redis when
        ``TALK_REDIS_URL`` is set, else the SQLite file.
    """

    def __init__(self, app: Flask | None = None, *, users: UserStore | None = None,
                 store: StateStore | None = None) -> None:
        self._users = users
        self._store = store
        self.find_user: Callable[[str], Any] | None = None
        self.check_credentials: Callable[[str, str], Any] | None = None
        self._profile_loaders: list[Callable[[Any], dict[str, Any]]] = []
        if app is not None:
            self.init_app(app)

    # -- hooks ----------------------------------------------------------------------------

    def user_loader(self, callback: Callable[[str], Any]) -> Callable[[str], Any]:
        """Register ``callback(user_id: str) -> user | None``, used instead of the SQLite store.

        A user is a mapping or an object with ``id``, ``username``, ``email`` (and optional
        ``display_name``, ``badges``, ``role``, ``url``, ``avatar``).
        """
        self.find_user = callback
        return callback

    def credentials_checker(self, callback: Callable[[str, str], Any]) -> Callable[[str, str], Any]:
        """Register ``callback(username, password) -> user | None`` for ``/talk/login``."""
        self.check_credentials = callback
        return callback

    def profile_loader(self, callback: Callable[[Any], dict[str, Any]]) -> Callable[[Any], dict[str, Any]]:
        """Register ``callback(user) -> dict`` of extra profile fields (Coral ``badges``, ``role``...)."""
        self._profile_loaders.append(callback)
        return callback

    # -- set-up ---------------------------------------------------------------------------

    def _database_path(self, app: Flask, configured: str | None) -> str:
        return configured or os.path.join(app.instance_path, "flask_talk.sqlite3")

    def _make_users(self, database: str) -> UserStore:
        return self._users if self._users is not None else SiteUsers(self, database)

    def init_app(self, app: Flask) -> None:
        """Check the settings and register everything on ``app``; raises ``ConfigurationError``."""
        apply_defaults(app.config)
        settings = load_settings(app.config)
        signing_key(settings.keys)
        _check_session_key(app.config.get("SECRET_KEY"))
        database = self._database_path(app, settings.database)
        if self._store is not None:
            store = self._store
        elif settings.redis_url:
            store = RedisStateStore(settings.redis_url)
        else:
            store = SQLiteStateStore(database)
        policy = TokenPolicy(
            token_format=settings.token_format,
            issuer=settings.issuer,
            audience=settings.audience,
            expiry_seconds=settings.expiry_seconds,
            user_id_claim=settings.user_id_claim,
            leeway_seconds=settings.leeway_seconds,
            allow_email_ids=settings.allow_email_ids,
        )
        state = TalkState(
            settings=settings,
            codec=TokenCodec(settings.keys, policy),
            store=store,
            users=self._make_users(database),
            profile_loaders=self._profile_loaders,
            talk_base=settings.talk_url or app.config.get("TALK_STANDIN_URL"),
        )
        app.extensions[EXTENSION_KEY] = state
        harden_session_cookie(app)

        from .cli import talk_cli
        from .views import bp
        from .views import store_unavailable

        app.register_blueprint(bp, url_prefix=settings.url_prefix or None)
        # The site's own pages call current_reader()/talk_embed(): a store outage there is a
        # 503 too, never a 500. A site may register its own handler after init_app.
        app.register_error_handler(StoreUnavailable, store_unavailable)
        app.after_request(_no_store_when_minted)
        app.jinja_env.globals["talk_embed"] = talk_embed
        app.jinja_env.globals.setdefault("csrf_token", generate_csrf)
        app.cli.add_command(talk_cli)
        _follow_flask_login()
        if not state.talk_base:
            logger.warning("flask-talk: TALK_URL is not set: talk_embed() and /talk/embed show no "
                           "comment stream until it is")
        logger.info("flask-talk: %s tokens, %s, store %s", settings.token_format, settings.alg,
                    "redis" if settings.redis_url else "sqlite")


#: Shortest ``SECRET_KEY`` accepted: whoever can guess it can forge any reader's session.
MIN_SECRET_KEY_BYTES = 16


def _check_session_key(secret_key: Any) -> None:
    """The site's ``SECRET_KEY`` signs the sessions that tokens are minted for."""
    if not secret_key:
        raise ConfigurationError("SECRET_KEY", "flask-talk needs the app's SECRET_KEY for sessions and CSRF")
    size = len(secret_key if isinstance(secret_key, bytes) else str(secret_key).encode())
    if size < MIN_SECRET_KEY_BYTES:
        raise ConfigurationError(
            "SECRET_KEY", f"is {size} bytes; sessions signed with it can be forged, so flask-talk needs at "
            f"least {MIN_SECRET_KEY_BYTES} (python -c 'import secrets; print(secrets.token_hex(32))')")


def _no_store_when_minted(response: Response) -> Response:
    """Any page of the site that received a fresh token (``talk_embed()``) stays out of caches."""
    if g.get("_talk_minted"):
        no_store(response)
    return response


def _follow_flask_login() -> None:
    """When Flask-Login is installed, its sign-in and sign-out (from the site's own views)
    end the previous flask-talk sign-in and revoke its tokens, as /talk/logout does."""
    try:
        from flask_login.signals import user_logged_in
        from flask_login.signals import user_logged_out
    except ImportError:
        return
    from .readers import on_flask_login_logged_in
    from .readers import on_flask_login_logged_out

    user_logged_in.connect(on_flask_login_logged_in, weak=False)
    user_logged_out.connect(on_flask_login_logged_out, weak=False)

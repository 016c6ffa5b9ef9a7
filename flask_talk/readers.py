"""Who is reading: the signed-in reader of this request, and logging readers in and out.

flask-talk keeps two keys in the Flask session: the user id and a random session id that
ties the tokens minted for this sign-in together, so logout can revoke all of them. A
site on Flask-Login is recognised and its ``current_user`` is used instead of our key.
"""
from __future__ import annotations

import secrets
import time
from typing import Any

from flask import current_app
from flask import g
from flask import session

from .state import EXTENSION_KEY
from .state import get_state
from .stores import session_key
from .users import profile_of

USER_KEY = "_talk_user_id"
SID_KEY = "_talk_sid"


def _flask_login_user() -> Any | None:
    if not hasattr(current_app, "login_manager"):
        return None
    from flask_login import current_user

    return current_user if current_user.is_authenticated else None


def session_id() -> str:
    """The random id of this sign-in, created on first use (Flask-Login sites)."""
    if SID_KEY not in session:
        session[SID_KEY] = secrets.token_urlsafe(18)
    return session[SID_KEY]


def _signed_out_elsewhere(state: Any) -> bool:
    """Whether this cookie's sign-in was ended (logout, or a newer sign-in) somewhere else."""
    sid = session.get(SID_KEY)
    return isinstance(sid, str) and bool(sid) and state.store.is_revoked(session_key(sid))


def _forget_session() -> None:
    if hasattr(current_app, "login_manager"):
        from flask_login import logout_user

        logout_user()
    session.clear()


def current_reader() -> dict[str, Any] | None:
    """The signed-in reader's profile, or ``None``. Cached on ``g`` for the request.

    A session that was signed out elsewhere (its id revoked) counts as anonymous, so a
    copied cookie stops working at logout even though Flask's session lives in the cookie;
    this holds for Flask-Login sessions too.
    """
    if "_talk_reader" in g:
        return g._talk_reader
    state = get_state()
    user = _flask_login_user()
    if user is not None or session.get(USER_KEY):
        if _signed_out_elsewhere(state):
            _forget_session()
            user = None
        elif user is None:
            user = state.users.get(session[USER_KEY])
    reader = None
    if user is not None:
        reader = profile_of(user)
        for loader in state.profile_loaders:
            reader.update(loader(user) or {})
    g._talk_reader = reader
    return reader


def _session_lifetime_end() -> float:
    """How long a copied cookie of this sign-in could still be presented."""
    return time.time() + current_app.permanent_session_lifetime.total_seconds()


def log_in(user: Any) -> dict[str, Any]:
    """Start a fresh session for ``user`` (rotation).

    A sign-in already held by this cookie is ended first, with its tokens, so an older
    copy of the cookie cannot outlive the next "Sign out".
    """
    end_sign_in()
    profile = profile_of(user)
    session.clear()
    session[USER_KEY] = profile["id"]
    if hasattr(current_app, "login_manager") and hasattr(user, "get_id"):
        from flask_login import login_user

        login_user(user)
    session[SID_KEY] = secrets.token_urlsafe(18)  # after login_user: its signal ends old sign-ins
    g.pop("_talk_reader", None)
    return profile


def end_sign_in() -> int:
    """Revoke this cookie's sign-in and its tokens, and drop its id from the session.

    Raises :class:`~flask_talk.errors.StoreUnavailable` when the store cannot record it.
    """
    sid = session.get(SID_KEY)
    if not isinstance(sid, str) or not sid:
        return 0
    revoked = get_state().store.revoke_session(sid, _session_lifetime_end())
    session.pop(SID_KEY, None)
    return revoked


def on_flask_login_change(sender: Any, **extra: Any) -> None:
    """Flask-Login's ``user_logged_in`` / ``user_logged_out``: the site's own login and logout
    views end the previous sign-in too (connected in ``init_app`` for apps using flask-talk)."""
    if EXTENSION_KEY in getattr(sender, "extensions", {}):
        end_sign_in()
        g.pop("_talk_reader", None)


def log_out() -> int:
    """Revoke this sign-in and every token minted for it, then clear the session.

    The revocation is written first: when the store fails, the error propagates and the
    session is kept, so the reader can try again rather than believe they are signed out.
    """
    revoked = end_sign_in()
    _forget_session()
    g.pop("_talk_reader", None)
    return revoked


class SignedOut(Exception):
    """The sign-in ended while a token was being minted for it."""


def mint_for_reader(reader: dict[str, Any]) -> Any:
    """A new token for the signed-in reader, tracked under this sign-in for logout.

    The sign-in is checked again *after* the token is tracked: a logout that committed in
    between did not see the token, so the token revokes itself and :class:`SignedOut` is
    raised. Either the logout sees the token, or the token sees the logout.
    """
    state = get_state()
    sid = session_id()
    minted = state.codec.mint(reader)
    state.store.track(sid, minted.jti, minted.expires_at)
    if state.store.is_revoked(session_key(sid)):
        state.store.revoke(minted.jti, minted.expires_at)
        raise SignedOut()
    g._talk_minted = True
    return minted

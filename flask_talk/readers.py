"""Who is reading: the signed-in reader of this request, and logging readers in and out.

flask-talk keeps two keys in the Flask session: the user id and a random session id that
ties the tokens minted for this sign-in together, so logout can revoke all of them. A
site on Flask-Login is recognised and its ``current_user`` is the reader: its users are
signed in with ``login_user`` and our user id key is not written for them. (Users that
Flask-Login cannot sign in, such as the dicts of a ``@talk.credentials_checker``, keep our
key.) Flask-Login's own ``login_user()`` and ``logout_user()`` drop our key, so the site's
sign-out signs the reader out of flask-talk too.
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


def _uses_flask_login() -> bool:
    return hasattr(current_app, "login_manager")


def _flask_login_user() -> Any | None:
    from flask_login import current_user

    return current_user if current_user.is_authenticated else None


def _new_session_id() -> None:
    session[SID_KEY] = secrets.token_urlsafe(18)


def session_id() -> str:
    """The random id of this sign-in.

    Every sign-in gets one when it starts (``log_in``, Flask-Login's ``user_logged_in``); a
    Flask-Login session that began before flask-talk was set up gets one on first use.
    """
    if SID_KEY not in session:
        _new_session_id()
    return session[SID_KEY]


def _signed_out_elsewhere(state: Any) -> bool:
    """Whether this cookie's sign-in was ended (logout, or a newer sign-in) somewhere else."""
    sid = session.get(SID_KEY)
    return isinstance(sid, str) and bool(sid) and state.store.is_revoked(session_key(sid))


def _clear_session() -> None:
    """Empty the session, and Flask-WTF's per-request copy of its CSRF token with it: a
    token generated later in this request must belong to the new session, not the old.

    Flask-Login's note to delete its remember-me cookie (``logout_user`` leaves it in the
    session for its response hook) survives: without it that cookie would sign the reader
    straight back in."""
    remember = session.get("_remember")
    session.clear()
    if remember == "clear":
        session["_remember"] = remember
    g.pop(current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token"), None)


def _forget_session() -> None:
    if _uses_flask_login():
        from flask_login import logout_user

        logout_user()
    _clear_session()


def current_reader() -> dict[str, Any] | None:
    """The signed-in reader's profile, or ``None``. Cached on ``g`` for the request.

    A session that was signed out elsewhere (its id revoked) counts as anonymous, so a
    copied cookie stops working at logout even though Flask's session lives in the cookie;
    this holds for Flask-Login sessions too.
    """
    if "_talk_reader" in g:
        return g._talk_reader
    state = get_state()
    user = _flask_login_user() if _uses_flask_login() else None
    user_id = None if user is not None else session.get(USER_KEY)
    if (user is not None or user_id) and _signed_out_elsewhere(state):
        # Already revoked: drop the id first, so logout_user()'s signal writes nothing again.
        session.pop(SID_KEY, None)
        _forget_session()
        user = user_id = None
    if user_id:
        user = state.users.get(user_id)
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


def log_in(user: Any) -> dict[str, Any] | None:
    """Start a fresh session for ``user`` (rotation); ``None`` when Flask-Login refuses the
    user (an inactive account), with nothing changed.

    A sign-in already held by this cookie is ended first, with its tokens, so an older
    copy of the cookie cannot outlive the next "Sign out". On a Flask-Login site the
    reader is signed in with ``login_user`` only, whose signal then starts the new sign-in
    id (the old one is already gone: it is not revoked twice).
    """
    if not can_sign_in(user):
        return None
    flask_login_user = _is_flask_login_user(user)
    end_sign_in()
    profile = profile_of(user)
    # On a Flask-Login site, logout_user() also marks a remember-me cookie of the previous
    # reader for deletion; without that, the cookie would bring that reader back.
    _forget_session()
    if flask_login_user:
        from flask_login import login_user

        login_user(user)
    else:
        session[USER_KEY] = profile["id"]
        _new_session_id()
    g.pop("_talk_reader", None)
    return profile


def _is_flask_login_user(user: Any) -> bool:
    return _uses_flask_login() and callable(getattr(user, "get_id", None))


def can_sign_in(user: Any) -> bool:
    """Whether :func:`log_in` will sign ``user`` in: Flask-Login refuses inactive accounts."""
    return not _is_flask_login_user(user) or bool(user.is_active)


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


def _end_flask_login_sign_in(sender: Any) -> bool:
    """End this cookie's sign-in, if ``sender`` is an app using flask-talk; whether it is."""
    if EXTENSION_KEY not in getattr(sender, "extensions", {}):
        return False
    end_sign_in()
    session.pop(USER_KEY, None)
    g.pop("_talk_reader", None)
    return True


def on_flask_login_logged_in(sender: Any, **extra: Any) -> None:
    """Flask-Login's ``user_logged_in`` (the site's own login view, or ``log_in``): end the
    previous sign-in and start a new sign-in id at once, so logout revokes a copy of the cookie
    taken before any token was minted (connected in ``init_app``)."""
    if _end_flask_login_sign_in(sender):
        _new_session_id()


def on_flask_login_logged_out(sender: Any, **extra: Any) -> None:
    """Flask-Login's ``user_logged_out``: the site's own logout view ends the sign-in and
    revokes its tokens, as ``/talk/logout`` does (connected in ``init_app``)."""
    _end_flask_login_sign_in(sender)


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

"""``flask talk ...``: manage users and tokens, and compare the site's settings with Talk's."""
from __future__ import annotations

import json
import re
import secrets
import sys
import time
from collections.abc import Mapping
from typing import Any

import click
from flask.cli import AppGroup

from .config import DEFAULTS
from .config import SHARED_WITH_TALK
from .config import TalkSettings
from .config import apply_defaults
from .config import load_settings
from .errors import ConfigurationError
from .errors import TokenError
from .keys import ALGORITHMS
from .keys import EC_CURVES
from .keys import KeySet
from .keys import load_key_set
from .state import get_state

talk_cli = AppGroup("talk", help="flask-talk: users, tokens and Talk settings.")


@talk_cli.command("create-user")
@click.argument("username")
@click.option("--email", required=True, help="The reader's e-mail address.")
@click.option("--id", "user_id", help="User id (default: the username).")
@click.option("--display-name", default=None)
@click.password_option(help="Prompted for when not given.")
def create_user(username: str, email: str, user_id: str | None, display_name: str | None,
                password: str) -> None:
    """Add a reader to the default SQLite user store."""
    users = getattr(get_state().users, "builtin", lambda: None)()
    if users is None:
        raise click.ClickException("this app brings its own users; add them there")
    try:
        user = users.create(user_id or username, username, email, password, display_name)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"created user {user['id']} ({user['username']})")


@talk_cli.command("issue-token")
@click.argument("user_id")
def issue_token(user_id: str) -> None:
    """Print a token for USER_ID, signed as the site signs them."""
    state = get_state()
    user = state.users.get(user_id)
    if user is None:
        raise click.ClickException(f"no user with id {user_id!r}")
    from .users import profile_of

    try:
        minted = state.codec.mint(profile_of(user))
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(minted.token)


@talk_cli.command("verify-token")
@click.argument("token")
def verify_token(token: str) -> None:
    """Print the claims of TOKEN, or exactly why it is refused (exit status 1).

    TOKEN ``-`` reads it from standard input, which keeps it out of shell history and ``ps``.
    """
    if token == "-":
        token = sys.stdin.read()
    state = get_state()
    try:
        claims = state.codec.verify(token.strip())
    except TokenError as exc:
        click.echo(f"refused ({exc.code}): {exc.reason}", err=True)
        sys.exit(1)
    revoked = state.store.is_revoked(claims["jti"])
    click.echo(json.dumps(claims, indent=2, sort_keys=True))
    left = claims["exp"] - time.time()
    click.echo(f"valid for another {int(left)} s" + (" but REVOKED" if revoked else ""), err=True)
    if revoked:
        sys.exit(1)


@talk_cli.command("revoke")
@click.argument("jti")
@click.option("--until", type=float, default=None, help="Unix time (default: now + token lifetime).")
def revoke(jti: str, until: float | None) -> None:
    """Refuse the token id JTI on /talk/user until it would have expired."""
    state = get_state()
    state.store.revoke(jti, until or time.time() + state.settings.expiry_seconds)
    click.echo(f"revoked {jti}")


@talk_cli.command("gen-secret", with_appcontext=False)
@click.option("--alg", default="HS256", show_default=True,
              type=click.Choice(list(ALGORITHMS)))
@click.option("--kid", default=None, help="Key id to put in the JSON (asymmetric keys).")
def gen_secret(alg: str, kid: str | None) -> None:
    """Print a new TALK_JWT_SECRET value for ALG: random text for HS*, a key pair as JSON otherwise."""
    if alg.startswith("HS"):
        size = {"HS256": 32, "HS384": 48, "HS512": 64}[alg]
        # Text, not random bytes behind "base64:": Talk decodes base64 secrets to UTF-8 text,
        # which would mangle binary keys. As many random bytes as the hash has, written as
        # base64url text (a third longer than the hash, as RFC 7518 asks of HMAC keys).
        click.echo(secrets.token_urlsafe(size))
        return
    from joserfc.jwk import ECKey
    from joserfc.jwk import RSAKey

    key = ECKey.generate_key(EC_CURVES[alg]) if alg in EC_CURVES else RSAKey.generate_key(2048)
    value: dict[str, Any] = {
        "private": key.as_pem(private=True).decode(),
        "public": key.as_pem(private=False).decode(),
    }
    if kid:
        value["kid"] = kid
    click.echo(json.dumps(value))


#: JavaScript's whitespace (``\s`` and ``trim()``), which is not Python's: it has the BOM.
_JS_SPACE = "\t\n\v\f\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a" \
    "\u2028\u2029\u202f\u205f\u3000\ufeff"
#: dotenv 4's line rule (what Talk 4 loads its ``.env`` with), in JavaScript's terms: an
#: ASCII key, and ``.`` stops at any line terminator.
_DOTENV_LINE = re.compile(
    f"^[{_JS_SPACE}]*([A-Za-z0-9_.\\-]+)[{_JS_SPACE}]*=[{_JS_SPACE}]*([^\r\n\u2028\u2029]*)?[{_JS_SPACE}]*\\Z")
_DOTENV_QUOTES = re.compile(r"^['\"]|['\"]\Z")


def read_env_file(path: str) -> tuple[dict[str, str], list[str]]:
    """The file's ``KEY=value`` pairs read as Talk 4 reads its ``.env`` (dotenv 4), and notes
    on lines Talk would ignore.

    As in dotenv 4: a value in double quotes has each backslash-n turned into a newline, one
    leading and one trailing quote are removed, then surrounding spaces; ``export KEY=...``
    and other lines that are not ``KEY=value`` are ignored.
    """
    values: dict[str, str] = {}
    notes: list[str] = []
    with open(path, encoding="utf-8", newline="") as handle:
        lines = handle.read().split("\n")
    for number, line in enumerate(lines, start=1):
        match = _DOTENV_LINE.match(line)
        if match is None:
            stripped = line.strip()
            if stripped.startswith("export ") and "=" in stripped:
                key = stripped[len("export "):].split("=", 1)[0].strip()
                notes.append(f"{key}: line {number} starts with 'export', which Talk's .env loader (dotenv) "
                             "ignores, so it is compared as unset; remove 'export' if Talk reads this file")
            elif stripped and not stripped.startswith("#"):
                notes.append(f"line {number}: not KEY=value, ignored (as Talk ignores it)")
            continue
        key, value = match.group(1), match.group(2) or ""
        if len(value) > 0 and value[0] == '"' and value[-1] == '"':
            value = value.replace("\\n", "\n")
        values[key] = _DOTENV_QUOTES.sub("", value).strip(_JS_SPACE)
    return values, notes


_KEY_SETTINGS = ("TALK_JWT_SECRET", "TALK_JWT_SECRETS")


def _load_talk_side(talk: dict[str, Any], site: Mapping[str, Any]) -> tuple[TalkSettings | None, list[str]]:
    """Talk's settings, with each invalid value reported and replaced by the site's, so the
    remaining variables can still be compared one by one."""
    invalid: list[str] = []
    replaced: set[str] = set()
    for _ in DEFAULTS:
        try:
            return load_settings(talk), invalid
        except ConfigurationError as exc:
            if exc.key in replaced:
                return None, invalid
            if exc.key in _KEY_SETTINGS and str(talk.get("TALK_JWT_ALG")) != str(site.get("TALK_JWT_ALG")):
                # A secret is checked against the algorithm: the difference is the algorithm
                # alone when Talk's secret loads with the site's. Either way, name it.
                invalid.append(f"TALK_JWT_ALG: the site uses {site.get('TALK_JWT_ALG')!r}, "
                               f"Talk uses {talk.get('TALK_JWT_ALG')!r}")
                replaced.add("TALK_JWT_ALG")
                if _keys_load({**talk, "TALK_JWT_ALG": site.get("TALK_JWT_ALG")}):
                    talk["TALK_JWT_ALG"] = site.get("TALK_JWT_ALG")
                    continue
            invalid.append(f"{exc.key}: the value in Talk's file cannot be used: {exc.message}")
            group = (*_KEY_SETTINGS, "TALK_JWT_ALG") if exc.key in _KEY_SETTINGS else (exc.key,)
            for key in group:
                talk[key] = site.get(key)
                replaced.add(key)
    return None, invalid


def _keys_load(config: Mapping[str, Any]) -> bool:
    try:
        load_key_set(config)
    except ConfigurationError:
        return False
    return True


def compare_settings(site: dict[str, Any], talk_env: dict[str, str]) -> tuple[list[str], list[str]]:
    """``(mismatches, notes)`` between the site's settings and a Talk env file.

    Each entry starts with the variable's name. A mismatch makes Talk refuse (or treat as
    anonymous) the site's tokens; a note is a difference that works but is probably unintended.
    An invalid value in the file is a mismatch, and the other variables are still compared.
    """
    talk: dict[str, Any] = dict(talk_env)
    apply_defaults(talk, environ={})
    talk["TALK_TOKEN_FORMAT"] = "talk"  # a Talk env file describes Talk 4
    try:
        site_settings = load_settings(site)
    except ConfigurationError as exc:
        return [f"{exc.key}: the site's own setting is invalid: {exc}"], []
    if site_settings.token_format == "coral":
        return [], ["TALK_TOKEN_FORMAT: the site signs Coral 5+ SSO tokens; Coral keeps its settings in its "
                    "admin pages, not in an env file, so there is nothing here to compare"]
    talk_settings, mismatches = _load_talk_side(talk, site)
    if talk_settings is None:
        return mismatches, []
    invalid = {line.split(":", 1)[0] for line in mismatches}
    checks = [
        ("TALK_JWT_ALG", site_settings.alg, talk_settings.alg),
        ("TALK_JWT_ISSUER", site_settings.issuer, talk_settings.issuer),
        ("TALK_JWT_AUDIENCE", site_settings.audience, talk_settings.audience),
        ("TALK_JWT_USER_ID_CLAIM", site_settings.user_id_claim, talk_settings.user_id_claim),
    ]
    for key, mine, theirs in checks:
        if mine != theirs and key not in invalid:
            mismatches.append(f"{key}: the site uses {_shown(mine)}, Talk uses {_shown(theirs)}")
    if not invalid & set(_KEY_SETTINGS):  # compared even when the algorithms differ too
        mismatches.extend(_compare_keys(site_settings.keys, talk_settings.keys))
    notes = []
    if site_settings.expiry_seconds != talk_settings.expiry_seconds:
        notes.append(
            f"TALK_JWT_EXPIRY: the site's tokens last {site_settings.expiry_seconds:g} s, "
            f"Talk's own {talk_settings.expiry_seconds:g} s (allowed: Talk checks exp, not the lifetime)"
        )
    return mismatches, notes


def _shown(value: Any) -> str:
    return "(disabled)" if value is None else repr(value)


def _compare_keys(site_keys: KeySet, talk_keys: KeySet) -> list[str]:
    """Would Talk pick a key for the site's tokens, and is it the site's signing key?"""
    signer = site_keys.signer
    mine = signer.verify_key.as_dict(private=False)
    if talk_keys.require_kid:
        if not signer.kid:
            return ["TALK_JWT_SECRETS: Talk requires a kid header (it has a key set), but the site signs "
                    "without one: give the site the same TALK_JWT_SECRETS"]
        entry = talk_keys.by_kid.get(signer.kid)
        if entry is None:
            return [f"TALK_JWT_SECRETS: Talk has no key with the site's signing kid {signer.kid!r}"]
        if entry.verify_key.as_dict(private=False) != mine:
            return [f"TALK_JWT_SECRETS: Talk's key {signer.kid!r} differs from the one the site signs with"]
        return []
    if talk_keys.entries[0].verify_key.as_dict(private=False) != mine:
        return [f"{site_keys.setting}: the site signs with a different secret than Talk verifies with"]
    return []


@talk_cli.command("check-env")
@click.argument("env_file", type=click.Path(exists=True, dir_okay=False))
def check_env(env_file: str) -> None:
    """Compare ENV_FILE (Talk's environment) with the site's settings; exit 1 on a mismatch.

    Secrets are compared, never shown. Differences that still work (token lifetime) are
    printed as notes and do not fail.
    """
    from flask import current_app

    site = {key: current_app.config.get(key) for key in DEFAULTS}
    talk_env, file_notes = read_env_file(env_file)
    mismatches, notes = compare_settings(site, talk_env)
    notes = file_notes + notes
    flagged = {line.split(":", 1)[0] for line in mismatches + notes}
    for key in SHARED_WITH_TALK:
        if key not in flagged:
            click.echo(f"ok       {key}")
    for note in notes:
        click.echo(f"note     {note}")
    for mismatch in mismatches:
        click.echo(f"MISMATCH {mismatch}")
    if mismatches:
        click.echo(f"{len(mismatches)} setting(s) disagree or cannot be used on Talk's side "
                   "(see the MISMATCH lines)", err=True)
        sys.exit(1)


@talk_cli.command("probe")
@click.argument("user_id")
@click.option("--talk-url", default=None, help="Talk's root URL (default: TALK_URL).")
@click.option("--timeout", default=10.0, show_default=True, help="Seconds to wait for Talk.")
def probe(user_id: str, talk_url: str | None, timeout: float) -> None:
    """Ask Talk 4 whether it signs USER_ID in with a freshly minted token; explain if not.

    Exit status 0 when Talk answers "signed in", 1 otherwise. The token is never printed.
    """
    from .probe import probe as ask_talk
    from .users import profile_of

    state = get_state()
    talk_url = talk_url or state.settings.talk_url
    if not talk_url:
        raise click.ClickException("TALK_URL is not set (or pass --talk-url)")
    if state.settings.token_format != "talk":
        raise click.ClickException("probe speaks Talk 4's /api/v1/auth; with TALK_TOKEN_FORMAT=coral, "
                                   "open an article signed in and look at Coral's stream instead")
    user = state.users.get(user_id)
    if user is None:
        raise click.ClickException(f"no user with id {user_id!r}")
    profile = profile_of(user)
    for loader in state.profile_loaders:
        profile.update(loader(user) or {})
    try:
        minted = state.codec.mint(profile)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    result = ask_talk(talk_url, minted.token, user_id=profile["id"],
                      lifetime=state.settings.expiry_seconds, timeout=timeout)
    click.echo(("ok       " if result.ok else "FAILED   ") + result.summary)
    for cause in result.causes:
        click.echo(f"  - {cause}")
    if not result.ok:
        sys.exit(1)

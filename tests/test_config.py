"""Settings: Talk's names, meanings and defaults; every misconfiguration stops start-up, naming the key."""
from __future__ import annotations

import json
import logging

import pytest

from flask_talk.config import apply_defaults
from flask_talk.config import load_settings
from flask_talk.durations import parse_duration_ms
from flask_talk.errors import ConfigurationError

from .conftest import SECRET

GOOD = "g" * 64


def settings(**values):
    config = {"TALK_JWT_SECRET": SECRET, **values}
    apply_defaults(config, environ={})
    return load_settings(config)


def test_defaults_are_talks():
    s = settings(TALK_ROOT_URL="https://talk.example.com")
    assert s.alg == "HS256"
    assert s.issuer == "https://talk.example.com"
    assert s.audience == "talk"
    assert s.expiry_seconds == 86400
    assert s.user_id_claim == "sub"
    assert s.token_format == "talk"
    assert s.url_prefix == "/talk"


def test_issuer_setting_wins_over_root_url_and_disable_switches_drop_claims():
    assert settings(TALK_ROOT_URL="https://a", TALK_JWT_ISSUER="https://b").issuer == "https://b"
    s = settings(TALK_ROOT_URL="https://a", TALK_JWT_DISABLE_ISSUER="TRUE", TALK_JWT_DISABLE_AUDIENCE="TRUE")
    assert s.issuer is None and s.audience is None


def test_lowercase_true_is_false_like_in_talk_and_warns(caplog):
    with caplog.at_level(logging.WARNING, logger="flask_talk"):
        s = settings(TALK_JWT_DISABLE_AUDIENCE="true")
    assert s.audience == "talk"
    assert "TALK_JWT_DISABLE_AUDIENCE" in caplog.text


def test_environment_is_read_when_app_config_is_silent():
    config = {}
    apply_defaults(config, environ={"TALK_JWT_SECRET": SECRET, "TALK_JWT_AUDIENCE": "comments"})
    assert load_settings(config).audience == "comments"
    config = {"TALK_JWT_AUDIENCE": "from-config"}
    apply_defaults(config, environ={"TALK_JWT_SECRET": SECRET, "TALK_JWT_AUDIENCE": "from-env"})
    assert load_settings(config).audience == "from-config"


@pytest.mark.parametrize(("text", "ms"), [
    ("1 day", 86400000), ("1d", 86400000), ("6 hours", 21600000), ("6h", 21600000),
    ("2.5 hrs", 9000000), ("90 minutes", 5400000), ("90000", 90000), ("1.5s", 1500),
    ("10 SECONDS", 10000), ("1 week", 604800000), ("1y", 31557600000), (".5h", 1800000),
    ("abc", None), ("", None), ("1 fortnight", None), ("1  day", 86400000), ("1" * 101, None),
])
def test_durations_follow_the_ms_package(text, ms):
    assert parse_duration_ms(text) == ms


def test_bare_number_is_milliseconds_like_talk():
    assert settings(TALK_JWT_EXPIRY="3600000").expiry_seconds == 3600


def test_a_short_bare_number_warns_that_it_is_milliseconds(caplog):
    with caplog.at_level(logging.WARNING, logger="flask_talk"):
        assert settings(TALK_JWT_EXPIRY="3600").expiry_seconds == 3.6
    assert "TALK_JWT_EXPIRY='3600' means 3.6 seconds" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="flask_talk"):
        settings(TALK_JWT_EXPIRY="20s")
    assert "TALK_JWT_EXPIRY" not in caplog.text


@pytest.mark.parametrize("text", [
    "1d\n", "1 hour\n", "\u0661d", "\uff11d", "\u0663\u0660 minutes",  # trailing newline, non-ASCII digits
    "1\u017f", "1 \u017fec", "1 m\u0130n", "1 m\u0131n",  # Python would case-fold these to ASCII
])
def test_durations_are_ascii_and_end_at_the_end_like_javascript(text):
    assert parse_duration_ms(text) is None
    with pytest.raises(ConfigurationError, match="^TALK_JWT_EXPIRY:"):
        settings(TALK_JWT_EXPIRY=text)


DURATION_PROBES = [
    "1", "1.5", "-1d", "1 Day", "1  day", " 1d", "1d ", "100", "1e3", ".5h", "1y", "1w", "1 weeks",
    "abc", "2.5 hrs", "6H", "+1d", "1.", "1d\n", "\u0661d", "1\u017f", "1 m\u0130n", "10 MSECS", "3 yrs",
    "5 mins", "7 secs", "1 millisecond", "2 Years", "1.0.0", "1 d a y", "-.5s", "1" * 100, "1" * 101,
]


@pytest.mark.node
def test_durations_match_talks_own_ms_package():
    """The same strings through ms 2.1.2 (the version Talk pins) in Node and through flask-talk."""
    from .realparts import talk_node

    answers = talk_node([{"op": "ms", "text": text} for text in DURATION_PROBES])
    for text, answer in zip(DURATION_PROBES, answers):
        assert answer["ok"], answer
        assert parse_duration_ms(text) == answer["value"], text


def test_empty_settings_take_talks_defaults_as_talk_does():
    """Talk reads ``process.env.X || default``: ``TALK_JWT_AUDIENCE=`` is 'talk', not ''."""
    s = settings(TALK_JWT_AUDIENCE="", TALK_JWT_EXPIRY="", TALK_JWT_ALG="", TALK_JWT_ISSUER="",
                 TALK_ROOT_URL="https://talk.example.com")
    assert (s.audience, s.expiry_seconds, s.alg, s.issuer) == ("talk", 86400, "HS256", "https://talk.example.com")
    config = {}
    apply_defaults(config, environ={"TALK_JWT_SECRET": SECRET, "TALK_JWT_AUDIENCE": "", "TALK_JWT_USER_ID_CLAIM": ""})
    loaded = load_settings(config)
    assert (loaded.audience, loaded.user_id_claim) == ("talk", "sub")
    with pytest.raises(ConfigurationError, match="^TALK_JWT_SECRET: is not set"):
        settings(TALK_JWT_SECRET="")


def test_no_issuer_at_all_warns(caplog):
    with caplog.at_level(logging.WARNING, logger="flask_talk"):
        assert settings().issuer is None
    assert "neither TALK_JWT_ISSUER nor TALK_ROOT_URL is set" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="flask_talk"):
        settings(TALK_JWT_DISABLE_ISSUER="TRUE")
    assert "TALK_ROOT_URL" not in caplog.text


@pytest.mark.parametrize(("values", "key", "words"), [
    ({"TALK_JWT_SECRET": None}, "TALK_JWT_SECRET", "not set"),
    ({"TALK_JWT_SECRET": "short"}, "TALK_JWT_SECRET", "needs at least 32"),
    ({"TALK_JWT_ALG": "HS512"}, "TALK_JWT_SECRET", "needs at least 64"),
    ({"TALK_JWT_ALG": "none"}, "TALK_JWT_ALG", "not one of"),
    ({"TALK_JWT_ALG": "HS257"}, "TALK_JWT_ALG", "not one of"),
    ({"TALK_JWT_SECRET": "base64:@@@not-base64@@@"}, "TALK_JWT_SECRET", "not valid base64"),
    ({"TALK_JWT_SECRETS": "[not json"}, "TALK_JWT_SECRETS", "not valid JSON"),
    ({"TALK_JWT_SECRETS": "[]"}, "TALK_JWT_SECRETS", "non-empty"),
    ({"TALK_JWT_SECRETS": json.dumps([{"secret": GOOD}])}, "TALK_JWT_SECRETS", "kid"),
    ({"TALK_JWT_SECRETS": json.dumps([{"kid": "", "secret": GOOD}])}, "TALK_JWT_SECRETS", "kid"),
    ({"TALK_JWT_SECRETS": json.dumps([{"kid": "a", "secret": GOOD}, {"kid": "a", "secret": GOOD}])},
     "TALK_JWT_SECRETS", "same 'kid'"),
    ({"TALK_JWT_ALG": "RS256", "TALK_JWT_SECRET": '{"public": "-----BEGIN PUBLIC KEY-----\\nnope"}'},
     "TALK_JWT_SECRET", "PEM"),
    ({"TALK_JWT_ALG": "RS256", "TALK_JWT_SECRET": "not json"}, "TALK_JWT_SECRET", "JSON object"),
    ({"TALK_JWT_EXPIRY": "soon"}, "TALK_JWT_EXPIRY", "duration"),
    ({"TALK_JWT_EXPIRY": "0"}, "TALK_JWT_EXPIRY", "positive duration"),
    ({"TALK_JWT_EXPIRY": "-5m"}, "TALK_JWT_EXPIRY", "positive duration"),
    ({"TALK_TOKEN_FORMAT": "jwt"}, "TALK_TOKEN_FORMAT", "talk, coral"),
    ({"TALK_TOKEN_FORMAT": "coral", "TALK_JWT_ALG": "HS512", "TALK_JWT_SECRET": GOOD},
     "TALK_JWT_ALG", "HS256 only"),
    ({"TALK_JWT_USER_ID_CLAIM": "user..id"}, "TALK_JWT_USER_ID_CLAIM", "dotted"),
    # lodash's get() in Talk reads brackets; flask-talk would write a key named "users[0]".
    ({"TALK_JWT_USER_ID_CLAIM": "users[0].id"}, "TALK_JWT_USER_ID_CLAIM", "brackets"),
    ({"TALK_JWT_EXPIRY": "999"}, "TALK_JWT_EXPIRY", "under a second"),
    ({"TALK_JWT_LEEWAY": "365 days"}, "TALK_JWT_LEEWAY", "more than 300 seconds"),
    ({"TALK_URL": "talk.example.com"}, "TALK_URL", "absolute"),
    ({"TALK_URL_PREFIX": "talk/"}, "TALK_URL_PREFIX", "start with"),
    ({"TALK_LOGIN_MAX_FAILURES": "zero"}, "TALK_LOGIN_MAX_FAILURES", "positive"),
])
def test_misconfiguration_names_the_key(values, key, words):
    with pytest.raises(ConfigurationError) as caught:
        settings(**values)
    assert caught.value.key == key
    assert str(caught.value).startswith(key + ":")
    assert words in str(caught.value)


def test_errors_never_contain_the_secret():
    secret = "s3cr3t-but-too-short"
    with pytest.raises(ConfigurationError) as caught:
        settings(TALK_JWT_SECRET=secret)
    assert secret not in str(caught.value)


def test_base64_secret_is_decoded_like_talk():
    import base64

    raw = "a-text-secret-that-is-long-enough-0123456789"
    s = settings(TALK_JWT_SECRET="base64:" + base64.b64encode(raw.encode()).decode())
    assert s.keys.signer.sign_key.raw_value == raw.encode()


def test_app_refuses_to_start_with_a_bad_setting(make_app):
    with pytest.raises(ConfigurationError, match="^TALK_JWT_SECRETS:"):
        make_app(TALK_JWT_SECRET=None, TALK_JWT_SECRETS=json.dumps([{"kid": "1", "secret": "x"}]))


def test_url_prefix_moves_the_blueprint(make_app):
    app = make_app(TALK_URL_PREFIX="/sso")
    client = app.test_client()
    assert client.get("/sso/login").status_code == 200
    assert client.get("/talk/login").status_code == 404


def test_a_public_key_as_an_hmac_secret_stops_start_up():
    """The key of the HS/RS confusion attack must never become an HMAC secret."""
    from .keypairs import key_pair

    with pytest.raises(ConfigurationError, match="^TALK_JWT_SECRET: the secret looks like a PEM or SSH key"):
        settings(TALK_JWT_SECRET=key_pair("RSA")[1])

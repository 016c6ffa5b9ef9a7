"""``flask talk check-env``: variable by variable, where a Talk env file and the site disagree."""
from __future__ import annotations

import json

import pytest

from .conftest import ROOT_URL
from .conftest import SECRET
from .keypairs import pem_secret
from .keypairs import pem_spec

OTHER_SECRET = "another-secret-entirely-0123456789-abcdefghijklmnop"


@pytest.fixture
def check(make_app, tmp_path):
    """``check(site_settings, talk_env_text) -> click Result``."""

    def run(site: dict, env_text: str):
        path = tmp_path / "talk.env"
        path.write_text(env_text)
        return make_app(DEMO_SEED_READERS=False, **site).test_cli_runner().invoke(args=["talk", "check-env", str(path)])

    return run


def _env(**values: str) -> str:
    base = {"TALK_JWT_SECRET": SECRET, "TALK_ROOT_URL": ROOT_URL}
    base.update(values)
    return "".join(f"{key}={value}\n" for key, value in base.items() if value is not None)


def test_the_same_settings_agree(check):
    result = check({}, "# Talk's .env\n" + _env(TALK_MONGO_URL="mongodb://db/talk"))
    assert result.exit_code == 0, result.output
    assert "MISMATCH" not in result.output and "note" not in result.output
    assert "ok       TALK_JWT_SECRET\n" in result.output
    assert "ok       TALK_JWT_AUDIENCE\n" in result.output


def test_env_file_syntax_quotes_comments_spaces_and_crlf(check):
    text = f"TALK_JWT_SECRET = '{SECRET}'\r\n# a comment\r\n\r\nTALK_ROOT_URL=\"{ROOT_URL}\"\r\n"
    result = check({}, text)
    assert result.exit_code == 0, result.output
    assert "note" not in result.output


def test_spaces_after_a_closing_quote_keep_the_quote_as_dotenv_does(check):
    result = check({}, f"TALK_JWT_SECRET={SECRET}\nTALK_ROOT_URL=\"{ROOT_URL}\"  \n")
    assert result.exit_code == 1
    assert f"Talk uses '{ROOT_URL}\"'" in result.output


ENV_FILE_PROBES = [
    "A=1\nB = two \n  C=  'three'  \nD=\"four\"\nE=\"l1\\nl2\"\nF='l1\\nl2'\n",
    "export G=1\n#H=2\nI\nJ=\nK=\"\"\nL='\nM=\"unbalanced'\nN=a=b=c\nO.P-Q=dots\n",
    "R=\"x\"  \r\nS=y\r\nT=\u00e9t\u00e9\nU=\"\\\\n\"\nV=#not-a-comment\nW=a # b\n",
    "X=\"{\\\"k\\\": \\\"a\\\\nb\\\"}\"\n\u00c4=umlaut-key\n  Y  =  z  \nZ=\u2028x\n",
    "\ufeffBOM=first-line\nSEP=\x1cx\x1c\nNBSP=\u00a0y\u00a0\nIDEO=\u3000z\u3000\n",
]


@pytest.mark.node
@pytest.mark.parametrize("text", ENV_FILE_PROBES)
def test_env_files_read_like_talks_own_dotenv(tmp_path, text):
    """The same file through dotenv 4.0.0 (Talk 4's .env reader) in Node and through check-env."""
    from flask_talk.cli import read_env_file

    from .realparts import talk_node

    path = tmp_path / "talk.env"
    path.write_text(text, encoding="utf-8", newline="")
    answer = talk_node([{"op": "dotenv", "text": text}])[0]
    assert answer["ok"], answer
    assert read_env_file(str(path))[0] == answer["value"]


def test_export_lines_are_ignored_as_talks_dotenv_ignores_them(check):
    """Talk 4 loads .env with dotenv 4, which skips `export KEY=...` lines."""
    result = check({}, f"export TALK_JWT_SECRET='{SECRET}'\nTALK_ROOT_URL={ROOT_URL}\n")
    assert result.exit_code == 1
    assert "note     TALK_JWT_SECRET: line 1 starts with 'export'" in result.output
    assert "MISMATCH TALK_JWT_SECRET: the value in Talk's file cannot be used: is not set" in result.output
    assert "ok       TALK_JWT_SECRET\n" not in result.output


def test_lines_talk_ignores_are_named(check):
    result = check({}, _env() + "TALK_JWT_AUDIENCE talk\n")
    assert result.exit_code == 0
    assert "note     line 3: not KEY=value, ignored" in result.output


def test_double_quotes_turn_backslash_n_into_newlines_as_dotenv_does(check):
    """A PEM JSON in double quotes gets real newlines inside its JSON strings: Talk's
    JSON.parse then fails, so the file is wrong for Talk even though it looks right."""
    site = {"TALK_JWT_ALG": "ES256", "TALK_JWT_SECRET": pem_secret("ES256")}
    talk_value = json.dumps(pem_spec("ES256", private=False))
    single = check(site, _env(TALK_JWT_ALG="ES256", TALK_JWT_SECRET=f"'{talk_value}'"))
    assert single.exit_code == 0, single.output
    double = check(site, _env(TALK_JWT_ALG="ES256", TALK_JWT_SECRET=f'"{talk_value}"'))
    assert double.exit_code == 1
    assert "MISMATCH TALK_JWT_SECRET: the value in Talk's file cannot be used" in double.output


def test_an_invalid_value_does_not_hide_the_other_differences(check):
    """One bad value in Talk's file is named, and every other variable is still compared."""
    result = check({}, _env(TALK_JWT_SECRET="short", TALK_ROOT_URL="http://other.example/",
                            TALK_JWT_AUDIENCE="coral", TALK_JWT_ALG="HS512", TALK_JWT_EXPIRY="forever"))
    assert result.exit_code == 1
    for key in ("TALK_JWT_SECRET", "TALK_JWT_ALG", "TALK_JWT_ISSUER", "TALK_JWT_AUDIENCE", "TALK_JWT_EXPIRY"):
        assert f"MISMATCH {key}:" in result.output, (key, result.output)
        assert f"ok       {key}\n" not in result.output
    assert "ok       TALK_JWT_USER_ID_CLAIM\n" in result.output


@pytest.mark.parametrize(("talk_values", "site", "key"), [
    ({"TALK_JWT_SECRET": OTHER_SECRET}, {}, "TALK_JWT_SECRET"),
    ({"TALK_ROOT_URL": ROOT_URL.rstrip("/")}, {}, "TALK_JWT_ISSUER"),  # taken as written
    ({"TALK_JWT_ISSUER": "https://elsewhere.example/"}, {}, "TALK_JWT_ISSUER"),
    ({"TALK_JWT_AUDIENCE": "Talk"}, {}, "TALK_JWT_AUDIENCE"),
    ({"TALK_JWT_DISABLE_AUDIENCE": "TRUE"}, {}, "TALK_JWT_AUDIENCE"),
    ({"TALK_JWT_ALG": "HS384"}, {}, "TALK_JWT_ALG"),
    ({"TALK_JWT_USER_ID_CLAIM": "user.id"}, {}, "TALK_JWT_USER_ID_CLAIM"),
    ({}, {"TALK_JWT_DISABLE_ISSUER": "TRUE"}, "TALK_JWT_ISSUER"),
])
def test_each_disagreement_is_named_and_fails(check, talk_values, site, key):
    result = check(site, _env(**talk_values))
    assert result.exit_code == 1
    assert f"MISMATCH {key}:" in result.output
    assert f"ok       {key}\n" not in result.output
    assert SECRET not in result.output and OTHER_SECRET not in result.output


def test_a_different_expiry_is_a_note_not_a_failure(check):
    result = check({"TALK_JWT_EXPIRY": "6 hours"}, _env(TALK_JWT_EXPIRY="1 day"))
    assert result.exit_code == 0, result.output
    assert "note     TALK_JWT_EXPIRY: the site's tokens last 21600 s, Talk's own 86400 s" in result.output
    assert "MISMATCH" not in result.output


def test_same_expiry_in_other_words_agrees(check):
    result = check({"TALK_JWT_EXPIRY": "1d"}, _env(TALK_JWT_EXPIRY="86400000"))
    assert result.exit_code == 0 and "note" not in result.output


def test_base64_secret_on_one_side_and_text_on_the_other_agree(check):
    import base64

    result = check({}, _env(TALK_JWT_SECRET="base64:" + base64.b64encode(SECRET.encode()).decode()))
    assert result.exit_code == 0, result.output


def test_talk_key_set_requires_the_sites_kid(check):
    talk_set = json.dumps([{"kid": "new", "secret": OTHER_SECRET}, {"kid": "old", "secret": SECRET}])
    result = check({}, _env(TALK_JWT_SECRET=None, TALK_JWT_SECRETS=talk_set))
    assert result.exit_code == 1
    assert "MISMATCH TALK_JWT_SECRETS: Talk requires a kid header" in result.output
    # The site signs with "old", which Talk still holds: Talk picks keys by kid.
    site_set = json.dumps([{"kid": "old", "secret": SECRET}])
    assert check({"TALK_JWT_SECRET": None, "TALK_JWT_SECRETS": site_set},
                 _env(TALK_JWT_SECRET=None, TALK_JWT_SECRETS=talk_set)).exit_code == 0
    other = json.dumps([{"kid": "old", "secret": OTHER_SECRET}])
    result = check({"TALK_JWT_SECRET": None, "TALK_JWT_SECRETS": site_set},
                   _env(TALK_JWT_SECRET=None, TALK_JWT_SECRETS=other))
    assert "MISMATCH TALK_JWT_SECRETS: Talk's key 'old' differs" in result.output


def test_asymmetric_talk_holding_only_the_public_key_agrees(check):
    site = {"TALK_JWT_ALG": "ES256", "TALK_JWT_SECRET": pem_secret("ES256")}
    talk_only_public = json.dumps(pem_spec("ES256", private=False))
    assert check(site, _env(TALK_JWT_ALG="ES256", TALK_JWT_SECRET=talk_only_public)).exit_code == 0
    other_key = json.dumps(pem_spec("ES256", 1, private=False))
    result = check(site, _env(TALK_JWT_ALG="ES256", TALK_JWT_SECRET=other_key))
    assert "MISMATCH TALK_JWT_SECRET: the site signs with a different secret" in result.output


def test_an_invalid_talk_env_names_the_variable(check):
    result = check({}, "TALK_ROOT_URL=https://talk.example.test/\n")
    assert result.exit_code == 1
    assert "MISMATCH TALK_JWT_SECRET: the value in Talk's file cannot be used" in result.output
    result = check({}, _env(TALK_JWT_EXPIRY="forever"))
    assert "MISMATCH TALK_JWT_EXPIRY:" in result.output


def test_a_coral_site_has_nothing_to_compare(check):
    result = check({"TALK_TOKEN_FORMAT": "coral", "TALK_JWT_SECRET": "ssosec_" + "a" * 64}, _env())
    assert result.exit_code == 0
    assert "note     TALK_TOKEN_FORMAT: the site signs Coral 5+ SSO tokens" in result.output


def test_a_different_algorithm_is_named_without_calling_the_same_secret_invalid(check):
    """The site's 48-byte secret is too short for HS512: the difference is the algorithm."""
    result = check({}, _env(TALK_JWT_ALG="HS512"))
    assert result.exit_code == 1
    assert "MISMATCH TALK_JWT_ALG: the site uses 'HS256', Talk uses 'HS512'" in result.output
    assert "MISMATCH TALK_JWT_SECRET" not in result.output
    assert "ok       TALK_JWT_SECRET\n" in result.output


def test_a_different_secret_is_named_even_when_the_algorithm_differs_too(check):
    other_hs512 = "x" * 64
    result = check({}, _env(TALK_JWT_ALG="HS512", TALK_JWT_SECRET=other_hs512))
    assert result.exit_code == 1
    assert "MISMATCH TALK_JWT_ALG:" in result.output
    assert "MISMATCH TALK_JWT_SECRET: the site signs with a different secret" in result.output


def test_a_secret_unusable_with_talks_own_algorithm_keeps_talks_reason(check):
    """The reason given is the one for Talk's algorithm, not for the site's."""
    bare_pem = json.loads(pem_secret("RS256"))["public"]  # a PEM where RS256 wants the JSON object
    result = check({}, _env(TALK_JWT_ALG="RS256", TALK_JWT_SECRET=bare_pem))
    assert result.exit_code == 1
    assert "MISMATCH TALK_JWT_ALG: the site uses 'HS256', Talk uses 'RS256'" in result.output
    assert "MISMATCH TALK_JWT_SECRET: the value in Talk's file cannot be used: RS256 needs a JSON object" in result.output
    short = check({}, _env(TALK_JWT_ALG="HS512", TALK_JWT_SECRET="short"))
    assert "HS512 needs at least 64" in short.output and "HS256 needs" not in short.output

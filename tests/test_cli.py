"""``flask talk ...`` commands against the demo app."""
from __future__ import annotations

import json


def test_create_user_issue_and_verify_token(runner):
    result = runner.invoke(args=["talk", "create-user", "dave", "--email", "Dave@Example.org",
                                 "--password", "dave-password-1"])
    assert result.exit_code == 0, result.output
    assert "created user dave" in result.output
    issued = runner.invoke(args=["talk", "issue-token", "dave"])
    assert issued.exit_code == 0
    token = issued.output.strip()
    verified = runner.invoke(args=["talk", "verify-token", token])
    assert verified.exit_code == 0
    claims = json.loads(verified.stdout)
    assert claims["sub"] == "dave" and claims["email"] == "dave@example.org"


def test_verify_token_reads_the_token_from_stdin(runner):
    token = runner.invoke(args=["talk", "issue-token", "reader-alice"]).output.strip()
    verified = runner.invoke(args=["talk", "verify-token", "-"], input=token + "\n")
    assert verified.exit_code == 0, verified.output
    assert json.loads(verified.stdout)["sub"] == "reader-alice"


def test_verify_token_says_why_it_fails(runner):
    issued = runner.invoke(args=["talk", "issue-token", "reader-alice"]).output.strip()
    tampered = issued[:-4] + ("AAAA" if not issued.endswith("AAAA") else "BBBB")
    result = runner.invoke(args=["talk", "verify-token", tampered])
    assert result.exit_code == 1
    assert "bad_signature" in result.stderr
    result = runner.invoke(args=["talk", "verify-token", "not-a-token"])
    assert result.exit_code == 1 and "malformed" in result.stderr


def test_revoked_token_is_reported(runner):
    token = runner.invoke(args=["talk", "issue-token", "reader-bob"]).output.strip()
    jti = json.loads(runner.invoke(args=["talk", "verify-token", token]).stdout)["jti"]
    assert runner.invoke(args=["talk", "revoke", jti]).exit_code == 0
    result = runner.invoke(args=["talk", "verify-token", token])
    assert result.exit_code == 1 and "REVOKED" in result.stderr


def test_create_user_refuses_duplicates_and_short_passwords(runner):
    dup = runner.invoke(args=["talk", "create-user", "alice", "--email", "a@b.org", "--password", "longenough1"])
    assert dup.exit_code == 1 and "exists" in dup.output
    short = runner.invoke(args=["talk", "create-user", "eve", "--email", "e@b.org", "--password", "short"])
    assert short.exit_code == 1 and "8 characters" in short.output


def test_issue_token_for_unknown_user(runner):
    result = runner.invoke(args=["talk", "issue-token", "nobody"])
    assert result.exit_code == 1 and "no user" in result.output


def test_gen_secret_gives_usable_values(runner, make_app):
    hs = runner.invoke(args=["talk", "gen-secret", "--alg", "HS512"]).stdout.strip()
    assert len(hs.encode()) >= 64 and hs.isascii() and "\n" not in hs
    assert hs != runner.invoke(args=["talk", "gen-secret", "--alg", "HS512"]).stdout.strip()
    make_app(TALK_JWT_ALG="HS512", TALK_JWT_SECRET=hs)
    rs = runner.invoke(args=["talk", "gen-secret", "--alg", "RS256", "--kid", "k1"]).stdout.strip()
    value = json.loads(rs)
    assert value["kid"] == "k1" and "PRIVATE KEY" in value["private"]
    make_app(TALK_JWT_ALG="RS256", TALK_JWT_SECRET=rs)


def test_gen_secret_runs_without_an_app(tmp_path):
    """The very first secret: `flask talk` cannot start an app that has none yet."""
    import subprocess
    import sys

    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}  # no FLASK_APP, no TALK_* settings
    done = subprocess.run([sys.executable, "-m", "flask_talk", "gen-secret", "--alg", "HS384"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    secret = done.stdout.strip()
    assert len(secret.encode()) >= 48 and "\n" not in secret

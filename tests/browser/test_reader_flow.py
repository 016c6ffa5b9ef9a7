"""The demo's single-sign-on loop in headless Chromium: what a QA person clicks and sees.

Every step is screenshotted into test-artifacts/browser/<test>/; the assertions read the
page's text (never pixels, never durations).
"""
from __future__ import annotations

import json
import os
import re

import pytest
from playwright.sync_api import expect

from ..realparts import ROOT
from ..test_coral import CORAL_SETTINGS
from .conftest import ARTICLE
from .conftest import WAIT_MS
from .conftest import open_article
from .conftest import page_token
from .conftest import sign_in

pytestmark = pytest.mark.browser


def claims_on(page):
    return json.loads(page.get_by_test_id("qa-claims").text_content())


#: Whether the Coral embed object has drawn its stream, read after two frames so that an
#: IntersectionObserver has had its first say.
CORAL_RENDERED = """() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(
  () => done(window.FlaskTalk.embeds[0].embed.rendered))))"""
#: How far below the bottom of the viewport the embed starts, in CSS pixels.
EMBED_BELOW_FOLD = "() => document.querySelector('[data-talk-embed]').getBoundingClientRect().top - innerHeight"


def test_sign_in_see_claims_then_sign_out_and_the_stream_turns_anonymous(live_demo, open_reader, shots):
    demo = live_demo()
    page = open_reader().page
    sign_in(page, demo, "alice")
    expect(page.get_by_test_id("site-user")).to_contain_text("alice")
    shots.take(page, "signed-in")

    open_article(page)
    expect(page.get_by_test_id("standin-status")).to_have_text("Commenting as alice")
    expect(page.get_by_test_id("qa-stream")).to_have_text("signed in as alice")
    expect(page.get_by_test_id("qa-needs-token-note")).to_be_hidden()
    expect(page.get_by_test_id("qa-verify-summary")).to_contain_text("new user looked up via /talk/user")
    expect(page.get_by_test_id("qa-lookup-summary")).to_contain_text("HTTP 200: user alice (reader-alice)")
    expect(page.get_by_test_id("qa-countdown")).to_have_text(re.compile(r"^\d+ h \d+ min$"))
    shots.take(page, "article-signed-in", full_page=True)

    token = page_token(page)
    claims = claims_on(page)
    assert claims["sub"] == "reader-alice" and claims["username"] == "alice"
    assert claims["aud"] == "talk" and claims["iss"] == "https://talk.example.test/"
    assert isinstance(claims["exp"], int) and isinstance(claims["iat"], int) and claims["jti"]
    assert json.loads(page.get_by_test_id("qa-header").text_content()) == {"typ": "JWT", "alg": "HS256"}
    assert page.get_by_test_id("qa-jti").text_content() == claims["jti"]
    signature = token.split(".")[2]
    assert signature not in page.locator("#qa-panel").text_content(), "the panel showed the signature"

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("link", name="Sign in")).to_be_visible()
    expect(page.get_by_role("status").filter(has_text="You are signed out.")).to_be_visible()
    expect(page.get_by_test_id("standin-status")).to_contain_text("You are not signed in")
    expect(page.get_by_label("Your comment")).to_be_hidden()
    expect(page.get_by_test_id("qa-stream")).to_have_text("anonymous")
    expect(page.get_by_test_id("qa-reader")).to_have_text("nobody is signed in")
    expect(page.get_by_test_id("qa-claims")).to_have_text("none")
    expect(page.get_by_role("button", name="Send a tampered token")).to_be_disabled()
    expect(page.get_by_test_id("qa-needs-token-note")).to_be_visible()
    assert page.url == demo.at(ARTICLE)
    shots.take(page, "signed-out", full_page=True)

    # Sign-out revoked the token the page had: Talk's lookup now refuses it.
    lookup = page.request.get(demo.at("/talk/user"), headers={"Authorization": f"Bearer {token}"})
    assert lookup.status == 401
    assert "revoked" in lookup.json()["error_description"]


def test_token_is_renewed_without_a_reload(live_demo, open_reader, shots):
    demo = live_demo(TALK_JWT_EXPIRY="20s", TALK_RENEW_BEFORE="15s")
    page = open_reader().page
    sign_in(page, demo, "alice")
    open_article(page)
    expect(page.get_by_test_id("standin-status")).to_have_text("Commenting as alice")
    first = claims_on(page)["jti"]
    page.evaluate("() => { window.notReloaded = true; }")
    shots.take(page, "first-token", full_page=True)

    page.wait_for_function(
        "first => document.querySelector('[data-testid=qa-jti]').textContent !== first",
        arg=first, timeout=WAIT_MS)
    second = page.get_by_test_id("qa-jti").text_content()
    assert second != first and claims_on(page)["jti"] == second
    assert page.evaluate("() => window.notReloaded === true"), "the page was reloaded"
    assert int(page.get_by_test_id("qa-renewals").text_content()) >= 1
    # Talk was handed the new token and accepted it.
    expect(page.get_by_test_id("qa-auth")).to_contain_text(second)
    expect(page.get_by_test_id("standin-status")).to_have_text("Commenting as alice")
    expect(page.get_by_test_id("qa-log")).to_contain_text("token renewed without a reload")
    shots.take(page, "renewed", full_page=True)


def test_tampered_token_shows_the_reason(live_demo, open_reader, shots):
    demo = live_demo()
    page = open_reader().page
    sign_in(page, demo, "bob")
    open_article(page)
    expect(page.get_by_test_id("standin-status")).to_have_text("Commenting as bob")
    expect(page.get_by_test_id("standin-alert")).to_have_text("")

    page.get_by_role("button", name="Send a tampered token").click()
    alert = page.get_by_test_id("standin-alert")
    expect(alert).to_have_text("Talk refused the sign-in: the signature does not verify")
    expect(alert).to_have_attribute("role", "alert")
    expect(page.get_by_test_id("qa-verify-summary")).to_have_text(
        "HTTP 204: anonymous: the signature does not verify")
    expect(page.get_by_test_id("qa-auth")).to_contain_text('"code": "bad_signature"')
    # The earlier token's lookup result is not left standing as if it were this token's.
    expect(page.get_by_test_id("qa-lookup-summary")).to_have_text(
        "not called for this token (Talk stopped before it)")
    expect(page.get_by_label("Your comment")).to_be_hidden()
    shots.take(page, "tampered", full_page=True)

    # A fresh token from the site signs the stream in again.
    page.get_by_role("button", name="Renew the token now").click()
    expect(page.get_by_test_id("standin-status")).to_have_text("Commenting as bob")
    expect(page.get_by_test_id("standin-alert")).to_have_text("")
    shots.take(page, "renewed-after-tamper", full_page=True)


def test_revoked_token_is_refused_by_talk_user(live_demo, open_reader, shots):
    demo = live_demo()
    page = open_reader().page
    sign_in(page, demo, "carol")
    open_article(page)
    expect(page.get_by_test_id("standin-status")).to_have_text("Commenting as carol")
    jti = claims_on(page)["jti"]

    page.get_by_role("button", name="Call /talk/user").click()
    expect(page.get_by_test_id("qa-lookup-summary")).to_have_text(
        "HTTP 200: user carol (reader-carol) (called from this panel)")
    shots.take(page, "lookup-before", full_page=True)

    page.get_by_role("button", name="Revoke the token").click()
    expect(page.get_by_test_id("qa-lookup-summary")).to_contain_text("HTTP 401: the token has been revoked")
    expect(page.get_by_test_id("qa-lookup")).to_contain_text('"error": "invalid_token"')
    expect(page.get_by_test_id("qa-log")).to_contain_text(f"revoked jti {jti}")
    shots.take(page, "revoked", full_page=True)


def test_a_second_reader_in_another_browser_context(live_demo, open_reader, shots):
    demo = live_demo()
    alice = open_reader().page
    bob = open_reader().page
    sign_in(alice, demo, "alice")
    open_article(alice)
    expect(alice.get_by_test_id("standin-status")).to_have_text("Commenting as alice")
    alice.get_by_label("Your comment").fill("Glad the market is back.")
    alice.get_by_role("button", name="Post comment").click()
    comments = alice.get_by_role("list", name="Comments so far")
    expect(comments).to_contain_text("alice: Glad the market is back.")
    shots.take(alice, "alice-commented", full_page=True)

    bob.goto(demo.at(ARTICLE))
    expect(bob.get_by_test_id("standin-status")).to_contain_text("You are not signed in")
    expect(bob.get_by_test_id("qa-reader")).to_have_text("nobody is signed in")
    shots.take(bob, "bob-anonymous", full_page=True)
    sign_in(bob, demo, "bob")
    open_article(bob)
    expect(bob.get_by_test_id("standin-status")).to_have_text("Commenting as bob")
    expect(bob.get_by_role("list", name="Comments so far")).to_contain_text("alice: Glad the market is back.")
    assert claims_on(bob)["sub"] == "reader-bob"
    shots.take(bob, "bob-signed-in", full_page=True)
    if os.environ.get("UPDATE_DOCS_SCREENSHOT"):  # the README's picture: docs/demo.png
        bob.screenshot(path=str(ROOT / "docs" / "demo.png"), full_page=True)

    # Alice's window is unaffected by bob's sign-in.
    alice.reload()
    expect(alice.get_by_test_id("standin-status")).to_have_text("Commenting as alice")
    assert claims_on(alice)["sub"] == "reader-alice"
    shots.take(alice, "alice-still-alice", full_page=True)


def test_coral_format_stream_renders_once_scrolled_to_and_signs_the_reader_in(live_demo, open_reader, shots):
    """TALK_TOKEN_FORMAT=coral. The stand-in's createStreamEmbed draws nothing by itself, as
    Coral's does; the loader's autoRender draws it once it nears the viewport, with the
    newest token even when the token was renewed before that."""
    demo = live_demo(**CORAL_SETTINGS)
    page = open_reader(viewport={"width": 1280, "height": 160}).page  # short: the stream starts out of view
    sign_in(page, demo, "alice")
    open_article(page)
    expect(page.get_by_test_id("qa-jti")).not_to_have_text("no token")
    assert page.evaluate(EMBED_BELOW_FOLD) > 100, "the embed is in view at load: this test sees no lazy render"
    assert page.evaluate(CORAL_RENDERED) is False
    expect(page.get_by_test_id("standin-status")).to_have_count(0)
    expect(page.get_by_test_id("qa-stream")).to_have_text("loading…")
    first = claims_on(page)["jti"]
    page.evaluate("() => window.FlaskTalk.renew(0)")  # embed.login() before the stream is drawn
    expect(page.get_by_test_id("qa-jti")).not_to_have_text(first)
    second = page.get_by_test_id("qa-jti").text_content()
    shots.take(page, "not-drawn-yet", full_page=True)

    page.locator("[data-talk-embed]").scroll_into_view_if_needed()
    expect(page.get_by_test_id("standin-status")).to_have_text("Commenting as alice")
    expect(page.get_by_test_id("qa-auth")).to_contain_text(second)
    assert page.evaluate(CORAL_RENDERED) is True
    claims = claims_on(page)
    assert set(claims) == {"jti", "iat", "exp", "user"}
    assert claims["user"]["username"] == "alice" and claims["user"]["id"] == "reader-alice"
    page.set_viewport_size({"width": 1280, "height": 900})
    shots.take(page, "commenting-as-alice", full_page=True)

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("link", name="Sign in")).to_be_visible()
    expect(page.get_by_test_id("standin-status")).to_contain_text("You are not signed in")
    expect(page.get_by_test_id("qa-stream")).to_have_text("anonymous")
    shots.take(page, "signed-out", full_page=True)

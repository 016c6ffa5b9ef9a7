"""The demo's pages in headless Chromium: phone width, labels and announced errors, settings."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from ..conftest import SECRET
from .conftest import ARTICLE
from .conftest import sign_in

pytestmark = pytest.mark.browser

PHONE = {"width": 375, "height": 812}

#: Visible form controls without a label, and buttons without a name (none allowed).
UNLABELLED = """() => {
  const named = el => el.labels.length > 0 || el.getAttribute('aria-label') || el.getAttribute('aria-labelledby');
  const controls = [...document.querySelectorAll('input, select, textarea')]
    .filter(el => el.type !== 'hidden' && !el.closest('[hidden]') && !named(el));
  const buttons = [...document.querySelectorAll('button')]
    .filter(el => !el.textContent.trim() && !el.getAttribute('aria-label'));
  return [...controls, ...buttons].map(el => el.outerHTML);
}"""

HORIZONTAL_OVERFLOW = """() => {
  const root = document.documentElement;
  return root.scrollWidth > root.clientWidth ? root.scrollWidth - root.clientWidth : 0;
}"""


def test_phone_width_has_no_horizontal_scroll(live_demo, open_reader, shots):
    demo = live_demo()
    page = open_reader(viewport=PHONE, is_mobile=True, has_touch=True).page
    for path, step in (("/", "front"), ("/talk/login", "login"), ("/settings", "settings-anonymous")):
        page.goto(demo.at(path))
        shots.take(page, step, full_page=True)
        assert page.evaluate(HORIZONTAL_OVERFLOW) == 0, f"{path} scrolls sideways at 375 px"
    sign_in(page, demo, "alice")
    page.goto(demo.at(ARTICLE))
    expect(page.get_by_test_id("standin-status")).to_have_text("Commenting as alice")
    expect(page.get_by_test_id("qa-lookup-summary")).to_contain_text("HTTP 200")
    page.locator("#qa-panel details").evaluate_all("els => els.forEach(d => { d.open = true; })")
    shots.take(page, "article-signed-in", full_page=True)
    assert page.evaluate(HORIZONTAL_OVERFLOW) == 0, "the article scrolls sideways at 375 px"
    page.get_by_role("button", name="Send a tampered token").click()
    expect(page.get_by_test_id("standin-alert")).to_contain_text("signature does not verify")
    shots.take(page, "article-tampered", full_page=True)
    assert page.evaluate(HORIZONTAL_OVERFLOW) == 0, "the refusal makes the page scroll sideways"
    page.goto(demo.at("/settings"))
    shots.take(page, "settings-signed-in", full_page=True)
    assert page.evaluate(HORIZONTAL_OVERFLOW) == 0, "settings scroll sideways at 375 px"


def test_form_controls_are_labelled_and_errors_are_announced(live_demo, open_reader, shots):
    demo = live_demo()
    page = open_reader().page
    page.goto(demo.at("/talk/login"))
    assert page.evaluate(UNLABELLED) == []
    expect(page.get_by_label("Username")).to_be_focused()

    sign_in(page, demo, "alice", password="not-her-password")
    alert = page.get_by_role("alert")
    expect(alert).to_have_text("Unknown username or wrong password.")
    expect(page.get_by_label("Username")).to_be_focused()
    shots.take(page, "wrong-password")

    sign_in(page, demo, "alice")
    page.goto(demo.at(ARTICLE))
    expect(page.get_by_label("Your comment")).to_be_visible()
    for path in ("/", ARTICLE, "/settings"):
        page.goto(demo.at(path))
        page.wait_for_load_state("networkidle")
        assert page.evaluate(UNLABELLED) == [], path
        assert page.get_attribute("html", "lang") == "en"
        expect(page.get_by_role("heading", level=1)).to_have_count(1)
    page.goto(demo.at(ARTICLE))
    expect(page.get_by_role("log")).to_be_attached()
    page.get_by_role("button", name="Send a tampered token").click()
    expect(page.get_by_role("alert").filter(has_text="Talk refused the sign-in")).to_contain_text(
        "the signature does not verify")
    shots.take(page, "refusal-announced", full_page=True)


def test_settings_page_masks_secrets_and_says_which_talk_variables_are_set(live_demo, open_reader, shots):
    demo = live_demo(TALK_JWT_AUDIENCE="comments", TALK_JWT_EXPIRY="2 hours")
    page = open_reader().page
    page.goto(demo.at("/"))
    page.get_by_role("link", name="Settings").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Effective settings")
    shots.take(page, "settings", full_page=True)
    assert SECRET not in page.content()

    table = page.get_by_test_id("talk-variables")
    row = lambda key: table.locator(f'tr[data-key="{key}"]')  # noqa: E731
    expect(row("TALK_JWT_SECRET")).to_contain_text(f"(set, {len(SECRET)} characters, hidden)")
    expect(row("TALK_JWT_SECRET").locator("td").last).to_contain_text("set (site configuration)")
    expect(row("TALK_JWT_AUDIENCE")).to_contain_text("comments")
    expect(row("TALK_JWT_AUDIENCE").locator("td").last).to_have_text("set (site configuration)")
    # A different lifetime still works with Talk (check-env calls it a note): not listed here.
    expect(row("TALK_JWT_EXPIRY")).to_have_count(0)
    expect(row("TALK_JWT_ALG").locator("td").last).to_have_text("Talk's default")
    expect(row("TALK_JWT_SECRETS").locator("td").last).to_have_text("not set")
    # No TALK_JWT_ISSUER: TALK_ROOT_URL is the issuer on both sides, so it must match too.
    expect(row("TALK_ROOT_URL")).to_contain_text("https://talk.example.test/")
    expect(page.get_by_text("both sides use TALK_ROOT_URL as the issuer")).to_be_visible()

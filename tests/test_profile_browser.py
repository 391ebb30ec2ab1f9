"""/staff/profile in real Chromium at 375 and 1280 px: a staff member saves their ways
(a bad phone first: the message at the field), sends a test page, and after the notifier's
tick sees what each way answered; axe finds nothing, nothing scrolls sideways, every
control is reached by Tab with a visible focus."""

from __future__ import annotations

import pytest

from tests.browser import (  # noqa: F401  (fixtures)
    assert_accessible,
    assert_keyboard_reachable_with_visible_focus,
    browser,
    horizontal_overflow,
    live_url,
    needs_browser,
    new_page,
    sign_in,
)
from tests.ntfy_receiver import ntfy  # noqa: F401  (fixture)
from tests.smtp import MAIL_CONFIG, smtp, tick  # noqa: F401  (fixtures)
from tests.webhook_receiver import receiver  # noqa: F401  (fixture)

pytestmark = [pytest.mark.browser, needs_browser]

TOPIC = "browser-s3cret-topic"


@pytest.fixture
def app(make_app, smtp, receiver):  # noqa: F811
    app = make_app(MAIL_PORT=smtp.port, **MAIL_CONFIG,
                   SMS_URL=f"json://127.0.0.1:{receiver.port}/sms",
                   PAGE_ALLOW_PRIVATE_HOSTS=True, PAGE_TIMEOUT_SECONDS=2)
    with app.app_context():
        yield app


@pytest.mark.parametrize("width", [375, 1280])
def test_a_staff_member_saves_their_ways_and_sees_what_a_test_page_got(
        app, make_staff, new_page, ntfy, width):  # noqa: F811
    me = make_staff("responder", email="me@example.test")
    page = new_page(viewport={"width": width, "height": 900})
    sign_in(page, me.email)
    page.get_by_role("link", name="Profile").click()
    page.wait_for_url("**/staff/profile")
    assert_accessible(page, f"/staff/profile (empty, {width} px)")

    page.get_by_label("Phone number").fill("415 555 2671")
    page.get_by_label("Add page URLs").fill(ntfy.url(TOPIC))
    page.get_by_role("button", name="Save how I am paged").click()
    assert page.locator("#phone[aria-invalid=true]").count() == 1
    assert "E.164" in page.locator("#phone-error").inner_text()
    assert_accessible(page, f"/staff/profile with an error ({width} px)")

    page.get_by_label("Phone number").fill("+14155552671")
    page.get_by_label("Add page URLs").fill(ntfy.url(TOPIC))
    page.get_by_role("button", name="Save how I am paged").click()
    page.get_by_text("Your ways of being paged were saved.").wait_for()
    assert page.locator(".saved-phone").inner_text() == "+1 *** *** 2671"
    assert TOPIC not in page.content() and "4155552671" not in page.content()

    page.get_by_role("button", name="Send me a test page").click()
    page.get_by_text("Test page queued").wait_for()
    assert page.url.endswith("/staff/profile#test-page")  # where the answers show
    tick()
    page.goto("/staff/profile")  # (Tab starts from the top, not from the anchor)
    states = page.locator("table.test-ways .way-status").all_inner_texts()
    assert [s.strip() for s in states] == ["sent", "sent", "sent"]
    assert [m.topic for m in ntfy.received()] == [TOPIC]
    assert horizontal_overflow(page) == 0
    assert_accessible(page, f"/staff/profile with a test page ({width} px)")
    assert_keyboard_reachable_with_visible_focus(page, f"/staff/profile ({width} px)")

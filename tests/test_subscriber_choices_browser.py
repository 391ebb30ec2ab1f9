"""The subscribe form's and the preferences page's choices in real Chromium (issue 13):
the feature checkboxes are reached and ticked with the keyboard and named for screen
readers, the time zone starts at the browser's own, axe finds nothing with and without
errors, and nothing scrolls sideways on a phone."""

from __future__ import annotations

import pytest

from statuspage import subscriptions, tokens
from statuspage.extensions import db
from tests.browser import (  # noqa: F401  (fixtures)
    assert_accessible,
    browser,
    horizontal_overflow,
    live_url,
    needs_browser,
    new_page,
)

pytestmark = [pytest.mark.browser, needs_browser]


def _choices(email):
    db.session.rollback()  # see what the server's requests committed
    sub = subscriptions.find_by_email(email)
    return sub.scope, sorted(c.name for c in sub.components), sub.timezone


def test_subscribe_with_the_keyboard_only_to_login_in_the_browsers_zone(
        app, new_page, components):
    page = new_page(timezone_id="Asia/Tokyo")
    page.goto("/subscribe")
    # The browser's zone was preselected by static/js/subscriber-choices.js.
    assert page.get_by_label("Time zone of the times in your emails").input_value() == \
        "Asia/Tokyo"
    # Nothing refused by the CSP, no script error (the favicon's 404 aside).
    assert [m for m in page.console_messages if "404" not in m] == []
    page.get_by_label("Email address").fill("pat@example.test")
    page.get_by_role("radio", name="Participant").check()
    # Tab from the last audience control to the "Login" checkbox; Space ticks it.
    login = page.get_by_role("checkbox", name="Login")
    assert page.get_by_role("group", name="Features I use (for \"Only the features I use\")") \
        .get_by_role("checkbox").count() == len(components)
    page.get_by_role("radio", name="Everything").focus()
    for _ in range(10):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.value") == str(components[0].id):
            break
    assert login.evaluate("el => el === document.activeElement")
    page.keyboard.press("Space")
    assert login.is_checked()
    # Ticking a feature chose "Only the features I use".
    assert page.get_by_role("radio", name="Only the features I use").is_checked()
    assert_accessible(page, "/subscribe with a feature ticked")
    page.get_by_role("button", name="Subscribe").press("Enter")
    page.wait_for_url("**/subscribe/check-inbox")
    assert _choices("pat@example.test") == ("some", ["Login"], "Asia/Tokyo")


def test_preferences_page_in_the_browser(app, new_page, components, make_subscriber_here):
    sub = make_subscriber_here("pat@example.test")
    page = new_page(viewport={"width": 320, "height": 640})
    url = f"/subscription/{tokens.preferences_token(sub.public_id)}"
    page.goto(url)
    assert horizontal_overflow(page) <= 0
    assert_accessible(page, "preferences page")
    # The site's zone stays: the page shows the saved one, the browser does not override.
    assert page.get_by_label("Time zone of the times in your emails").input_value() == "UTC"
    page.get_by_role("radio", name="Only the features I use").check()
    page.get_by_role("button", name="Save my preferences").click()
    # No feature ticked: a clear error, announced, nothing changed.
    assert page.locator("#components-error").is_visible()
    assert_accessible(page, "preferences page with errors")
    assert _choices("pat@example.test") == ("all", [], None)
    page.get_by_role("checkbox", name="Food photo analysis").check()
    page.get_by_label("Time zone of the times in your emails").select_option("Europe/Berlin")
    page.get_by_role("radio", name="Coach").check()
    page.get_by_role("button", name="Save my preferences").click()
    assert page.get_by_role("status").filter(has_text="saved").is_visible()
    assert _choices("pat@example.test") == ("some", ["Food photo analysis"], "Europe/Berlin")
    page.get_by_role("button", name="Unsubscribe").click()
    assert page.get_by_role("heading", name="You are unsubscribed").is_visible()
    db.session.rollback()
    assert subscriptions.find_by_email("pat@example.test").status == "unsubscribed"


@pytest.fixture
def make_subscriber_here(app, clock):
    """A confirmed subscriber of everything (tests.smtp's fixture needs an SMTP server)."""
    import secrets

    from statuspage.models import Subscriber

    def make(email):
        sub = Subscriber(public_id=secrets.token_urlsafe(12), email=email,
                         audience="participant", status="confirmed", created_at=clock(),
                         requested_at=clock(), confirmed_at=clock())
        db.session.add(sub)
        db.session.commit()
        return sub

    return make

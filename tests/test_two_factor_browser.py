"""Two-factor sign-in in real Chromium: an admin who must use it is sent to enrolment,
scans (reads) the key, confirms, sees the recovery codes, signs in again with a code;
every page on the way passes axe."""

from __future__ import annotations

import pytest

from statuspage import two_factor
from tests.browser import (  # noqa: F401  (fixtures)
    assert_accessible,
    browser,
    live_url,
    needs_browser,
    new_page,
)
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, needs_browser]


def _password_step(page, email: str) -> None:
    page.goto("/staff/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_an_admin_enrols_and_signs_in_with_a_code(app, new_page, admin, clock):
    app.config["REQUIRE_2FA_ROLES"] = "admin"
    page = new_page()
    _password_step(page, admin.email)
    page.wait_for_url("**/staff/2fa")
    assert_accessible(page, "/staff/2fa (enrolment)")
    assert page.locator("#qr-code").evaluate("img => img.naturalWidth") > 0
    secret = page.locator("#totp-secret").inner_text().replace(" ", "")
    page.get_by_label("Code").fill(two_factor.code_at(secret, two_factor.time_step(clock())))
    page.get_by_role("button", name="Turn on two-factor sign-in").click()
    page.wait_for_selector("#recovery-codes")
    assert page.locator("#recovery-codes li").count() == 10
    assert_accessible(page, "recovery codes")
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/staff/login")

    clock.advance(seconds=30)
    _password_step(page, admin.email)
    page.wait_for_url("**/staff/login/code")
    assert_accessible(page, "/staff/login/code")
    page.get_by_label("Code").fill(two_factor.code_at(secret, two_factor.time_step(clock())))
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: "/staff/login" not in url)
    page.goto("/staff/2fa")
    assert page.locator("#recovery-left").inner_text() == "10"
    assert_accessible(page, "/staff/2fa (on)")

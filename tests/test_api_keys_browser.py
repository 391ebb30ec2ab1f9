"""The staff page of the write API's keys in real Chromium: an admin makes a key, sees it
once (and copies it), the list never shows it again, the tool's requests show as its last
use, and revoking it stops them; axe finds nothing, at 375 px nothing scrolls sideways."""

from __future__ import annotations

import pytest

from statuspage.extensions import db

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

pytestmark = [pytest.mark.browser, needs_browser]


def test_an_admin_makes_a_key_sees_it_once_and_revokes_it(app, admin, components, new_page,
                                                         live_url):
    page = new_page(viewport={"width": 375, "height": 800})
    sign_in(page, admin.email)
    page.get_by_role("link", name="API keys").click()
    page.wait_for_url("**/staff/api-keys")
    assert page.get_by_text("There are no API keys yet.").is_visible()
    assert_accessible(page, "/staff/api-keys (empty, 375 px)")

    # A name is required: the form comes back with the message at the field.
    page.get_by_role("button", name="Make the key").click()
    assert page.locator("#name[aria-invalid=true]").count() == 1
    assert_accessible(page, "/staff/api-keys with an error")

    page.get_by_label("Name (the tool that will use the key)").fill("Uptime monitor")
    page.get_by_role("button", name="Make the key").click()
    page.get_by_role("heading", name="API key made").wait_for()
    key = page.locator("#api-key").inner_text().strip()
    assert key.startswith("mtsp_") and len(key) > 40
    assert "only now" in page.locator("main").inner_text()
    assert horizontal_overflow(page) == 0
    assert_accessible(page, "the key, shown once")
    assert_keyboard_reachable_with_visible_focus(page, "the key, shown once")

    # The tool uses it; the list shows that, and never the key again.
    import urllib.request

    request = urllib.request.Request(
        f"{live_url}/api/v1/pages/metabolic-tracker/components",
        headers={"Authorization": f"OAuth {key}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
    page.get_by_role("link", name="Back to API keys").click()
    row = page.locator("table.api-keys tbody tr").first
    assert "Uptime monitor" in row.inner_text()
    assert "Never" not in row.locator(".api-key-last-used").inner_text()
    assert key not in page.content()
    assert horizontal_overflow(page) == 0
    assert_accessible(page, "/staff/api-keys with a key")
    assert_keyboard_reachable_with_visible_focus(page, "/staff/api-keys with a key")

    row.get_by_label("Yes, revoke this key for good").check()  # it cannot be undone
    row.get_by_role("button", name="Revoke Uptime monitor").click()
    page.get_by_text("API key revoked: Uptime monitor.").wait_for()
    assert "Revoked" in page.locator("table.api-keys .api-key-state").first.inner_text()
    assert page.get_by_role("button", name="Revoke Uptime monitor").count() == 0
    db.session.rollback()
    try:
        urllib.request.urlopen(request, timeout=10)
        raise AssertionError("a revoked key was accepted")
    except urllib.error.HTTPError as exc:
        assert exc.code == 401

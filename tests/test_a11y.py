"""Accessibility in real Chromium (issue 6, item 5): axe-core finds no WCAG 2.1 A/AA
violation on the public pages, the subscribe flow and every staff page, in light and in
dark mode; every control is reached by Tab and shows where the focus is; nothing scrolls
sideways at 320 px or at 200% zoom; status is said in words, not colour alone.

200% zoom: a browser zoomed to 200% lays a page out in half as many CSS pixels, so a
1280 px window at 200% is a 640 px layout viewport; that is what is checked (with 320 px,
WCAG's reflow width, which is also 1280 px at 400%).
"""

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
    site,
)

pytestmark = [pytest.mark.browser, needs_browser]


def public_pages(site) -> list[str]:
    return [
        "/",
        f"/incidents/{site['incident']}",
        f"/incidents/{site['resolved']}",
        "/history",
        "/updates",
        "/subscribe",
        "/subscribe/check-inbox",
        f"/confirm/{site['confirm']}",
        f"/unsubscribe/{site['unsubscribe']}",
        f"/subscription/{site['preferences']}",
        "/confirm/not-a-real-token",
        "/subscription/not-a-real-token",
        "/no/such/page",
        "/staff/login",
    ]


def staff_pages(site) -> list[str]:
    return [
        "/staff/",
        "/staff/incidents/new",
        f"/staff/incidents/{site['incident']}",
        f"/staff/incidents/{site['resolved']}",
        f"/staff/incidents/{site['incident']}/edit",
        "/staff/components",
        f"/staff/components/{site['component']}",
        "/staff/accounts",
        "/staff/password",
        "/staff/2fa",
        "/staff/subscribers",
        "/staff/contacts",
        f"/staff/incidents/{site['incident']}/record",
        "/staff/api-keys",
    ]


def _visit(page, path: str) -> None:
    response = page.goto(path)
    assert response is not None
    expected = 404 if path == "/no/such/page" else (400 if "not-a-real" in path else 200)
    assert response.status == expected, (path, response.status)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_every_page_passes_axe(site, new_page, admin, scheme):
    page = new_page(color_scheme=scheme)
    for path in public_pages(site):
        _visit(page, path)
        assert_accessible(page, f"{path} ({scheme})")
    sign_in(page, admin.email)
    for path in staff_pages(site):
        _visit(page, path)
        assert_accessible(page, f"{path} ({scheme})")


def test_forms_with_errors_pass_axe(site, new_page, admin):
    """The state a hurried person meets most: a form sent back with messages."""
    page = new_page()
    page.goto("/subscribe")
    page.get_by_role("button", name="Subscribe").click()
    assert page.locator("[aria-invalid=true]").count() >= 1
    assert_accessible(page, "/subscribe with errors")

    page.goto("/staff/login")
    page.get_by_role("button", name="Sign in").click()
    assert_accessible(page, "/staff/login with an error")

    sign_in(page, admin.email)
    page.goto("/staff/incidents/new")
    page.get_by_role("button", name="Declare incident").click()
    assert page.locator("[aria-invalid=true]").count() >= 2
    assert page.locator(".form-error[role=alert]").count() == 1
    assert_accessible(page, "new incident with errors")

    page.goto(f"/staff/incidents/{site['incident']}")
    page.get_by_label("Impact: what users are experiencing").fill("")
    page.get_by_role("button", name="Post update").click()
    assert page.locator("[aria-invalid=true]").count() >= 1
    assert_accessible(page, "update form with errors")


def test_dark_mode_follows_the_system_setting(site, new_page):
    """The colour scheme really changes (so the dark axe run above checks dark colours)."""
    def background_luminance(page) -> float:
        rgb = page.evaluate("""() => getComputedStyle(document.body).backgroundColor
                               .match(/\\d+/g).slice(0, 3).map(Number)""")
        return sum(rgb) / (3 * 255)

    light, dark = new_page(color_scheme="light"), new_page(color_scheme="dark")
    for page in (light, dark):
        page.goto("/")
    assert background_luminance(light) > 0.8
    assert background_luminance(dark) < 0.2


def test_everything_is_reachable_by_keyboard_with_a_visible_focus(site, new_page, admin):
    page = new_page()
    for path in public_pages(site):
        _visit(page, path)
        assert_keyboard_reachable_with_visible_focus(page, path)
    sign_in(page, admin.email)
    for path in staff_pages(site):
        _visit(page, path)
        assert_keyboard_reachable_with_visible_focus(page, path)


def test_the_skip_link_leads_to_the_content(site, new_page):
    page = new_page()
    page.goto("/")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"


@pytest.mark.parametrize("width", [320, 640], ids=["320px", "200pc-zoom"])
def test_nothing_scrolls_sideways_on_a_phone_or_at_200_percent(site, new_page, admin,
                                                                width):
    page = new_page(viewport={"width": width, "height": 640})
    for path in public_pages(site):
        _visit(page, path)
        assert horizontal_overflow(page) <= 0, f"{path} at {width}px"
    sign_in(page, admin.email)
    for path in staff_pages(site):
        _visit(page, path)
        assert horizontal_overflow(page) <= 0, f"{path} at {width}px"


def test_long_words_do_not_widen_the_page(app, new_page, admin, components, make_incident):
    """An unbroken 60-character word (a URL, an error code) wraps at 320 px."""
    word = "https://metabolic-tracker.app/an/unusually/long/path/to/nowhere/at/all"
    incident = make_incident(admin, components[:1], title=f"Error {word}",
                             impact=f"See {word}", actions=f"Fix {word}")
    page = new_page(viewport={"width": 320, "height": 640})
    for path in ("/", f"/incidents/{incident.id}", "/history"):
        page.goto(path)
        assert horizontal_overflow(page) <= 0, path
    sign_in(page, admin.email)
    for path in ("/staff/", f"/staff/incidents/{incident.id}"):
        page.goto(path)
        assert horizontal_overflow(page) <= 0, path


def test_status_is_said_in_words_not_colour_alone(site, new_page):
    page = new_page()
    page.goto("/")
    assert "Major System Outage" in page.locator("#overall-status").inner_text()
    statuses = page.locator(".component-status").all_inner_texts()
    assert [s.strip() for s in statuses][:2] == ["Major Outage", "Degraded Performance"]
    # Every element coloured by a status tone carries the status in words too.
    wordless = page.evaluate("""() => [...document.querySelectorAll('[class*="tone-"]')]
        .filter(el => !el.closest('svg') && el.innerText.trim() === '')
        .map(el => el.outerHTML.slice(0, 80))""")
    assert wordless == []


@pytest.mark.parametrize("width", [375, 1280])
def test_the_impact_fields_are_named_groups_of_radios(site, new_page, admin, width):
    """Issue 13, point 6: a screen reader hears each choice with its question, and the
    window's two times with their zone."""
    page = new_page(viewport={"width": width, "height": 800})
    sign_in(page, admin.email)
    for path in ("/staff/incidents/new", f"/staff/incidents/{site['incident']}",
                 f"/staff/incidents/{site['incident']}/edit"):
        _visit(page, path)
        data = page.get_by_role("group", name="Your data", exact=True)
        assert data.get_by_role("radio").count() == 4
        assert data.get_by_role("radio", name="Not yet known").is_checked()
        action = page.get_by_role("group", name="What you need to do", exact=True)
        assert action.get_by_role("radio", name="Not said yet").is_checked()
        assert page.get_by_role("group", name="Entries may be missing (optional)")
        assert page.get_by_label("From (date and time, UTC)").count() == 1
        assert horizontal_overflow(page) <= 0, f"{path} at {width}px"
        assert_accessible(page, f"{path} at {width}px")


@pytest.mark.parametrize("width", [375, 1280])
def test_the_contacts_page_with_an_error_and_the_record_page(site, new_page, admin, width):
    """Issue 14: the contacts page (a bad address sent back at its field) and the record
    page pass axe and fit, at a phone's and a desktop's width."""
    page = new_page(viewport={"width": width, "height": 800})
    sign_in(page, admin.email)
    _visit(page, "/staff/contacts")
    page.get_by_role("group", name="Tech Lead").get_by_label("Email").fill("not an address")
    page.get_by_role("group", name="Data Loss").get_by_role("group", name="Executive") \
        .get_by_label("CEO").check()
    page.get_by_role("button", name="Save contacts and matrix").click()
    assert page.locator("#tech_lead_email[aria-invalid=true]").count() == 1
    assert page.locator(".form-error[role=alert]").count() == 1
    assert horizontal_overflow(page) <= 0, f"contacts with an error at {width}px"
    assert_accessible(page, f"contacts with an error at {width}px")
    page.get_by_role("group", name="Tech Lead").get_by_label("Email").fill(
        "tech@example.test")
    page.get_by_role("button", name="Save contacts and matrix").click()
    assert "Contacts and matrix saved." in page.locator(".flashes").inner_text()
    row = page.locator("table.matrix tr", has_text="Data Loss")
    assert "CTO + Executive Sponsor + CEO" in row.inner_text()
    _visit(page, f"/staff/incidents/{site['incident']}/record")
    assert horizontal_overflow(page) <= 0, f"record at {width}px"
    assert_accessible(page, f"record at {width}px")

"""The participants' front page in real Chromium (issue 11): at 375 px and 1280 px, light
and dark, nothing scrolls sideways and axe finds nothing; with three open incidents, the
components start within about two screens of a phone."""

from __future__ import annotations

from datetime import timedelta

import pytest

from statuspage import incidents
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

PHONE = {"width": 375, "height": 667}
DESKTOP = {"width": 1280, "height": 800}


@pytest.fixture
def three_incidents(app, admin, components, make_incident, clock):
    """Three open incidents as the first user saw them, each with three updates that use
    every field, and one resolved yesterday."""
    made = []
    for title, severity, comps in [
        ("Icons look blurry on the charts screen", "SEV-4", components[2:3]),
        ("Food photo analysis failing for some photos", "SEV-3", components[3:4]),
        ("Login not working", "SEV-1", components[:2]),
    ]:
        incident = make_incident(
            admin, comps, title=title, severity=severity,
            impact="Some participants cannot use this part of the app right now.",
            actions="We are looking into it.")
        for status in ("identified", "monitoring"):
            clock.advance(minutes=7)
            incidents.post_update(incident, incidents.UpdateText(
                status, "Participants may see an error message when they try again.",
                "A fix was deployed and we are watching the error rate closely.",
                workaround="Entries saved on the phone are kept; try again later.",
                next_update_at=clock() + timedelta(minutes=30),
                component_statuses={comps[0].id: "partial_outage"}),
                actor=admin, now=clock())
        db.session.commit()
        made.append(incident)
    return made


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["375px", "1280px"])
def test_public_pages_fit_and_pass_axe(three_incidents, new_page, viewport, scheme):
    page = new_page(viewport=viewport, color_scheme=scheme)
    for path in ("/", "/history", "/updates", f"/incidents/{three_incidents[-1].id}"):
        response = page.goto(path)
        assert response is not None and response.status == 200, path
        assert horizontal_overflow(page) <= 0, f"{path} at {viewport['width']}px"
        assert_accessible(page, f"{path} at {viewport['width']}px ({scheme})")


def test_three_incidents_fit_in_about_two_phone_screens(three_incidents, new_page):
    page = new_page(viewport=PHONE)
    page.goto("/")
    titles = page.locator("section.current article h3").all_inner_texts()
    assert titles[0] == "Login not working"  # the gravest first
    assert len(titles) == 3
    top = page.evaluate("() => document.querySelector('#components-heading')"
                        ".getBoundingClientRect().top + window.scrollY")
    assert top <= 2 * PHONE["height"], f"the components start at {top:.0f} px"


def test_the_header_is_the_sites_own_colour_in_both_schemes(three_incidents, new_page):
    for scheme in ("light", "dark"):
        page = new_page(color_scheme=scheme)
        page.goto("/")
        header = page.evaluate("""() => {
            const h = getComputedStyle(document.querySelector('.site-header'));
            const a = getComputedStyle(document.querySelector('.site-header .brand'));
            return [h.backgroundColor, a.color]; }""")
        assert header == ["rgb(15, 118, 110)", "rgb(255, 255, 255)"], scheme
        loaded = page.evaluate("() => document.querySelector('.brand img').naturalWidth")
        assert loaded > 0  # the mark loaded under the page's CSP

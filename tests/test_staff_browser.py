"""Staff pages on a phone and mid-incident (issue 11).

In Debian's Chromium, at 375 px (a phone) and 1280 px (a desktop), light and dark: the
staff dashboard, an incident page, the components, accounts and subscribers pages with a
200-character incident title scroll no sideways, break no word inside a table cell, a
header or a button ("Lo/gin", "Cop/y", "Severit y"), and axe-core finds nothing on them.
The Slack block of the update just posted stands right under the "posted" notice; every
time staff see is one 24-hour format with its zone, the status block's, with and without
script.

The tests that need no browser (what the server writes) carry no mark and run on both
databases with the fast suite.
"""

from __future__ import annotations

import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from statuspage import present
from statuspage.extensions import db
from statuspage.models import Incident
from tests.browser import (  # noqa: F401  (fixtures)
    assert_accessible,
    browser,
    horizontal_overflow,
    live_url,
    needs_browser,
    new_page,
    sign_in,
    site,
)
from tests.conftest import soup
from tests.staff_support import declare, post_update

#: As long as the form allows, in words (a pasted sentence, not one unbroken word).
TITLE_200 = ("Participants cannot save entries or see their charts after the overnight "
             "release: the sync service rejects uploads from older app versions and the "
             "dashboard shows stale data for everyone who synced in the last hour")[:200]
assert len(TITLE_200) == 200

#: 24 hours, with the zone, as the status block's "Time:" line writes it.
STAFF_TIME = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d [A-Z][A-Za-z0-9+-]*$")

#: Shown to sighted readers: laid out, and not in a box kept only for screen readers
#: (.visually-hidden, or the column names of a phone's cards: a 1-pixel box).
_SHOWN = """
const shown = (el) => {
  if (el.getClientRects().length === 0 || el.closest('.visually-hidden')) return false;
  for (let up = el; up && up !== document.body; up = up.parentElement) {
    if (up.getBoundingClientRect().width <= 1) return false;
  }
  return true;
};
"""

#: What a header, a cell or a button must not do: break a word between two lines. For each
#: word of their text, the rendered word's line boxes; more than one line is a broken word.
_BROKEN_WORDS = "() => {" + _SHOWN + """
  const broken = [];
  const boxes = document.querySelectorAll(
    'th, td, button, .button, label, legend, .sev, .staff-nav a, figcaption');
  for (const box of boxes) {
    if (!shown(box)) continue;
    const walker = document.createTreeWalker(box, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      if (node.parentElement.closest('.visually-hidden, pre')) continue;
      for (const match of node.data.matchAll(/\\S+/g)) {
        const range = document.createRange();
        range.setStart(node, match.index);
        range.setEnd(node, match.index + match[0].length);
        const tops = new Set([...range.getClientRects()]
          .filter(r => r.width > 0).map(r => Math.round(r.top)));
        if (tops.size > 1) {
          broken.push(`${box.tagName.toLowerCase()}.${box.className}: "${match[0]}"`);
        }
      }
    }
  }
  return [...new Set(broken)];
}
"""

#: Boxes whose content is wider than they are: a table that scrolls inside its box, a
#: button or a cell whose text sticks out.
_OVERFLOWING = "() => {" + _SHOWN + """
  return [...document.querySelectorAll('.table-wrap, table, th, td, button, .button, pre')]
    .filter(el => shown(el) && el.scrollWidth > el.clientWidth + 1)
    .map(el => `${el.tagName.toLowerCase()}.${el.className}: ${el.scrollWidth} > ` +
               `${el.clientWidth}`);
}
"""


@pytest.fixture
def busy(site, app, admin, components, make_incident, clock):
    """The site fixture, plus a SEV-2 with a 200-character title whose update is overdue."""
    long_one = make_incident(
        admin, components[:3], title=TITLE_200, severity="SEV-2",
        impact="Entries typed since the release stay on the phone until the fix.",
        actions="Rolling the sync service back to yesterday's version.",
        next_update_at=clock() + timedelta(minutes=5),
        component_statuses={components[2].id: "partial_outage"})
    clock.advance(minutes=12)
    return dict(site, long=long_one.id)


def staff_pages(busy) -> list[str]:
    return ["/staff/", f"/staff/incidents/{busy['long']}", f"/staff/incidents/{busy['incident']}",
            "/staff/components", "/staff/accounts", "/staff/subscribers", "/staff/contacts",
            f"/staff/incidents/{busy['long']}/record"]


def assert_fits(page, what: str) -> None:
    """No sideways scroll, no box wider than itself, no word broken across two lines."""
    assert horizontal_overflow(page) <= 0, f"{what}: the page scrolls sideways"
    assert page.evaluate(_OVERFLOWING) == [], what
    assert page.evaluate(_BROKEN_WORDS) == [], what


# --- In the browser ------------------------------------------------------------------------


@pytest.mark.browser
@needs_browser
@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("width", [375, 1280])
def test_staff_pages_fit_a_phone_and_a_desktop(busy, new_page, admin, width, scheme):
    page = new_page(viewport={"width": width, "height": 800}, color_scheme=scheme)
    sign_in(page, admin.email)
    for path in staff_pages(busy):
        response = page.goto(path)
        assert response is not None and response.status == 200, path
        what = f"{path} at {width}px ({scheme})"
        assert_fits(page, what)
        assert_accessible(page, what)
    # The long title wraps in its own column: the other columns keep their width.
    page.goto("/staff/")
    row = page.locator(f"tr[data-incident-id='{busy['long']}']")
    assert TITLE_200 in row.inner_text()
    if width >= 1280:
        title_width = row.locator("td").first.bounding_box()["width"]
        assert title_width >= 0.3 * page.locator("table.incidents").bounding_box()["width"]
    else:  # a card per incident: the title first, then each line says what it is
        labels = row.evaluate("""tr => [...tr.cells].map(
            td => getComputedStyle(td, '::before').content)""")
        assert labels == ["none", '"Severity: "', '"Status: "', '"Age: "',
                          '"Last update: "', '"Next update due: "', '"Targets: "']
        title_box = row.locator("td.title").bounding_box()
        assert title_box["width"] >= 300 and title_box["y"] < row.locator(
            "td[data-label=Severity]").bounding_box()["y"]


@pytest.mark.browser
@needs_browser
@pytest.mark.parametrize("width", [375, 1280])
def test_the_posted_block_is_right_under_the_notice(busy, new_page, responder, width):
    page = new_page(viewport={"width": width, "height": 800})
    sign_in(page, responder.email)
    page.goto(f"/staff/incidents/{busy['long']}")
    page.locator("#status").select_option("identified")
    page.locator("#actions").fill("The release's sync schema is being reverted.")
    with page.expect_navigation():
        page.get_by_role("button", name="Post update").click()

    notice = page.locator(".flashes")
    assert "Update posted" in notice.inner_text()
    posted = page.locator(".posted-block")
    assert posted.is_visible()
    block = posted.locator("pre").inner_text()
    assert block.splitlines()[2] == "Status: Identified"
    assert "The release's sync schema is being reverted." in block
    # It is the newest update's block, the same as in the timeline.
    assert block == page.locator("ol.updates pre.status-block").first.inner_text()
    # Right under the notice: seen without scrolling, with its Copy button.
    notice_box, block_box = notice.bounding_box(), posted.bounding_box()
    assert 0 <= block_box["y"] - (notice_box["y"] + notice_box["height"]) < 60
    assert block_box["y"] < 800
    copy = posted.get_by_role("button", name="Copy")
    assert copy.is_visible()
    assert_fits(page, f"after posting at {width}px")
    assert_accessible(page, f"after posting at {width}px")
    # A page shown without a notice has no second copy.
    page.reload()
    assert page.locator(".posted-block").count() == 0


@pytest.mark.browser
@needs_browser
@pytest.mark.parametrize("width", [375, 1280])
def test_the_impact_block_is_set_in_the_resolved_form_and_read_on_the_page(
        busy, new_page, responder, width):
    """Issue 13, point 6: radios and a window (by keyboard), refused when it ends before it
    starts, then the Resolved update sets it and the public page says it."""
    page = new_page(viewport={"width": width, "height": 800})
    sign_in(page, responder.email)
    page.goto(f"/staff/incidents/{busy['long']}")
    assert_accessible(page, f"impact fields at {width}px")
    data = page.get_by_label("Not yet known", exact=True)
    data.focus()
    page.keyboard.press("ArrowDown")  # a radio group: the arrow keys choose
    assert page.get_by_label("Being checked", exact=True).is_checked()
    page.get_by_label("Some entries may be missing", exact=True).check()
    page.get_by_label("Re-enter the entries that may be missing", exact=True).check()
    page.locator("#data_gap_from").fill("2026-11-26T12:40")
    page.locator("#data_gap_until").fill("2026-11-26T12:05")
    page.locator("#status").select_option("resolved")
    page.locator("#actions").fill("The sync service was rolled back.")
    with page.expect_navigation():
        page.get_by_role("button", name="Post update").click()
    until = page.locator("#data_gap_until")
    assert until.get_attribute("aria-invalid") == "true"
    assert "must end after it starts" in page.locator("#data_gap_until-error").inner_text()
    assert_fits(page, f"impact error at {width}px")
    assert_accessible(page, f"impact error at {width}px")

    page.locator("#data_gap_from").fill("2026-11-26T12:05")
    until.fill("2026-11-26T12:40")
    with page.expect_navigation():
        page.get_by_role("button", name="Post update").click()
    assert "Update posted: Resolved" in page.locator(".flashes").inner_text()
    assert "Participants read: Your data: Some entries may be missing" in page.locator(
        ".impact-now").inner_text()
    page.goto(f"/incidents/{busy['long']}")
    block = page.locator(".impact-block")
    assert "Entries between 12:05 and 12:40 UTC may be missing" in block.inner_text()
    assert_fits(page, f"public impact block at {width}px")
    assert_accessible(page, f"public impact block at {width}px")


@pytest.mark.browser
@needs_browser
def test_staff_times_stay_in_the_site_zone_with_script(busy, app, new_page, admin):
    """A reader whose browser would say "01:12 PM" sees what the status block says."""
    app.config["SITE_TIMEZONE"] = "Europe/Berlin"
    page = new_page(locale="en-US", timezone_id="America/New_York")
    sign_in(page, admin.email)
    for path in ("/staff/", f"/staff/incidents/{busy['incident']}"):
        page.goto(path)
        times = page.locator("main time").all_inner_texts()
        assert times, path
        for text in times:
            assert STAFF_TIME.match(text) and text.endswith("CET"), (path, text)
    block = page.locator("pre.status-block").first.inner_text()
    posted = page.locator("ol.updates li h3 time").first.inner_text()
    assert f"Time: {posted}" in block


# --- What the server writes (no browser) ---------------------------------------------------


def test_the_posted_block_follows_the_notice(app, responder_client, components, clock):
    response = declare(responder_client, components[:1], issue=TITLE_200)
    page = soup(responder_client.get(response.headers["Location"]))
    notice = page.select_one(".flashes")
    assert "Incident declared" in notice.get_text()
    posted = notice.find_parent("div").find_next_sibling()
    assert "posted-block" in posted["class"]
    incident = db.session.scalars(db.select(Incident)).one()
    clock.advance(minutes=3)
    response = post_update(responder_client, incident.id, status="identified",
                           actions="Found it.")
    page = soup(responder_client.get(response.headers["Location"]))
    posted = page.select_one(".flashes").find_parent("div").find_next_sibling()
    db.session.expire_all()
    latest = db.session.get(Incident, incident.id).latest_update
    assert posted.select_one("pre").get_text() == present.status_update_block(
        latest.incident, latest, ZoneInfo("UTC"))
    assert posted.select_one("button.copy")["data-copy"] == posted.select_one("pre")["id"]
    # No notice, no copy above the form.
    page = soup(responder_client.get(f"/staff/incidents/{incident.id}"))
    assert page.select(".posted-block") == []


def test_staff_times_are_one_format_in_the_site_zone(app, admin_client, components, clock,
                                                     make_incident, admin):
    app.config["SITE_TIMEZONE"] = "Europe/Berlin"  # UTC+1 in November
    incident = make_incident(admin, components[:1], severity="SEV-1",
                             next_update_at=clock() + timedelta(minutes=15))
    clock.advance(minutes=20)  # overdue on the dashboard
    for path in ("/staff/", f"/staff/incidents/{incident.id}"):
        tags = soup(admin_client.get(path)).select("main time")
        assert tags, path
        for tag in tags:
            assert STAFF_TIME.match(tag.get_text()), (path, str(tag))
            assert tag.get_text().endswith(" CET"), (path, str(tag))
            # The instant stays machine-readable, in UTC; the script leaves the text.
            assert tag["datetime"].endswith("Z") and tag["data-localised"] == "1"
    page = soup(admin_client.get(f"/staff/incidents/{incident.id}"))
    block = page.select_one("pre.status-block").get_text()
    assert "Time: 2026-11-26 13:00 CET" in block
    assert page.select_one("ol.updates h3 time").get_text() == "2026-11-26 13:00 CET"
    # Public pages leave the reader's zone to the script; without it, SITE_TIMEZONE
    # (issue 23: one zone on a card, named), the instant in UTC for the script.
    public = soup(admin_client.get(f"/incidents/{incident.id}")).select("time")
    assert public and all(t.get_text().endswith(" CET") and t["datetime"].endswith("Z")
                          for t in public)
    assert all(not t.has_attr("data-localised") for t in public)

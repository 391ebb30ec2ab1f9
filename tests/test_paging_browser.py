"""The acknowledgement page and the staff's paging panels (issue 24, points 5 and 6) in
real Chromium with axe-core, at 375 px and 1280 px: a page's link opened on a phone, the
button pressed, the link opened again; the incident page's Paging panel and the
dashboard's incidents being paged."""

from __future__ import annotations

import pytest

from statuspage.audit import SystemActor
from statuspage.extensions import db
from statuspage.models import PageChain
from tests.browser import (  # noqa: F401  (fixtures)
    assert_accessible,
    browser,
    horizontal_overflow,
    live_url,
    needs_browser,
    new_page,
    sign_in,
)
from tests.paging_support import (PRIMARY, SECONDARY, ack_link, app, declare,  # noqa: F401
                                  page_mails, people, smtp)
from tests.smtp import tick

pytestmark = [pytest.mark.browser, needs_browser]

TITLE = ("Participants cannot save entries or see their charts after the overnight release "
         "and the dashboard shows stale data")


@pytest.mark.parametrize("width", [375, 1280])
def test_the_ack_page_and_the_paging_panels_pass_axe(
        app, clock, smtp, new_page, people, responder, components, width):  # noqa: F811
    incident = declare(SystemActor("monitor:Login"), components, clock, title=TITLE)
    other = declare(responder, components, clock, severity="SEV-2", title="Login slow")
    tick()
    clock.advance(minutes=1.5)
    tick()  # the secondaries paged too
    link = ack_link(next(m for m in page_mails(smtp, PRIMARY) if TITLE[:40] in m.subject))

    phone = new_page(viewport={"width": width, "height": 800})
    phone.goto(link)
    assert phone.get_by_role("heading", level=1).inner_text() == "Acknowledge this page"
    assert "Olga Oncall" in phone.locator(".ack-person").inner_text()
    assert horizontal_overflow(phone) == 0
    assert_accessible(phone, f"ack page ({width})")
    phone.get_by_role("button", name="Acknowledge").click()
    assert phone.get_by_role("heading", level=1).inner_text() == "Acknowledged"
    assert "Thank you, Olga Oncall" in phone.locator(".ack-done").inner_text()
    assert_accessible(phone, f"ack page, done ({width})")
    phone.goto(link)
    assert "Already acknowledged by Olga Oncall" in phone.locator(".ack-refusal").inner_text()
    assert_accessible(phone, f"ack page, already acknowledged ({width})")
    db.session.rollback()  # the live server wrote it
    assert db.session.scalar(db.select(PageChain.acknowledged_by).where(
        PageChain.subject_id == incident.id, PageChain.subject == "incident")) == "Olga Oncall"

    staff = new_page(viewport={"width": width, "height": 900})
    sign_in(staff, responder.email)
    staff.goto("/staff/")
    being_paged = staff.locator(".paging-now")
    assert "Login slow" in being_paged.inner_text() and TITLE not in being_paged.inner_text()
    assert horizontal_overflow(staff) == 0
    assert_accessible(staff, f"dashboard, an incident being paged ({width})")
    staff.goto(f"/staff/incidents/{other.id}")
    panel = staff.locator("section.paging")
    assert "being paged, not acknowledged" in panel.inner_text().lower()
    assert "Sid Second" in panel.inner_text() and SECONDARY not in panel.inner_text()
    assert horizontal_overflow(staff) == 0
    assert_accessible(staff, f"incident page with its paging panel ({width})")
    staff.goto(f"/staff/incidents/{incident.id}")
    assert "Acknowledged by Olga Oncall" in staff.locator("section.paging").inner_text()
    assert_accessible(staff, f"incident page, paging acknowledged ({width})")

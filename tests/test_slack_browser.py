"""The Resolved form's staff-only fields and the Slack delivery section, in real Chromium
with axe-core (issue 14, point 2)."""

from __future__ import annotations

import pytest

from statuspage.extensions import db
from statuspage.models import Incident
from tests.browser import (  # noqa: F401  (fixtures)
    assert_accessible,
    browser,
    live_url,
    needs_browser,
    new_page,
    sign_in,
)
from tests.smtp import tick
from tests.webhook_receiver import receiver  # noqa: F401  (fixture)

pytestmark = [pytest.mark.browser, needs_browser]


@pytest.fixture
def app(make_app, receiver):  # noqa: F811
    app = make_app(SLACK_WEBHOOK_URL=receiver.url(), WEBHOOK_TIMEOUT_SECONDS=0.5,
                   WEBHOOK_ALLOW_LOOPBACK_HTTP=True)  # Slack: public addresses only
    with app.app_context():
        yield app


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_resolved_forms_fields_and_the_slack_section_pass_axe(
        app, new_page, responder, components, make_incident, receiver,  # noqa: F811
        scheme):
    incident = make_incident(responder, components[:1], severity="SEV-1")
    receiver.answer(503)
    tick()
    page = new_page(color_scheme=scheme)
    sign_in(page, responder.email)
    page.goto(f"/staff/incidents/{incident.id}")
    section = page.locator("section.slack-messages")
    assert "retrying (1 try: HTTP 503)" in section.inner_text()
    assert_accessible(page, f"incident page with Slack ({scheme})")

    # A root cause with a status other than Resolved: sent back, with the message at it.
    page.get_by_label("Actions: what we're doing").fill("Freeing space.")
    page.get_by_label("Root cause (staff only)").fill("A full disk.")
    page.get_by_role("button", name="Post update").click()
    assert page.locator("#root_cause[aria-invalid=true]").count() == 1
    assert_accessible(page, f"Resolved fields with an error ({scheme})")

    page.get_by_label("Status", exact=True).select_option("resolved")
    page.get_by_label("Resolution: what we did (staff only)").fill("Freed space.")
    page.get_by_label("Post-incident review on (staff only)").fill("2026-11-30")
    page.get_by_role("button", name="Post update").click()
    errors = page.locator(".field-error, .form-error").all_inner_texts()
    assert page.locator("#resolved-heading").count() == 1, errors
    db.session.rollback()  # a fresh snapshot: the live server wrote it
    stored = db.session.get(Incident, incident.id)
    assert (stored.status, stored.root_cause, stored.resolution, str(stored.review_on)) \
        == ("resolved", "A full disk.", "Freed space.", "2026-11-30")

"""The on-call pages in real Chromium (issue 24): an admin adds a rotation and an
override through the forms (a mistake first), sees who is on call on the dashboard, and
makes their calendar link; axe finds nothing at 375 and 1280 px, nothing scrolls sideways,
every control is reached by Tab. And the pages are valid HTML (the Nu checker)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from statuspage.extensions import db
from statuspage.models.paging import Rotation
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
from tests.conftest import form_fields, login
from tests.test_a11y_html import validate, vnu_jar  # noqa: F401  (fixture)

pytestmark = [pytest.mark.browser, needs_browser]


@pytest.fixture
def app(make_app):
    app = make_app(SITE_TIMEZONE="America/New_York")
    with app.app_context():
        yield app


@pytest.mark.parametrize("width", [375, 1280])
def test_an_admin_sets_up_a_rotation_and_an_override(app, admin, make_staff, clock,
                                                     new_page, width):
    clock.set(datetime(2026, 3, 1, tzinfo=timezone.utc))
    for name in ("ann", "bob"):
        make_staff("responder", email=f"{name}@example.test")
    page = new_page(viewport={"width": width, "height": 900})
    sign_in(page, admin.email)
    page.get_by_role("link", name="On call").first.click()
    page.wait_for_url("**/staff/on-call")
    assert_accessible(page, f"/staff/on-call empty ({width} px)")

    page.get_by_label("Name").fill("Primary daily")
    page.get_by_label("Members: staff emails").fill("ann@example.test\nstranger@example.test")
    page.get_by_label("First handover").fill("2026-03-05T09:00")
    page.get_by_role("button", name="Add rotation").click()
    assert page.locator("#members[aria-invalid=true]").count() == 1
    assert "Not an active staff account: stranger@example.test" in page.locator(
        "#members-error").inner_text()
    assert_accessible(page, f"/staff/on-call with an error ({width} px)")

    page.get_by_label("Members: staff emails").fill("ann@example.test\nbob@example.test")
    page.get_by_label("Role").select_option("primary")
    page.get_by_label("Handover", exact=True).select_option("day")
    page.get_by_role("button", name="Add rotation").click()
    page.get_by_text("Rotation added: Primary daily.").wait_for()
    assert horizontal_overflow(page) == 0
    assert_accessible(page, f"/staff/on-call with a rotation ({width} px)")
    assert_keyboard_reachable_with_visible_focus(page, "/staff/on-call")

    page.get_by_role("link", name="overrides").first.click()
    page.wait_for_url("**/staff/on-call/overrides")
    assert_accessible(page, f"/staff/on-call/overrides empty ({width} px)")
    page.get_by_label("Rotation").select_option(label="Primary daily (Primary on-call)")
    page.get_by_label("Who is on call instead").fill("bob@example.test")
    page.get_by_label("From").fill("2026-03-05T12:00")
    page.get_by_label("Until").fill("2026-03-05T10:00")
    page.get_by_role("button", name="Add override").click()
    assert "The override must end after it starts." in page.locator(
        "#ends_at-error").inner_text()
    assert_accessible(page, f"/staff/on-call/overrides with an error ({width} px)")
    page.get_by_label("Until").fill("2026-03-05T14:00")
    page.get_by_role("button", name="Add override").click()
    page.get_by_text("Override added: bob@example.test.").wait_for()
    assert horizontal_overflow(page) == 0
    assert_accessible(page, f"/staff/on-call/overrides with one ({width} px)")
    assert_keyboard_reachable_with_visible_focus(page, "/staff/on-call/overrides")

    clock.set(datetime(2026, 3, 5, 18, tzinfo=timezone.utc))  # 13:00 EST
    page.get_by_role("link", name="Dashboard").click()
    panel = page.locator("section.oncall-now").inner_text()
    assert "bob@example.test until 2026-03-05 14:00 EST" in panel
    assert horizontal_overflow(page) == 0

    page.goto(page.url.replace("/staff/", "/staff/on-call"))
    page.get_by_role("button", name="Make my calendar link").click()
    page.get_by_role("heading", name="Your calendar link").wait_for()
    assert page.locator("#calendar-url").inner_text().endswith(".ics")
    assert horizontal_overflow(page) == 0
    assert_accessible(page, f"the calendar link, shown once ({width} px)")


def test_the_on_call_pages_are_valid_html(app, admin, make_staff, client, clock, vnu_jar,
                                          tmp_path):
    clock.set(datetime(2026, 3, 1, tzinfo=timezone.utc))
    make_staff("responder", email="ann@example.test")
    assert login(client, admin.email).status_code == 302
    form = form_fields(client.get("/staff/on-call"), "#rotation-form")
    pages = {"errors": client.post("/staff/on-call", data={**form, "members": ""})}
    client.post("/staff/on-call", data={**form, "name": "R", "members": "ann@example.test",
                                        "handover_at": "2026-03-05T09:00"})
    rotation_id = db.session.scalar(db.select(Rotation.id))
    form = form_fields(client.get("/staff/on-call/overrides"), "#override-form")
    client.post("/staff/on-call/overrides", data={
        **form, "rotation": str(rotation_id), "member": "ann@example.test",
        "starts_at": "2026-03-06T09:00", "ends_at": "2026-03-06T10:00"})
    form = form_fields(client.get("/staff/on-call/overrides"), "#override-form")
    pages["override errors"] = client.post("/staff/on-call/overrides", data=form)
    for path in ("/staff/", "/staff/on-call", "/staff/on-call/overrides",
                 f"/staff/on-call/{rotation_id}"):
        pages[path] = client.get(path)
    link_form = form_fields(client.get("/staff/on-call"), ".calendar-link form")
    pages["calendar link"] = client.post("/staff/on-call/calendar-link", data=link_form)
    files = []
    for index, (name, response) in enumerate(pages.items()):
        assert response.status_code in (200, 422), name
        files.append(tmp_path / f"page{index}.html")
        files[-1].write_bytes(response.get_data())
    names = {f"file:{f}": name for f, name in zip(files, pages)}
    errors = [f"{names.get(m.get('url'))}:{m.get('lastLine')}: {m['message']}"
              for m in validate(vnu_jar, files)]
    assert not errors, "\n".join(errors)

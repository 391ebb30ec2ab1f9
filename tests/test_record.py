"""The internal incident record: the draft in the playbook's template, its revisions,
download, redaction, action items and their once-only reminder, the dashboard's
post-incident step, and nothing of it on a public surface."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest

from statuspage import incidents
from statuspage.extensions import db
from statuspage.models import ActionItem, AuditEvent, RecordRevision
from tests.smtp import MAIL_CONFIG, make_subscriber, smtp, tick  # noqa: F401  (fixtures)

from .conftest import form_fields, soup

PLAYBOOK = Path(__file__).parent / "data" / "incident-response-playbook.md"
SECRET = "RECORD-internal-5d1e"


@pytest.fixture
def app(make_app, smtp):  # noqa: F811
    app = make_app(MAIL_PORT=smtp.port, **MAIL_CONFIG, SITE_TIMEZONE="Europe/Berlin")
    with app.app_context():
        yield app


def template_headings() -> list[str]:
    text = PLAYBOOK.read_text()
    block = text[text.index("## Incident Record Template"):]
    block = block[block.index("```markdown") + len("```markdown"):]
    block = block[:block.index("```")]
    return [line for line in block.splitlines()
            if line.startswith("#") or line.startswith("- **") or line.startswith("- ")
            and line.endswith(":") or line.startswith("| Time")]


def resolve(incident, actor, clock, **fields):
    incidents.post_update(incident, incidents.UpdateText(
        status="resolved", impact="Everyone can sign in again.",
        actions="Rolled back the release.", **fields), actor=actor, now=clock())
    db.session.commit()


def test_the_draft_follows_the_template_and_has_every_event(
        app, clock, admin_client, admin, components, make_incident, make_subscriber):  # noqa: F811
    make_subscriber("pat@example.test")
    db.session.commit()
    incident = make_incident(admin, components[:1], severity="SEV-1",
                             component_statuses={components[0].id: "major_outage"})
    clock.advance(hours=1)
    tick()
    incidents.post_update(incident, incidents.UpdateText(
        status="identified", impact="Still down.", actions="Found it."),
        actor=admin, now=clock())
    db.session.commit()
    clock.advance(minutes=65)
    resolve(incident, admin, clock, root_cause="A full disk.", resolution="Freed space.")
    clock.advance(minutes=1)
    tick()
    page = admin_client.get(f"/staff/incidents/{incident.id}/record")
    assert page.status_code == 200
    text = soup(page).select_one("pre.record-text").get_text()
    lines = text.splitlines()
    headings = [h for h in template_headings()]
    positions = []
    for heading in headings:
        prefix = heading.split("[")[0].rstrip(":* ") if "[" in heading else heading
        found = [i for i, line in enumerate(lines) if line.startswith(prefix)]
        assert found, heading
        positions.append(found[0])
    assert positions == sorted(positions)
    assert lines[0] == f"# Incident Report: {incident.title}"
    assert "- **Duration:** 2 hours 5 minutes" in lines
    assert "- Users affected: 1 subscriber emailed" in lines
    assert "A full disk." in text and "Freed space." in text
    for event in ("Incident declared (SEV-1", "Update posted (Identified)",
                  "Component " + components[0].name, "Outage email: 1 sent, 0 failed",
                  "Resolution email: 1 sent, 0 failed", "Incident resolved"):
        assert event in text, event
    assert re.search(r"\| \d{4}-\d\d-\d\d \d\d:\d\d CET \| Incident declared", text)


def test_edits_keep_history_and_download_and_redact(app, clock, admin_client, admin,
                                                    components, make_incident):
    incident = make_incident(admin, components[:1])
    url = f"/staff/incidents/{incident.id}/record"
    data = form_fields(admin_client.get(url), "form.record-form")
    for text in ("First version.", f"Second version {SECRET}."):
        data["text"] = text
        assert admin_client.post(url, data=data).status_code == 302
        clock.advance(minutes=1)
    bad = admin_client.post(url, data={**data, "text": "   "})
    assert bad.status_code == 422 and "cannot be empty" in bad.get_data(as_text=True)
    revs = db.session.scalars(db.select(RecordRevision).order_by(RecordRevision.number)).all()
    assert [r.text for r in revs] == ["First version.\n", f"Second version {SECRET}.\n"]
    down = admin_client.get(url + ".md")
    assert down.mimetype == "text/markdown"
    assert down.headers["Content-Disposition"] == (
        f'attachment; filename="incident-{incident.id}.md"')
    assert SECRET in down.get_data(as_text=True)
    redact = f"{url}/revisions/{revs[1].id}/redact"
    page = admin_client.get(url)
    fields = form_fields(page, "form.redact")
    fields.pop("confirm", None)
    admin_client.post(redact, data=fields)
    assert SECRET in admin_client.get(url + ".md").get_data(as_text=True)  # unconfirmed
    admin_client.post(redact, data={**fields, "confirm": "yes"})
    assert SECRET not in admin_client.get(url).get_data(as_text=True)
    assert admin_client.get(url + ".md").get_data(as_text=True) == "[redacted]\n"
    actions = [e.action for e in db.session.scalars(db.select(AuditEvent))]
    assert actions.count("record.save") == 2 and actions.count("record.redact") == 1


def test_action_items_overdue_and_reminded_once(app, clock, smtp, admin_client, admin,  # noqa: F811
                                                responder, components, make_incident):
    incident = make_incident(admin, components[:1])
    url = f"/staff/incidents/{incident.id}/record"
    fields = form_fields(admin_client.get(url), "form.new-action-item")
    due = (clock() + timedelta(days=1)).date()
    bad = admin_client.post(f"/staff/incidents/{incident.id}/action-items",
                            data={**fields, "text": "Add a disk alert", "owner_id": "x",
                                  "due_on": "soon"})
    assert bad.status_code == 422 and db.session.scalar(
        db.select(db.func.count()).select_from(ActionItem)) == 0
    assert admin_client.post(f"/staff/incidents/{incident.id}/action-items",
                             data={**fields, "text": "Add a disk alert",
                                   "owner_id": str(responder.id),
                                   "due_on": due.isoformat()}).status_code == 302
    tick()
    assert [m for m in smtp.messages if m.to == responder.email] == []
    assert "Overdue" not in soup(admin_client.get("/staff/")).select_one(
        "ul.action-items-due").get_text()
    clock.advance(days=1)
    tick()
    tick()
    clock.advance(days=1)
    tick()
    mine = [m for m in smtp.messages if m.to == responder.email]
    assert len(mine) == 1 and "Add a disk alert" in mine[0].text()
    dash = soup(admin_client.get("/staff/"))
    assert "Overdue" in dash.select_one("li.action-item.overdue").get_text()


def test_record_and_review_due_on_the_dashboard(app, clock, admin_client, admin,
                                                components, make_incident):
    incident = make_incident(admin, components[:1], severity="SEV-2")
    resolve(incident, admin, clock, review_on=(clock() + timedelta(days=2)).date())
    item = soup(admin_client.get("/staff/")).select_one(
        f"ul.post-incident-due li[data-incident-id='{incident.id}']")
    assert "record due" in item.get_text() and "review due" in item.get_text()
    url = f"/staff/incidents/{incident.id}/record"
    data = form_fields(admin_client.get(url), "form.record-form")
    admin_client.post(url, data=data)
    item = soup(admin_client.get("/staff/")).select_one(
        f"ul.post-incident-due li[data-incident-id='{incident.id}']")
    assert "record due" not in item.get_text() and "review due" in item.get_text()
    clock.advance(days=4)
    assert soup(admin_client.get("/staff/")).select_one("ul.post-incident-due") is None


def test_nothing_of_the_record_on_a_public_surface(app, clock, smtp, admin, admin_client,  # noqa: F811
                                                   components, make_incident,
                                                   make_subscriber, runner, tmp_path):
    make_subscriber("pat@example.test")
    db.session.commit()
    incident = make_incident(admin, components[:1], severity="SEV-1")
    url = f"/staff/incidents/{incident.id}/record"
    data = form_fields(admin_client.get(url), "form.record-form")
    admin_client.post(url, data={**data, "text": f"Record {SECRET}"})
    fields = form_fields(admin_client.get(url), "form.new-action-item")
    admin_client.post(f"/staff/incidents/{incident.id}/action-items",
                      data={**fields, "text": f"Item {SECRET}", "owner_id": str(admin.id),
                            "due_on": clock().date().isoformat()})
    clock.advance(hours=2)
    tick()
    resolve(incident, admin, clock)
    clock.advance(minutes=1)
    tick()
    client = app.test_client()
    seen = []
    for path in ["/", f"/incidents/{incident.id}", "/history", "/feed.rss", "/feed.atom",
                 "/badge.svg", "/embed", "/api/v2/status.json", "/api/v2/summary.json",
                 "/api/v2/incidents.json", "/api/v2/incidents/unresolved.json"]:
        response = client.get(path)
        assert response.status_code == 200, path
        seen.append((path, response.get_data(as_text=True)))
    assert client.get(url).status_code in (302, 401, 403)
    root = tmp_path / "export"
    assert runner.invoke(args=["publish", str(root)]).exit_code == 0
    seen += [(str(p), p.read_bytes().decode("utf-8", "replace"))
             for p in root.rglob("*") if p.is_file() and p.suffix != ".gz"]
    subscriber_mail = [m for m in smtp.messages if m.to == "pat@example.test"]
    assert subscriber_mail
    seen += [("email", m.message.as_string()) for m in subscriber_mail]
    for where, text in seen:
        assert SECRET not in text, where

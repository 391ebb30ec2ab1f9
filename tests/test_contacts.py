"""The key contacts and the escalation matrix page (admin, /staff/contacts), and the
declaration's staff-only fields (issue 14, point 4): seeded from the playbook, edited
through the form, bad input refused with nothing changed, audited; the incident type and
"health data may be affected" are stored, shown to staff, editable, never public."""

from __future__ import annotations

from werkzeug.datastructures import MultiDict

from statuspage import contacts
from statuspage.extensions import db
from statuspage.models import Contact, EscalationCell, Incident

from .conftest import soup
from .staff_support import audit_events, declare, field_error, submit

#: The playbook's "Escalation Matrix", as the page shows it.
PLAYBOOK_ROWS = [
    ["App Down", "On-call Engineer", "Tech Lead", "CTO"],
    ["Data Loss", "On-call Engineer", "Tech Lead + Clinical Lead", "CTO + Executive Sponsor"],
    ["Security", "On-call Engineer + Security Lead", "Security Lead", "CTO + Legal"],
    ["PHI Exposure", "Security Lead", "Legal + Clinical Lead", "CEO"],
    ["Performance", "On-call Engineer", "Tech Lead", "-"],
    ["User Impact", "Support", "Coach Lead", "Clinical Lead"],
]
ROLES = ["On-call Engineer", "Secondary On-call", "Tech Lead", "Clinical Lead",
         "Security Lead", "Executive Sponsor", "CTO", "CEO", "Legal", "Coach Lead",
         "Support"]


def matrix_rows(response):
    table = soup(response).select_one("table.matrix")
    return [[c.get_text(" ", strip=True) for c in tr.select("th, td")]
            for tr in table.select("tbody tr")]


def form_data(response) -> MultiDict:
    """Every field the contacts form would send, checkboxes with one name included."""
    form = soup(response).select_one("form.contacts-form")
    data = MultiDict()
    for el in form.select("input[name]"):
        if el.get("type") == "checkbox" and not el.has_attr("checked"):
            continue
        data.add(el["name"], el.get("value", ""))
    return data


def changed(data: MultiDict, **fields) -> MultiDict:
    """``data`` with these fields replaced (a list: several values; None: left out)."""
    data = MultiDict(data)
    for name, value in fields.items():
        name = name.replace("__", ".")
        data.poplist(name)
        for one in (value if isinstance(value, list) else [] if value is None else [value]):
            data.add(name, one)
    return data


def test_the_page_shows_the_playbooks_roles_and_matrix(app, admin_client):
    page = admin_client.get("/staff/contacts")
    assert page.status_code == 200
    doc = soup(page)
    assert [legend.get_text(strip=True)
            for legend in doc.select("fieldset.contact-row > legend")] == ROLES
    assert matrix_rows(page) == PLAYBOOK_ROWS
    assert doc.select_one("nav.staff-nav a[href='/staff/contacts']") is not None


def test_the_page_says_which_severities_tell_whom(app, admin_client):
    """The help and the roles' hints name the severities the table gives (issue 22, point
    5): the same words as before the table."""
    doc = soup(admin_client.get("/staff/contacts"))
    text = " ".join(doc.get_text(" ").split())
    assert ("On declaration, a SEV-1 or SEV-2 incident tells the Primary roles of its type, "
            "a SEV-1 the Executive column too, and \"health data may be affected\" the "
            "Clinical Lead. When a SEV-1 or SEV-2 incident's response target passes without "
            "acknowledgement, the Escalate To roles are told.") in text
    hints = [p.get_text(strip=True) for p in doc.select("p.help")
             if p.get_text().startswith("When to contact")]
    assert sorted(hints) == sorted(["When to contact: Any SEV-1/2", "When to contact: SEV-1 escalation",
                     "When to contact: Health data issues",
                     "When to contact: Security incidents",
                     "When to contact: SEV-1 escalation",
                     "When to contact: Backup if primary unavailable"])


def test_an_admin_saves_contacts_and_a_matrix_cell_audited(app, admin_client):
    page = admin_client.get("/staff/contacts")
    data = changed(form_data(page), oncall_name="Olga Oncall",
                   oncall_email=" OnCall@Example.TEST ", performance__executive=["cto", "ceo"])
    response = admin_client.post("/staff/contacts", data=data)
    assert response.status_code == 302
    db.session.expire_all()
    row = db.session.get(Contact, "oncall")
    assert (row.name, row.email) == ("Olga Oncall", "oncall@example.test")
    page = admin_client.get("/staff/contacts")
    assert matrix_rows(page)[4] == ["Performance", "On-call Engineer", "Tech Lead",
                                    "CTO + CEO"]
    assert matrix_rows(page)[:4] == PLAYBOOK_ROWS[:4]
    [event] = audit_events("contacts.save")
    assert event.after["matrix"] == {"performance.executive": ["cto", "ceo"]}
    assert event.after["contacts"]["oncall"]["name"] == "Olga Oncall"
    # Clearing a cell leaves it empty (not the playbook's again).
    data = changed(form_data(page), user_impact__primary=None)
    admin_client.post("/staff/contacts", data=data)
    assert matrix_rows(admin_client.get("/staff/contacts"))[5][1] == "-"
    assert contacts.roles_for("user_impact", "primary") == ()


def test_bad_contact_input_changes_nothing(app, admin_client):
    page = admin_client.get("/staff/contacts")
    base = form_data(page)
    for name, value, message in [
        ("tech_lead_email", "not an address", "Enter an email address"),
        ("tech_lead_email", "a@b.test\r\nBcc: x@y.test", "Enter an email address"),
        ("tech_lead_name", "x" * 101, "At most 100 characters."),
    ]:
        response = admin_client.post("/staff/contacts", data=changed(base, **{name: value}))
        assert response.status_code == 422, name
        assert message in field_error(response, name)
    response = admin_client.post("/staff/contacts",
                                 data=changed(base, app_down__primary=["oncall", "janitor"]))
    assert response.status_code == 422
    assert "Choose among the roles listed." in response.get_data(as_text=True)
    assert db.session.scalar(db.select(db.func.count()).select_from(Contact)) == 0
    assert db.session.scalar(db.select(db.func.count()).select_from(EscalationCell)) == 0
    assert audit_events("contacts.save") == []


def test_the_declaration_fields_are_stored_shown_to_staff_and_editable(
        app, responder_client, client, components):
    form = soup(responder_client.get("/staff/incidents/new"))
    assert form.select_one("#incident_type option[selected]")["value"] == ""
    assert not form.select_one("#health_data_affected").has_attr("checked")
    response = declare(responder_client, components[:1], incident_type="phi_exposure",
                       health_data_affected="y", issue="Charts show the wrong week")
    assert response.status_code == 302
    incident = db.session.scalars(db.select(Incident)).one()
    assert (incident.incident_type, incident.health_data_affected) == ("phi_exposure", True)
    page = soup(responder_client.get(f"/staff/incidents/{incident.id}"))
    assert page.select_one(".incident-type").get_text() == "PHI Exposure"
    assert page.select_one(".health-data").get_text() == "Yes"
    for url in ("/", f"/incidents/{incident.id}", "/feed.atom", "/feed.rss",
                "/api/v2/incidents.json", "/api/v2/summary.json"):
        text = client.get(url).get_data(as_text=True)
        assert client.get(url).status_code == 200, url
        assert "PHI Exposure" not in text and "phi_exposure" not in text, url
        assert "Health data may be affected" not in text, url

    edit = f"/staff/incidents/{incident.id}/edit"
    assert soup(responder_client.get(edit)).select_one(
        "#incident_type option[selected]")["value"] == "phi_exposure"
    response = submit(responder_client, edit, "form.incident-form", incident_type="",
                      health_data_affected=None)
    assert response.status_code == 302
    db.session.expire_all()
    assert (incident.incident_type, incident.health_data_affected) == (None, False)
    [event] = audit_events("incident.edit")
    assert event.before["incident_type"] == "phi_exposure"
    assert event.after["health_data_affected"] is False


def test_an_unknown_incident_type_is_refused(app, responder_client, components):
    response = declare(responder_client, components[:1], incident_type="meteor")
    assert response.status_code == 422
    assert "Choose one of the incident types" in field_error(response, "incident_type")
    assert db.session.scalar(db.select(db.func.count()).select_from(Incident)) == 0


def test_forms_without_the_new_fields_keep_working(app, responder_client, components):
    response = declare(responder_client, components[:1], incident_type=None)
    assert response.status_code == 302
    incident = db.session.scalars(db.select(Incident)).one()
    assert (incident.incident_type, incident.health_data_affected) == (None, False)


def test_an_edit_without_the_declaration_fields_keeps_them(
        app, responder_client, responder, components, make_incident):
    incident = make_incident(responder, components[:1])
    incident.incident_type, incident.health_data_affected = "data_loss", True
    db.session.commit()
    response = submit(responder_client, f"/staff/incidents/{incident.id}/edit",
                      "form.incident-form", incident_type=None, health_data_affected=None,
                      issue="Login slow")
    assert response.status_code == 302
    db.session.expire_all()
    assert (incident.title, incident.incident_type, incident.health_data_affected) == (
        "Login slow", "data_loss", True)

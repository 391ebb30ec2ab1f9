"""The contacts' notices with real notifier processes: three at once send each notice and
each escalation exactly once (issue 14, point 4). Since paging (issue 24) the escalation is
the chain's pages: three notifiers at once page each step once."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest

from statuspage import contacts, incidents
from statuspage.extensions import db
from statuspage.models import Page, StaffEmail
from tests.conftest import T0
from tests.smtp import app, smtp  # noqa: F401  (fixtures)
from tests.test_notifier_process import notifier  # noqa: F401  (fixture)

pytestmark = pytest.mark.process


def test_three_notifiers_at_once_send_each_notice_once(
        notifier, smtp, clock, admin, responder, components):  # noqa: F811
    people = {"oncall": "oncall@example.test", "cto": "cto@example.test",
              "security_lead": "oncall@example.test",  # one person in two roles
              "legal": "legal@example.test"}
    contacts.save({r: contacts.ContactValue("", people.get(r, "")) for r in
                   contacts.ROLE_NAMES}, None, actor=admin, now=clock())
    db.session.commit()
    incidents.open_incident(
        actor=responder, now=clock(), title="App down", severity="SEV-1",
        component_ids=[components[0].id], incident_type="security",
        update=incidents.UpdateText(status="investigating", impact="No one can sign in.",
                                    actions="We are investigating."))
    db.session.commit()
    at = T0 + timedelta(minutes=16)  # one period of the chain passed: its step 1 too
    procs = [notifier(at, "--once") for _ in range(3)]
    for proc in procs:
        out, _ = proc.communicate(timeout=300)
        assert proc.returncode == 0, out
    received = Counter((m.subject.split(":")[0], m.to) for m in smtp.messages)
    assert received == Counter({
        ("Metabolic-Tracker SEV-1 incident declared", "oncall@example.test"): 1,
        ("Metabolic-Tracker SEV-1 incident declared", "cto@example.test"): 1,
        ("Metabolic-Tracker SEV-1 incident declared", "legal@example.test"): 1,
        # The pages (issue 24): the first (Primary on-call, Security Lead), then step 1
        # (no Secondary On-call set: the Security Lead alone); no escalation email.
        ("Metabolic-Tracker SEV-1", "oncall@example.test"): 2,
    })
    db.session.rollback()
    assert [(p.step, p.roles) for p in db.session.scalars(db.select(Page).order_by(
        Page.step))] == [(0, "Primary on-call, Security Lead"), (1, "Security Lead")]
    assert db.session.scalar(db.select(db.func.count()).select_from(StaffEmail)
                             .where(StaffEmail.status != "sent")) == 0

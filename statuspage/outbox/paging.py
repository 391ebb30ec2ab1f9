"""The playbook's paging (After Hours Protocol): when a page goes, and the escalation
chain.

A SEV-1/2 declared (by staff, the write API or a monitor), or a monitor's proposal of one,
starts a ``PageChain`` and pages the primary on call at once; a Security incident pages the
Security Lead from the first step. Each period without an acknowledgement
(PAGE_ESCALATION_MINUTES) the notifier's tick pages the next step: the secondary, then the
Tech Lead, then the last step again, at most PAGE_REPEAT_LIMIT times. A SEV-3/4 pages no
one: the primary gets an email in business hours (BUSINESS_HOURS), at the next start after
hours. Every page and step is a row with a unique key: once, whatever the notifiers do.

- Step ``n`` is due at ``started_at + n`` periods while the chain is neither acknowledged
  nor closed and its subject still calls for paging (an open incident of a severity that
  pages; an open proposal whose monitor is still down). A notifier that was away pages
  every step it missed at once (the primary, the secondary and the Tech Lead; a repeat
  only the latest), never one twice: ``chain:<chain>:<step>:<address>`` is unique.
- Each person is paged once per step, in all the roles they hold there ("Primary on-call,
  Security Lead"); a page's ways render its text when they go (``page_text``), and a page
  whose chain stopped renders nothing: its unsent ways are cancelled.
- A chain closes when its incident resolves or its proposal is dismissed. A proposal
  published as an incident hands its chain to the incident (the incident's own chain,
  queued in the same transaction and not yet sent, makes way): the timing, the steps
  already paged and an acknowledgement carry over, so no one is paged twice for one outage.
- A SEV-3/4 (or any severity that does not page) emails the primary on call instead
  (``oncall_email``).
- A Security incident pages the Security Lead at once whatever its severity ("Decided
  after review"): a SEV-3/4 one has a chain of that one page (no one on call is paged, no
  step follows); raised to SEV-1/2 later, its chain begins then, with the primary.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Mapping, Optional
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from .. import contacts
from ..extensions import db
from ..models import Incident, MonitorProposal, Page, PageChain, StaffEmail
from ..paging import acks, business_hours, rotations
from ..present import incident_commander, local_time
from ..severity import SEVERITIES
from ..transactions import write_transaction
from . import pages

log = logging.getLogger("statuspage.notifier")

#: How each role is named on a page and on the staff pages.
ROLE_WORDS = {"primary": "Primary on-call", "secondary": "Secondary on-call",
              "tech_lead": "Tech Lead", "security_lead": "Security Lead"}
#: The step that repeats (the Tech Lead's).
LAST = 2
_WARNED: set[tuple[int, int]] = set()


# --- Settings ------------------------------------------------------------------------------


def check_config(config: Mapping) -> None:
    """At app start: RuntimeError, with what to write, for a bad BUSINESS_HOURS,
    PAGE_ESCALATION_MINUTES or PAGE_REPEAT_LIMIT."""
    try:
        business_hours.parse(config["BUSINESS_HOURS"])
    except business_hours.BadBusinessHours as exc:
        raise RuntimeError(str(exc)) from None
    minutes = config["PAGE_ESCALATION_MINUTES"]
    if isinstance(minutes, bool) or not isinstance(minutes, (int, float)) or minutes <= 0:
        raise RuntimeError(f"PAGE_ESCALATION_MINUTES={minutes!r}: write a number of minutes "
                           "greater than 0 (fractions allowed), e.g. 15.")
    limit = config["PAGE_REPEAT_LIMIT"]
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
        raise RuntimeError(f"PAGE_REPEAT_LIMIT={limit!r}: write a whole number, 0 or more, "
                           "e.g. 3.")


def period() -> timedelta:
    return timedelta(minutes=float(current_app.config["PAGE_ESCALATION_MINUTES"]))


def last_step() -> int:
    return LAST + int(current_app.config["PAGE_REPEAT_LIMIT"])


def site_tz() -> ZoneInfo:
    return ZoneInfo(current_app.config["SITE_TIMEZONE"])


def hours() -> business_hours.BusinessHours:
    return business_hours.parse(current_app.config["BUSINESS_HOURS"])


def minutes_text(span: timedelta) -> str:
    minutes = span.total_seconds() / 60
    return f"{minutes:g} minute{'' if minutes == 1 else 's'}"


# --- The chain -----------------------------------------------------------------------------


def subject_of(chain: PageChain):
    """The chain's incident or proposal (None: deleted)."""
    model = Incident if chain.subject == "incident" else MonitorProposal
    return db.session.get(model, chain.subject_id)


def on_call_paged(chain: PageChain) -> bool:
    """The chain pages the people on call: its subject's severity pages. Else (a SEV-3/4
    Security incident) it pages the Security Lead alone, once."""
    subject = subject_of(chain)
    return subject is not None and SEVERITIES[subject.severity].pages


def calls_for_paging(chain: PageChain) -> bool:
    """Neither acknowledged nor closed, and its subject still calls for paging."""
    if chain.acknowledged_at is not None or chain.closed_at is not None:
        return False
    subject = subject_of(chain)
    if subject is None:
        return False
    if isinstance(subject, Incident):
        return not subject.is_resolved and (SEVERITIES[subject.severity].pages
                                            or chain.security)
    return (SEVERITIES[subject.severity].pages and subject.status == "open"
            and subject.recovered_at is None)


def due_step(chain: PageChain, now: datetime) -> int:
    """The latest step due at ``now`` (-1 before the first)."""
    if now < chain.started_at:
        return -1
    last = last_step() if on_call_paged(chain) else 0
    return min(int((now - chain.started_at) / period()), last)


def people_at(chain: PageChain, step: int, now: datetime) -> dict[str, list[str]]:
    """address -> the roles it is paged in at ``step`` (one entry per person)."""
    found: dict[str, list[str]] = {}
    known: dict[str, str] = {}  # lower-case -> the address as first written

    def add(address: Optional[str], role: str) -> None:
        if address:
            address = known.setdefault(address.strip().lower(), address.strip())
            found.setdefault(address, []).append(ROLE_WORDS[role])

    if not on_call_paged(chain):
        pass  # the Security Lead alone
    elif step == 0:
        on_call = rotations.on_call("primary", now)
        add(on_call and on_call.email, "primary")
    elif step == 1:
        on_call = rotations.on_call("secondary", now)
        add(on_call and on_call.email, "secondary")
    else:
        add(contacts.contacts()["tech_lead"].email, "tech_lead")
    if chain.security:
        add(contacts.contacts()["security_lead"].email, "security_lead")
    return found


def queue_step(chain: PageChain, step: int, now: datetime, *, only: str = "") -> int:
    """In the caller's transaction: each person of ``step`` paged (``only``: those in this
    role, its words), unless they were at this step already. How many pages are new."""
    people = {address: roles for address, roles in people_at(chain, step, now).items()
              if not only or only in roles}
    if not people and (chain.id, step) not in _WARNED:  # once per process, not every tick
        _WARNED.add((chain.id, step))
        log.warning("page chain %s: no one to page at step %s", chain.id, step)
    new = 0
    for address, roles in people.items():
        page = pages.queue_page(key=f"chain:{chain.id}:{step}:{address.lower()}",
                                kind="chain", recipient=address, now=now, chain_id=chain.id,
                                step=step, roles=", ".join(roles))
        new += page is not None
    return new


def steps_paged(chain_id: int) -> set[int]:
    return set(db.session.scalars(db.select(Page.step).distinct()
                                  .where(Page.chain_id == chain_id)))


def missing_steps(chain: PageChain, now: datetime) -> list[int]:
    """The steps due that paged no one yet (a step is paged to the people of its time,
    once: a handover later does not page a past step again)."""
    paged = steps_paged(chain.id)
    return [step for step in steps_to_queue(chain, now) if step not in paged]


def steps_to_queue(chain: PageChain, now: datetime) -> list[int]:
    """The steps due that a page goes for: each of the first ones missed, and the latest."""
    due = due_step(chain, now)
    return sorted({min(step, LAST) for step in range(due + 1)} | ({due} if due >= 0 else set()))


def chain_of(subject: str, subject_id: int) -> Optional[PageChain]:
    return db.session.scalar(db.select(PageChain).where(
        PageChain.subject == subject, PageChain.subject_id == subject_id))


def start(subject: str, subject_id: int, *, security: bool, now: datetime,
          raised: bool = False) -> PageChain:
    """The subject's chain (created once: unique, ON CONFLICT DO NOTHING) with the steps
    due queued, in the caller's transaction (flushes). ``raised``: the incident was just
    raised to a severity that pages (a Security one's chain, the Security Lead's alone
    until now, begins its steps now)."""
    db.session.flush()
    insert = pg_insert if db.session.get_bind().dialect.name == "postgresql" else sqlite_insert
    db.session.execute(insert(PageChain).values(
        subject=subject, subject_id=subject_id, started_at=now, security=security
    ).on_conflict_do_nothing(index_elements=["subject", "subject_id"]))
    chain = chain_of(subject, subject_id)
    if security and not chain.security:  # a type changed to Security: from now on
        chain.security = True
        db.session.flush()
        if calls_for_paging(chain) and due_step(chain, now) >= 0:
            queue_step(chain, due_step(chain, now), now, only=ROLE_WORDS["security_lead"])
    begins = raised and chain.started_at != now and not primary_paged(chain.id)
    if begins:  # raised from a SEV-3/4 Security incident: the chain's steps begin now
        chain.started_at = now
        db.session.flush()
    if calls_for_paging(chain):
        for step in sorted(set(missing_steps(chain, now)) | ({0} if begins else set())):
            queue_step(chain, step, now)
    return chain


def queue_due_steps(now: datetime) -> int:
    """Commits: page each chain's steps that time has made due (each in a write
    transaction of its own, re-read under the lock). How many pages went into the queue."""
    waiting = db.session.execute(
        db.select(PageChain.id, PageChain.started_at)
        .where(PageChain.acknowledged_at.is_(None), PageChain.closed_at.is_(None))).all()
    queued_steps: dict[int, set[int]] = {}
    if waiting:
        for chain_id, step in db.session.execute(
                db.select(Page.chain_id, Page.step).distinct()
                .where(Page.chain_id.in_([c for c, _ in waiting]))):
            queued_steps.setdefault(chain_id, set()).add(step)
    todo = []
    for chain_id, _started_at in waiting:
        chain = db.session.get(PageChain, chain_id)
        missing = set(steps_to_queue(chain, now)) - queued_steps.get(chain_id, set())
        if any(people_at(chain, step, now) for step in missing):  # else no lock to take
            todo.append(chain_id)
    db.session.rollback()
    new = 0
    for chain_id in todo:
        with write_transaction():
            chain = db.session.get(PageChain, chain_id)  # read afresh under the lock
            if chain is None or not calls_for_paging(chain):
                continue
            for step in missing_steps(chain, now):
                new += queue_step(chain, step, now)
    return new


def primary_paged(chain_id: int) -> bool:
    return db.session.scalar(db.select(Page.id).where(
        Page.chain_id == chain_id, Page.roles.contains(ROLE_WORDS["primary"])).limit(1)
        ) is not None


def close(chain: Optional[PageChain], now: datetime) -> None:
    """The chain stops without an answer (its subject ended); unsent ways are cancelled
    when they render."""
    if chain is not None and chain.acknowledged_at is None and chain.closed_at is None:
        chain.closed_at = now
        db.session.flush()


def hand_over(proposal: MonitorProposal, now: datetime) -> None:
    """A proposal published as an incident: the proposal's chain becomes the incident's
    (its timing, its steps paged and its acknowledgement carry over); the incident's own
    chain, just queued in this same transaction, makes way. Dismissed, or published as an
    incident that does not page: the proposal's chain closes."""
    chain = chain_of("proposal", proposal.id)
    if chain is None:
        return
    incident = proposal.incident_id and db.session.get(Incident, proposal.incident_id)
    own = incident and chain_of("incident", incident.id)
    if proposal.status != "published" or not incident:
        close(chain, now)
        return
    if own is not None:
        if own.acknowledged_at is not None or own.started_at != now:
            close(chain, now)  # not the chain of this transaction's declaration
            return
        page_ids = list(db.session.scalars(db.select(Page.id).where(Page.chain_id == own.id)))
        if page_ids:
            db.session.execute(db.delete(StaffEmail).where(
                StaffEmail.kind == "page", StaffEmail.subject_id.in_(page_ids)))
            db.session.execute(db.delete(Page).where(Page.id.in_(page_ids)))
        db.session.delete(own)
        db.session.flush()
    elif not SEVERITIES[incident.severity].pages:
        close(chain, now)
        return
    chain.subject, chain.subject_id = "incident", incident.id
    chain.security = incident.incident_type == "security"
    db.session.flush()
    if chain.security and calls_for_paging(chain):  # the Security Lead, from now on
        queue_step(chain, max(due_step(chain, now), 0), now, only=ROLE_WORDS["security_lead"])


# --- What the event listeners call ---------------------------------------------------------


def on_incident(incident: Incident, now: datetime, *,
                severity_before: Optional[str] = None) -> None:
    """Declared or edited: a severity that pages starts (or resumes) the chain, and so does
    a Security incident of any severity (the Security Lead alone). (A severity that does not
    page emails the primary on call: ``oncall_email``.)"""
    if incident.is_resolved:
        return
    security = incident.incident_type == "security"
    pages_now = SEVERITIES[incident.severity].pages
    if pages_now or security:
        raised = bool(severity_before) and pages_now and \
            not SEVERITIES[severity_before].pages
        start("incident", incident.id, security=security, now=now, raised=raised)


def on_proposal(proposal: MonitorProposal, now: datetime) -> None:
    """A monitor's proposal of a severity that pages, not published by the monitor itself
    (an auto-published incident has its own chain)."""
    if (not proposal.auto_published and proposal.incident_id is None
            and SEVERITIES[proposal.severity].pages):
        start("proposal", proposal.id, security=False, now=now)


def on_resolved(incident: Incident, now: datetime) -> None:
    close(chain_of("incident", incident.id), now)


def on_acknowledged(incident: Incident, by: str, now: datetime) -> None:
    """The staff page's Acknowledge (or the ack link's) stops the chain too."""
    chain = chain_of("incident", incident.id)
    if chain is not None:
        acks.acknowledge_chain(chain.id, by=by, now=now)


# --- A page's text -------------------------------------------------------------------------


def step_text(step: int) -> str:
    """What a step says: why this person is paged now."""
    span = minutes_text(period())
    if step == 0:
        return "First page: paged at once, at any hour."
    if step == 1:
        return f"Escalation step 1: the primary did not answer within {span}."
    if step == LAST:
        return (f"Escalation step 2: the primary and secondary did not answer within "
                f"{span}.")
    limit = int(current_app.config["PAGE_REPEAT_LIMIT"])
    return (f"Escalation step 2, repeated ({step - LAST} of {limit}): no one has answered "
            "yet.")


def page_text(page, now: datetime):
    """A chain page's ``outbox.pages.PageText`` (title, body, ack link), or None once the
    chain was acknowledged or closed (the way is then cancelled)."""
    chain = page.chain_id and db.session.get(PageChain, page.chain_id)
    if not chain or not calls_for_paging(chain):
        return None
    subject = subject_of(chain)
    site = current_app.config["SITE_NAME"]
    base = current_app.config["PUBLIC_URL"].rstrip("/")
    info = SEVERITIES[subject.severity]
    if isinstance(subject, Incident):
        title = f"{site} {subject.severity}: {subject.title}"
        lines = [f"Severity: {subject.severity} ({info.name})",
                 f"Type: {contacts.type_name(subject.incident_type)}",
                 f"Started: {local_time(subject.started_at, site_tz())}",
                 step_text(page.step), f"Paged as: {page.roles}",
                 f"Incident Commander: {incident_commander(subject)}",
                 f"Staff page: {base}/staff/incidents/{subject.id}"]
    else:
        title = f"{site} {subject.severity} proposed: {subject.component.name} is down"
        lines = [f"Severity: {subject.severity} ({info.name}), proposed by a monitor",
                 f"Down since: {local_time(subject.first_failed_at, site_tz())}",
                 step_text(page.step), f"Paged as: {page.roles}",
                 "Incident Commander: none yet",
                 f"Staff dashboard: {base}/staff/"]
    return pages.PageText(title, "\n".join(lines), acks.ack_url(page, chain))

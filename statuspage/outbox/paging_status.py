"""What the staff pages show of paging (reads only): every page of an incident's chain (who,
which step, which ways and what each answered, when acknowledged and by whom), the record
timeline's lines, and the dashboard's incidents being paged and unacknowledged.

People are named by their shown name (a staff account's, else the contact's name, else
the address); never a phone number or a page URL: a way is named by its service.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Optional

from .. import contacts
from ..extensions import db
from ..models import Incident, MonitorProposal, Page, PageChain, StaffUser
from . import pages, paging

STEP_NAMES = {0: "First page", 1: "Step 1 (secondary)", 2: "Step 2 (Tech Lead)"}
STATUS_WORDS = {"pending": "waiting", "sending": "sending", "sent": "sent",
                "failed": "failed", "cancelled": "cancelled (no longer needed)"}


def step_name(step: int) -> str:
    return STEP_NAMES.get(step, f"Step 2, repeat {step - paging.LAST}")


def shown_names(addresses) -> dict[str, str]:
    """address -> the person's shown name (staff account, else contact name, else the
    address)."""
    wanted = {a.lower(): a for a in addresses}
    names = {a: a for a in wanted.values()}
    if not wanted:
        return names
    for user in db.session.scalars(db.select(StaffUser).where(
            db.func.lower(StaffUser.email).in_(list(wanted)))):
        names[wanted[user.email.lower()]] = user.shown_name
    for value in contacts.contacts().values():
        original = wanted.get((value.email or "").lower())
        if original and value.name and names[original] == original:
            names[original] = value.name
    return names


@dataclass
class PageRow:
    page: Page
    who: str
    ways: list = field(default_factory=list)  # outbox.pages ways: service, status, answer

    @property
    def step_name(self) -> str:
        return step_name(self.page.step)

    def ways_text(self) -> str:
        """"email: sent; ntfy: failed (HTTP 500)"."""
        parts = []
        for way in self.ways:
            text = f"{way.service}: {STATUS_WORDS.get(way.status, way.status)}"
            if getattr(way, "answer", ""):
                text += f" ({way.answer})"
            parts.append(text)
        return "; ".join(parts) or "no way yet"


@dataclass
class Paging:
    """A chain as the staff see it."""

    chain: PageChain
    rows: list[PageRow]
    next_step_at: Optional[datetime]  # None: acknowledged, closed or past the last step

    @property
    def state(self) -> str:
        if self.chain.acknowledged_at is not None:
            return "acknowledged"
        if self.chain.closed_at is not None:
            return "closed"
        return "paging"


def paging_of(subject: str, subject_id: int, now: Optional[datetime]) -> Optional[Paging]:
    """The subject's chain and its pages, oldest first (None: it never paged); with
    ``now``, when its next step falls due."""
    chain = paging.chain_of(subject, subject_id)
    if chain is None:
        return None
    found = list(db.session.scalars(db.select(Page).where(Page.chain_id == chain.id)
                                    .order_by(Page.step, Page.id)))
    names = shown_names(p.recipient for p in found)
    ways = pages.ways_of([p.id for p in found])
    rows = [PageRow(p, names[p.recipient], ways.get(p.id, [])) for p in found]
    next_at = None
    if now is not None and paging.calls_for_paging(chain):
        step = paging.due_step(chain, now) + 1
        if step <= paging.last_step():
            next_at = chain.started_at + step * paging.period()
    return Paging(chain, rows, next_at)


def timeline_events(incident_id: int) -> list[tuple[datetime, str]]:
    """(time, text) for the record's timeline: each page (who, step, roles, ways), the
    acknowledgement or the end of the chain."""
    found = paging_of("incident", incident_id, None)
    if found is None:
        return []
    events = [(row.page.created_at,
               f"Paged {row.who} ({row.page.roles or 'on call'}), {row.step_name.lower()}: "
               f"{row.ways_text()}") for row in found.rows]
    chain = found.chain
    if chain.acknowledged_at is not None:
        events.append((chain.acknowledged_at,
                       f"Page acknowledged by {chain.acknowledged_by}: the paging stopped"))
    elif chain.closed_at is not None:
        events.append((chain.closed_at, "Paging stopped without an answer (resolved)"))
    return events


@dataclass
class BeingPaged:
    """A dashboard row: an incident (or proposal) paged and not yet acknowledged."""

    subject: object
    is_incident: bool
    paging: Paging

    @property
    def latest(self) -> Optional[PageRow]:
        return self.paging.rows[-1] if self.paging.rows else None


def being_paged(now: datetime) -> list[BeingPaged]:
    """Incidents and proposals being paged and unacknowledged, the oldest chain first."""
    rows = []
    for chain in db.session.scalars(db.select(PageChain).where(
            PageChain.acknowledged_at.is_(None), PageChain.closed_at.is_(None))
            .order_by(PageChain.started_at)):
        if not paging.calls_for_paging(chain):
            continue
        subject = db.session.get(Incident if chain.subject == "incident" else MonitorProposal,
                                 chain.subject_id)
        rows.append(BeingPaged(subject, chain.subject == "incident",
                               paging_of(chain.subject, chain.subject_id, now)))
    return rows

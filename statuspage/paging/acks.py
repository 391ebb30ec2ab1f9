"""Acknowledge in one tap: every chain page carries ``PUBLIC_URL/ack/<token>``.

The token is signed with SECRET_KEY (its own salt: no other link's token passes), carries
the page's id, the person's address and the chain's subject ("incident" or "proposal" and
its id), and lasts 24 hours from the page. It is single use: the page's ``ack_used_at`` is
set by a conditional UPDATE (``WHERE ack_used_at IS NULL``), so two taps, two devices or
two requests at once acknowledge once.

An acknowledgement stops the chain for everyone (``PageChain.acknowledged_at`` and
``acknowledged_by``, set once, by whoever came first). For an incident it is also the
incident's acknowledgement, as the staff page's Acknowledge button: a staff member who
answers an incident without a commander becomes its commander and acknowledges it
(``roles``); a contact who is not staff is named on the chain, and the incident waits for
its commander. The staff page's button stops the chain too (``roles.acknowledge`` records
``IncidentAcknowledged``; ``outbox.paging`` hears it).

Functions take ``now``, audit, flush and never commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Optional

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from itsdangerous.timed import TimestampSigner

from .. import audit, contacts, roles
from ..clock import utcnow
from ..errors import ValidationError
from ..extensions import db
from ..models import Incident, MonitorProposal, Page, PageChain, StaffUser
from ..present import iso

#: How long an ack link works, from the page.
LIFETIME = timedelta(hours=24)
_TOKEN_MAX = 300


class BadAck(Exception):
    """The link cannot acknowledge; ``reason`` says why, in words for the page."""

    def __init__(self, reason: str, *, status: int = 400, chain: Optional[PageChain] = None):
        super().__init__(reason)
        self.reason, self.status, self.chain = reason, status, chain


INVALID = "This acknowledgement link is not valid: it may be cut short or changed."
EXPIRED = ("This acknowledgement link has expired: links work for 24 hours after the page. "
           "Open the incident in the staff area instead.")
NOT_YOURS = "This acknowledgement link does not belong to this page."
USED = "This acknowledgement link was already used"
ENDED = "Nothing to acknowledge: the paging stopped because "


class _ClockSigner(TimestampSigner):
    """Timestamps from the app's clock, so tests can age a token without sleeping."""

    def get_timestamp(self) -> int:
        return int(utcnow().timestamp())


@lru_cache(maxsize=8)
def _serializer(secret_key) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt="statuspage.page.ack",
                                  signer=_ClockSigner)


def make_token(page: Page, chain: PageChain) -> str:
    """The page's ack token (bound to the page, the person and the chain's subject)."""
    return _serializer(current_app.config["SECRET_KEY"]).dumps(
        [page.id, page.recipient, chain.subject, chain.subject_id])


def ack_url(page: Page, chain: PageChain) -> str:
    return f"{current_app.config['PUBLIC_URL'].rstrip('/')}/ack/{make_token(page, chain)}"


@dataclass
class Ack:
    """A valid link's page, what it is about, and who it acknowledges as."""

    page: Page
    chain: PageChain
    incident: Optional[Incident]
    proposal: Optional[MonitorProposal]
    person: Optional[StaffUser]  # an active staff account with the page's address
    name: str  # how the person is named: the staff account's, the contact's, the address

    @property
    def what(self) -> str:
        if self.incident is not None:
            return f"{self.incident.severity} incident: {self.incident.title}"
        if self.proposal is not None:
            return (f"{self.proposal.severity} proposed by a monitor: "
                    f"{self.proposal.component.name} is down")
        return "an incident that was deleted"


def person_named(address: str) -> tuple[Optional[StaffUser], str]:
    """The active staff account with this address, and the person's shown name (the
    account's, else a contact's name, else the address)."""
    user = db.session.scalar(db.select(StaffUser).where(
        db.func.lower(StaffUser.email) == address.lower(), StaffUser.active.is_(True)))
    if user is not None:
        return user, user.shown_name
    for value in contacts.contacts().values():
        if value.email and value.email.lower() == address.lower() and value.name:
            return None, value.name
    return None, address


def _same_subject(chain: PageChain, subject: str, subject_id: int) -> bool:
    """The token's subject is the chain's, or the proposal whose chain the incident it
    became took over (a page sent before the publishing still acknowledges)."""
    if (chain.subject, chain.subject_id) == (subject, subject_id):
        return True
    if subject != "proposal" or chain.subject != "incident":
        return False
    proposal = db.session.get(MonitorProposal, subject_id)
    return proposal is not None and proposal.incident_id == chain.subject_id


def read(token: str, now: datetime) -> Ack:
    """The link's page, or ``BadAck``: tampered, another page's, expired (24 h after the
    page)."""
    if not token or len(token) > _TOKEN_MAX:
        raise BadAck(INVALID)
    try:
        value = _serializer(current_app.config["SECRET_KEY"]).loads(
            token, max_age=int(LIFETIME.total_seconds()))
    except SignatureExpired as exc:
        raise BadAck(EXPIRED, status=410) from exc
    except (BadSignature, ValueError, TypeError, UnicodeError) as exc:
        raise BadAck(INVALID) from exc
    if (not isinstance(value, list) or len(value) != 4 or not isinstance(value[0], int)
            or not all(isinstance(v, str) for v in value[1:3])
            or not isinstance(value[3], int)):
        raise BadAck(INVALID)
    page_id, address, subject, subject_id = value
    page = db.session.get(Page, page_id)
    chain = page is not None and page.chain_id and db.session.get(PageChain, page.chain_id)
    if not chain or page.kind != "chain":
        raise BadAck(INVALID)
    if page.recipient.lower() != address.lower() or not _same_subject(chain, subject,
                                                                       subject_id):
        raise BadAck(NOT_YOURS)
    if now > page.created_at + LIFETIME:
        raise BadAck(EXPIRED, status=410)
    incident = db.session.get(Incident, chain.subject_id) if chain.subject == "incident" \
        else None
    proposal = db.session.get(MonitorProposal, chain.subject_id) \
        if chain.subject == "proposal" else None
    person, name = person_named(page.recipient)
    return Ack(page, chain, incident, proposal, person, name)


def refusal(ack: Ack, tz) -> Optional[BadAck]:
    """Why this page cannot be acknowledged now (already, by someone; the link used; the
    paging ended), or None: it can."""
    chain = ack.chain
    if chain.acknowledged_at is not None:
        when = chain.acknowledged_at.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z")
        return BadAck(f"Already acknowledged by {chain.acknowledged_by} at {when}.",
                      status=409, chain=chain)
    if ack.page.ack_used_at is not None:
        return BadAck(USED + ".", status=409, chain=chain)
    if chain.closed_at is not None or (ack.incident is not None and ack.incident.is_resolved):
        return BadAck(ENDED + ("the incident was resolved." if ack.incident is not None
                               else "the proposal was dismissed or published."),
                      status=409, chain=chain)
    if ack.incident is None and ack.proposal is None:
        return BadAck(INVALID)
    return None


def acknowledge_chain(chain_id: int, *, by: str, now: datetime) -> bool:
    """Stop the chain for everyone, naming who answered: once (False: it was already
    acknowledged or closed)."""
    done = db.session.execute(
        db.update(PageChain)
        .where(PageChain.id == chain_id, PageChain.acknowledged_at.is_(None),
               PageChain.closed_at.is_(None))
        .values(acknowledged_at=now, acknowledged_by=by[:120])
        .execution_options(synchronize_session="fetch"))
    return done.rowcount == 1


def acknowledge(token: str, *, now: datetime, tz) -> Ack:
    """The link's POST: the page's link used (once), the chain stopped, the incident
    acknowledged (as the staff page's button does), audited. ``BadAck`` when it cannot."""
    ack = read(token, now)
    refused = refusal(ack, tz)
    if refused is not None:
        raise refused
    used = db.session.execute(
        db.update(Page).where(Page.id == ack.page.id, Page.ack_used_at.is_(None))
        .values(ack_used_at=now).execution_options(synchronize_session="fetch"))
    if used.rowcount != 1:
        raise BadAck(USED + ".", status=409, chain=ack.chain)
    if not acknowledge_chain(ack.chain.id, by=ack.name, now=now):
        db.session.refresh(ack.chain)
        raise refusal(ack, tz) or BadAck(INVALID)
    actor = ack.person or audit.SystemActor(f"ack-link:{ack.name}")
    audit.record(actor, "page.acknowledge", ack.chain, now=now,
                 after={"acknowledged_at": iso(now), "acknowledged_by": ack.name,
                        "page_id": ack.page.id, "step": ack.page.step})
    incident = ack.incident
    if incident is not None and ack.person is not None and incident.acknowledged_at is None:
        if incident.commander_id is None:
            roles.set_roles(incident, commander_id=ack.person.id,
                            comms_lead_id=incident.comms_lead_id, actor=ack.person, now=now)
        if incident.commander_id == ack.person.id:
            try:
                roles.acknowledge(incident, actor=ack.person, now=now)
            except ValidationError:  # resolved or acknowledged meanwhile: the chain stops
                pass
    db.session.refresh(ack.chain)
    return ack

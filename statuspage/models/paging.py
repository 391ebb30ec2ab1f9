"""Paging (issue 24): on-call rotations and their overrides, the chain of pages an incident
or a monitor's proposal starts, each page to one person, and each way it goes (SMS, an
Apprise URL; the email way is a ``StaffEmail`` of kind "page").

Times are UTC. A rotation's handovers keep the wall time (in SITE_TIMEZONE) of its first
one, ``handover_at``, across a daylight-saving change.
"""

from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import (CheckConstraint, ForeignKey, Index, String, Text,
                        UniqueConstraint)
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .vocab import DELIVERY_STATUSES, EMAIL_MAX, NAME_MAX, _in

ROTATION_ROLES = ("primary", "secondary")
HANDOVER_EVERY = ("day", "week")
#: What a chain pages about.
CHAIN_SUBJECTS = ("incident", "proposal")
#: chain: a step of a chain (ack link); test: "Send me a test page"; handover: "You are
#: on call until ..." (no ack link).
PAGE_KINDS = ("chain", "test", "handover")


class Rotation(db.Model):
    """Who is on call in one role: ``members`` (staff emails, one per line, in order) take
    turns, handing over every day or week at ``handover_at``'s wall time."""

    __tablename__ = "rotations"
    __table_args__ = (
        CheckConstraint(f"role IN {_in(ROTATION_ROLES)}", name="role"),
        CheckConstraint(f"handover_every IN {_in(HANDOVER_EVERY)}", name="handover_every"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_MAX), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    #: Staff emails, one per line, in the order they take turns (the first from
    #: ``handover_at``).
    members: Mapped[str] = mapped_column(Text)
    handover_every: Mapped[str] = mapped_column(String(8))
    #: The first handover (UTC; its wall time in SITE_TIMEZONE is every handover's).
    handover_at: Mapped[datetime]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    @property
    def member_list(self) -> list[str]:
        return [line.strip() for line in (self.members or "").splitlines() if line.strip()]


class RotationOverride(db.Model):
    """``member`` is on call in the rotation's role from ``starts_at`` to ``ends_at``
    (UTC), whoever the rotation names."""

    __tablename__ = "rotation_overrides"
    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="span"),
        Index("ix_rotation_overrides_rotation_id_ends_at", "rotation_id", "ends_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    rotation_id: Mapped[int] = mapped_column(ForeignKey("rotations.id", ondelete="CASCADE"))
    member: Mapped[str] = mapped_column(String(EMAIL_MAX))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    created_at: Mapped[datetime]
    created_by: Mapped[Optional[str]] = mapped_column(String(EMAIL_MAX))


class PageChain(db.Model):
    """The escalation chain of one incident or one monitor's proposal: one per subject,
    started when it first pages. Its steps are ``Page`` rows; an acknowledgement stops it
    for everyone."""

    __tablename__ = "page_chains"
    __table_args__ = (
        UniqueConstraint("subject", "subject_id"),
        CheckConstraint(f"subject IN {_in(CHAIN_SUBJECTS)}", name="subject"),
        Index("ix_page_chains_acknowledged_at", "acknowledged_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subject: Mapped[str] = mapped_column(String(16))
    subject_id: Mapped[int]
    started_at: Mapped[datetime]
    #: A Security-type incident: the Security Lead is paged from the first step on.
    security: Mapped[bool] = mapped_column(default=False)
    acknowledged_at: Mapped[Optional[datetime]]
    #: Who answered (their shown name), for the staff pages.
    acknowledged_by: Mapped[Optional[str]] = mapped_column(String(NAME_MAX))
    #: The chain stopped without an answer (its subject resolved, dismissed or closed).
    closed_at: Mapped[Optional[datetime]]


class Page(db.Model):
    """One page to one person: once per ``key`` (a chain's step and the person, a test
    page, a handover). Its ways are ``PageSend`` rows and a ``StaffEmail`` of kind
    "page"."""

    __tablename__ = "pages"
    __table_args__ = (
        CheckConstraint(f"kind IN {_in(PAGE_KINDS)}", name="kind"),
        Index("ix_pages_chain_id", "chain_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Unique: "chain:<chain id>:<step>:<email>", "test:<user id>:<n>",
    #: "handover:<rotation id>:<shift start>".
    key: Mapped[str] = mapped_column(String(400), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    chain_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("page_chains.id", ondelete="CASCADE"))
    #: 0: the first step (the primary, and the Security Lead for a Security incident);
    #: 1: the secondary; 2: the Tech Lead; 3...: the last step again.
    step: Mapped[int] = mapped_column(default=0)
    #: The person's address (a staff account's, or a contact's).
    recipient: Mapped[str] = mapped_column(String(EMAIL_MAX))
    #: The roles this person is paged in at this step ("Primary on-call, Security Lead").
    roles: Mapped[str] = mapped_column(String(400), default="")
    created_at: Mapped[datetime]
    #: When this page's own ack link was used (single use).
    ack_used_at: Mapped[Optional[datetime]]


#: A way of a page: "sms" (SMS_URL + the phone) or "url:<n>" (the person's n-th page URL).
class PageSend(db.Model):
    """One page through one way (not email): the page channel's queue. The URL is read
    from the person's profile when it goes, never stored here; ``answer`` says what the
    way answered, without a token."""

    __tablename__ = "page_sends"
    __table_args__ = (
        UniqueConstraint("page_id", "way"),
        CheckConstraint(f"status IN {_in(DELIVERY_STATUSES)}", name="status"),
        Index("ix_page_sends_status_next_attempt_at", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    page_id: Mapped[int] = mapped_column(ForeignKey("pages.id", ondelete="CASCADE"))
    way: Mapped[str] = mapped_column(String(16))
    #: The service's name, for the staff pages: "SMS", "ntfy", "Pushover"...
    service: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime]
    lease_until: Mapped[Optional[datetime]]
    claim_token: Mapped[Optional[str]] = mapped_column(String(32))
    last_error: Mapped[Optional[str]] = mapped_column(String(300))
    last_status_code: Mapped[Optional[int]]
    sent_at: Mapped[Optional[datetime]]
    created_at: Mapped[datetime]

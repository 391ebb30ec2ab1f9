"""Rotations and overrides (issue 24, point 1), on both databases: who is on call, until
when, handovers at their wall time in SITE_TIMEZONE across daylight-saving changes, an
override winning, the contacts without rotations, bad input changing nothing, and the
handover message queued once."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from statuspage import contacts
from statuspage.errors import ValidationError
from statuspage.extensions import db
from statuspage.models import AuditEvent
from statuspage.models.paging import Page, Rotation, RotationOverride
from statuspage.paging import rotations
from statuspage.paging.rotations import OverrideFields, RotationFields
from tests.smtp import MAIL_CONFIG, smtp, tick  # noqa: F401  (fixtures)

NY = ZoneInfo("America/New_York")
UTC = timezone.utc


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def local(*args) -> datetime:
    """A New York wall time, as UTC."""
    return datetime(*args, tzinfo=NY).astimezone(UTC)


@pytest.fixture
def app(make_app, smtp):  # noqa: F811
    app = make_app(SITE_TIMEZONE="America/New_York", MAIL_PORT=smtp.port, **MAIL_CONFIG)
    with app.app_context():
        yield app


@pytest.fixture
def people(make_staff):
    return [make_staff("responder", email=f"{name}@example.test").email
            for name in ("ann", "bob", "cy")]


def add_rotation(admin, clock, members, *, name="Primary daily", role="primary",
                 every="day", first=None):
    rotation = rotations.create_rotation(RotationFields(
        name=name, role=role, members="\n".join(members), handover_every=every,
        handover_at=first or local(2026, 3, 5, 9, 0)), actor=admin, now=clock())
    db.session.commit()
    return rotation


def add_override(admin, clock, rotation, member, starts_at, ends_at):
    override = rotations.create_override(OverrideFields(
        rotation_id=rotation.id, member=member, starts_at=starts_at, ends_at=ends_at),
        actor=admin, now=clock())
    db.session.commit()
    return override


def test_a_daily_rotation_hands_over_at_nine_new_york_time_across_the_spring_change(
        app, admin, people, clock):
    clock.set(utc(2026, 3, 1))
    add_rotation(admin, clock, people)  # from Thu 5 March 09:00 EST: ann, bob, cy, ann...
    # Winter: 09:00 EST is 14:00 UTC.
    assert rotations.on_call("primary", utc(2026, 3, 6, 13, 59)).email == "ann@example.test"
    assert rotations.on_call("primary", utc(2026, 3, 6, 14, 0)).email == "bob@example.test"
    saturday = rotations.on_call("primary", utc(2026, 3, 7, 15, 0))
    assert saturday.email == "cy@example.test"
    # The clocks go forward on Sunday 8 March at 02:00: 09:00 EDT is 13:00 UTC.
    assert saturday.until == utc(2026, 3, 8, 13, 0)
    assert rotations.on_call("primary", utc(2026, 3, 8, 12, 59)).email == "cy@example.test"
    sunday = rotations.on_call("primary", utc(2026, 3, 8, 13, 0))
    assert (sunday.email, sunday.until) == ("ann@example.test", utc(2026, 3, 9, 13, 0))
    assert sunday.rotation_id is not None and not sunday.override


def test_and_across_the_autumn_change_the_utc_time_moves_back(app, admin, people, clock):
    clock.set(utc(2026, 10, 1))
    add_rotation(admin, clock, people[:2], first=local(2026, 10, 30, 9, 0))
    # 31 October, 09:00 EDT = 13:00 UTC; 1 November (clocks back at 02:00), 09:00 EST =
    # 14:00 UTC.
    halloween = rotations.on_call("primary", utc(2026, 10, 31, 13, 0))
    assert (halloween.email, halloween.until) == ("bob@example.test", utc(2026, 11, 1, 14, 0))
    assert rotations.on_call("primary", utc(2026, 11, 1, 13, 30)).email == "bob@example.test"
    assert rotations.on_call("primary", utc(2026, 11, 1, 14, 0)).email == "ann@example.test"
    assert rotations.next_handover_of(db.session.get(Rotation, 1), utc(2026, 11, 1, 14, 0)) \
        == utc(2026, 11, 2, 14, 0)


def test_a_weekly_rotation_keeps_its_wall_time_and_a_skipped_time_lands_after_the_gap(
        app, admin, people, clock):
    clock.set(utc(2026, 2, 1))
    add_rotation(admin, clock, people[:2], name="Weekly", every="week",
                 first=local(2026, 3, 1, 9, 0))  # Sunday 09:00 EST = 14:00 UTC
    assert rotations.on_call("primary", utc(2026, 3, 2)).until == utc(2026, 3, 8, 13, 0)
    rotation = add_rotation(admin, clock, people[:2], name="Nightly", role="secondary",
                            first=local(2026, 3, 7, 2, 30))
    # 02:30 does not happen on 8 March in New York: the shift starts after the gap, 03:30
    # EDT (07:30 UTC), and the next day at 02:30 EDT again (06:30 UTC).
    assert rotations.on_call("secondary", utc(2026, 3, 8, 7, 29)).email == "ann@example.test"
    assert rotations.on_call("secondary", utc(2026, 3, 8, 7, 30)).email == "bob@example.test"
    assert rotations.next_handover_of(rotation, utc(2026, 3, 8, 7, 30)) == utc(2026, 3, 9, 6, 30)


def test_a_wall_time_that_happens_twice_is_its_first_occurrence(app, admin, people, clock):
    clock.set(utc(2026, 10, 1))
    rotation = add_rotation(admin, clock, people[:2], first=local(2026, 10, 31, 1, 30))
    # 01:30 EDT (05:30 UTC) on 31 October; 1 November has 01:30 twice: the first, EDT
    # (05:30 UTC); then 01:30 EST (06:30 UTC) on 2 November.
    assert rotations.next_handover_of(rotation, utc(2026, 10, 31, 6)) == utc(2026, 11, 1, 5, 30)
    assert rotations.next_handover_of(rotation, utc(2026, 11, 1, 5, 30)) == \
        utc(2026, 11, 2, 6, 30)
    assert rotations.on_call("primary", utc(2026, 11, 1, 6)).email == "bob@example.test"


def test_before_a_rotation_starts_and_without_rotations_the_contacts_are_on_call(
        app, admin, people, clock):
    clock.set(utc(2026, 3, 1))
    assert rotations.on_call("primary", clock()) is None
    contacts.save({"oncall": contacts.ContactValue("On call", "oncall@example.test"),
                   "secondary_oncall": contacts.ContactValue("", "second@example.test")},
                  None, actor=admin, now=clock())
    db.session.commit()
    first = rotations.on_call("primary", clock())
    assert (first.email, first.until, first.rotation_id) == ("oncall@example.test", None, None)
    assert rotations.on_call("secondary", clock()).email == "second@example.test"
    add_rotation(admin, clock, people)
    before = rotations.on_call("primary", utc(2026, 3, 5, 13, 0))
    assert (before.email, before.rotation_id) == ("oncall@example.test", None)
    assert before.until == utc(2026, 3, 5, 14, 0)  # the rotation's first handover
    assert rotations.on_call("primary", utc(2026, 3, 5, 14, 0)).email == "ann@example.test"
    # The secondary role has no rotation: still the contact.
    assert rotations.on_call("secondary", utc(2026, 3, 5, 14, 0)).email == "second@example.test"


def test_an_override_wins_the_last_added_wins_and_until_says_when_it_changes(
        app, admin, people, make_staff, clock):
    clock.set(utc(2026, 3, 1))
    rotation = add_rotation(admin, clock, people)
    dee = make_staff("responder", email="dee@example.test").email
    # Friday 6 March is bob's (14:00 UTC to 14:00 UTC); dee covers 18:00 to 22:00 UTC.
    add_override(admin, clock, rotation, dee, utc(2026, 3, 6, 18), utc(2026, 3, 6, 22))
    before = rotations.on_call("primary", utc(2026, 3, 6, 15))
    assert (before.email, before.until) == ("bob@example.test", utc(2026, 3, 6, 18))
    covered = rotations.on_call("primary", utc(2026, 3, 6, 18))
    assert (covered.email, covered.until, covered.override) == (dee, utc(2026, 3, 6, 22), True)
    assert rotations.on_call("primary", utc(2026, 3, 6, 22)).email == "bob@example.test"
    # A second override inside the first, added later, wins for its span.
    clock.advance(minutes=1)
    add_override(admin, clock, rotation, "ann@example.test", utc(2026, 3, 6, 19),
                 utc(2026, 3, 6, 20))
    assert rotations.on_call("primary", utc(2026, 3, 6, 18, 30)).until == utc(2026, 3, 6, 19)
    assert rotations.on_call("primary", utc(2026, 3, 6, 19, 30)).email == "ann@example.test"
    assert rotations.on_call("primary", utc(2026, 3, 6, 20, 30)).email == dee


def test_of_two_rotations_of_a_role_the_lowest_id_counts(app, admin, people, clock):
    clock.set(utc(2026, 3, 1))
    add_rotation(admin, clock, people[:1], name="First")
    add_rotation(admin, clock, people[1:2], name="Second", first=local(2026, 3, 2, 9))
    # Only "Second" has started on 3 March: it counts until "First" starts.
    assert rotations.on_call("primary", utc(2026, 3, 3)).email == "bob@example.test"
    assert rotations.on_call("primary", utc(2026, 3, 3)).until == utc(2026, 3, 3, 14)
    assert rotations.on_call("primary", utc(2026, 3, 6)).email == "ann@example.test"
    assert rotations.now_panel(utc(2026, 3, 6)).doubled == ("primary",)


def _counts():
    return (db.session.query(Rotation).count(), db.session.query(RotationOverride).count(),
            db.session.query(AuditEvent).count())


@pytest.mark.parametrize("members, field, message", [
    ("", "members", "Add at least one member"),
    ("  \n \n", "members", "Add at least one member"),
    ("ann@example.test\nnobody@example.test", "members",
     "Not an active staff account: nobody@example.test"),
    ("gone@example.test", "members", "Not an active staff account: gone@example.test"),
])
def test_a_rotation_without_members_or_with_an_unknown_email_is_refused(
        app, admin, people, make_staff, clock, members, field, message):
    make_staff("responder", email="gone@example.test", active=False)
    before = _counts()
    with pytest.raises(ValidationError) as caught:
        rotations.create_rotation(RotationFields(
            name="R", role="primary", members=members, handover_every="day",
            handover_at=clock()), actor=admin, now=clock())
    db.session.rollback()
    assert message in caught.value.errors[field]
    assert _counts() == before


def test_other_bad_rotation_fields_are_refused_each_at_its_field(app, admin, people, clock):
    add_rotation(admin, clock, people, name="Taken")
    before = _counts()
    with pytest.raises(ValidationError) as caught:
        rotations.create_rotation(RotationFields(
            name="taken", role="tertiary", members="ann@example.test",
            handover_every="fortnight", handover_at=None), actor=admin, now=clock())
    db.session.rollback()
    assert set(caught.value.errors) == {"name", "role", "handover_every", "handover_at"}
    assert _counts() == before


def test_an_override_that_ends_before_it_starts_or_names_a_stranger_is_refused(
        app, admin, people, clock):
    rotation = add_rotation(admin, clock, people)
    before = _counts()
    cases = [
        (dict(member="ann@example.test", starts_at=utc(2026, 12, 2), ends_at=utc(2026, 12, 1)),
         "ends_at", "The override must end after it starts."),
        (dict(member="ann@example.test", starts_at=utc(2026, 12, 2), ends_at=utc(2026, 12, 2)),
         "ends_at", "The override must end after it starts."),
        (dict(member="who@example.test", starts_at=utc(2026, 12, 1), ends_at=utc(2026, 12, 2)),
         "member", "Not an active staff account"),
    ]
    for values, field, message in cases:
        with pytest.raises(ValidationError) as caught:
            rotations.create_override(OverrideFields(rotation_id=rotation.id, **values),
                                      actor=admin, now=clock())
        db.session.rollback()
        assert message in caught.value.errors[field]
    assert _counts() == before


def test_a_member_s_shifts_over_a_window_come_from_rotations_and_overrides(
        app, admin, people, clock):
    clock.set(utc(2026, 3, 1))
    rotation = add_rotation(admin, clock, people)
    add_override(admin, clock, rotation, "ann@example.test", utc(2026, 3, 6, 18),
                 utc(2026, 3, 6, 20))
    shifts = rotations.shifts_of("ann@example.test", utc(2026, 3, 5), utc(2026, 3, 10))
    assert [(s.start, s.end, s.override_id is not None) for s in shifts] == [
        (utc(2026, 3, 5, 14), utc(2026, 3, 6, 14), False),
        (utc(2026, 3, 6, 18), utc(2026, 3, 6, 20), True),
        (utc(2026, 3, 8, 13), utc(2026, 3, 9, 13), False),  # after the change: 13:00 UTC
    ]


def test_the_handover_message_is_queued_once_to_the_person_coming_on_call(
        app, make_app, admin, people, clock):
    clock.set(utc(2026, 3, 1))
    add_rotation(admin, clock, people)
    clock.set(utc(2026, 3, 8, 13, 5))  # cy hands over to ann at 13:00 UTC (09:00 EDT)
    assert rotations.queue_due_handovers(clock()) == 1
    assert rotations.queue_due_handovers(clock()) == 0
    # A second notifier process (another app, its own connections) finds it queued.
    other = make_app(SITE_TIMEZONE="America/New_York")
    with other.app_context():
        assert rotations.queue_due_handovers(clock()) == 0
        db.session.remove()
    pages = db.session.scalars(db.select(Page)).all()
    assert [(p.kind, p.recipient, p.key) for p in pages] == [
        ("handover", "ann@example.test", "handover:1:2026-03-08T13:00:00Z")]
    text = rotations.handover_text(pages[0], clock())
    assert text.ack_url is None
    assert ("You are on call as Primary on-call until 2026-03-09 09:00 EDT "
            "(America/New_York)") in text.body
    # More than an hour after a handover, none is queued (the notifier was down).
    clock.set(utc(2026, 3, 9, 14, 1))
    assert rotations.queue_due_handovers(clock()) == 0


def test_at_the_handover_the_notifier_emails_the_person_coming_on_call_once(
        app, admin, people, clock, smtp):  # noqa: F811
    clock.set(utc(2026, 3, 1))
    add_rotation(admin, clock, people)
    clock.set(utc(2026, 3, 6, 13, 59))
    tick()
    assert smtp.to("bob@example.test") == []  # not yet: bob's turn starts at 14:00 UTC
    clock.set(utc(2026, 3, 6, 14, 0))
    tick()
    clock.advance(minutes=5)
    tick()
    [mail] = smtp.to("bob@example.test")
    assert ("You are on call as Primary on-call until 2026-03-07 09:00 EST "
            "(America/New_York)") in mail.text()
    assert smtp.to("ann@example.test") == []  # ann's first turn began before the notifier

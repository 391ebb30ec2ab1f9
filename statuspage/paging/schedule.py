"""The arithmetic of on-call rotations, without the database: when each shift starts, and
who is on call in one role at an instant, given that role's rotations and overrides.

Shifts keep the wall time of the first handover in the site's zone. Shift ``k`` of a
rotation starts on the local date of the first handover plus ``k`` days (``day``) or
weeks (``week``), at the first handover's local time; so across a daylight-saving change
the UTC instant moves by the change (09:00 in New York is 14:00 UTC in winter, 13:00 UTC in
summer). A wall time the clocks skip that day (02:30 on the spring change) is read with the
offset before the change, which lands it just after the gap (03:30); a wall time that
happens twice (01:30 on the autumn change) is its first occurrence (``fold=0``).

Who is on call in a role at ``t`` (``RoleSchedule.turn_at``):

1. an override of any rotation of the role covering ``t`` (``starts_at <= t < ends_at``);
   of several, the one created last;
2. else the rotation of the role with the lowest id among those already started
   (``handover_at <= t``): the member whose turn it is (members take turns in order);
3. else nobody from the rotations (the caller falls back to the contacts).

A ``Turn`` is one stretch of one person: a rotation's shift, or an override. ``until`` is
when the turn changes: the next handover, an override's end, an override starting, or a
rotation starting that comes first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Iterator, Optional, Sequence
from zoneinfo import ZoneInfo

#: A rotation hands over every day or every week.
PERIOD_DAYS = {"day": 1, "week": 7}
#: Just before an instant: the turn a change point ends.
_TICK = timedelta(microseconds=1)


@dataclass(frozen=True)
class RotationPlan:
    id: int
    name: str
    members: tuple[str, ...]
    period_days: int
    #: The first handover (UTC).
    first: datetime


@dataclass(frozen=True)
class OverridePlan:
    id: int
    rotation_id: int
    member: str
    starts_at: datetime
    ends_at: datetime
    created_at: datetime


@dataclass(frozen=True)
class Turn:
    """One person's stretch: shift ``shift`` of a rotation, or an override (``override_id``)."""

    email: str
    rotation_id: int
    override_id: Optional[int] = None
    shift: int = -1


@dataclass(frozen=True)
class Segment:
    start: datetime
    end: datetime
    turn: Turn


def wall_instant(day: date, wall: time, tz: ZoneInfo) -> datetime:
    """``wall`` on ``day`` in ``tz``, as UTC: a skipped time moves past the gap, a repeated
    one is its first occurrence (``fold=0``)."""
    local = datetime.combine(day, wall.replace(tzinfo=None, fold=0)).replace(tzinfo=tz)
    return local.astimezone(timezone.utc)


def shift_start(plan: RotationPlan, k: int, tz: ZoneInfo) -> datetime:
    """When shift ``k`` (0: the first handover) starts, in UTC."""
    if k <= 0:
        return plan.first
    first_local = plan.first.astimezone(tz)
    return wall_instant(first_local.date() + timedelta(days=k * plan.period_days),
                        first_local.time(), tz)


def shift_index(plan: RotationPlan, t: datetime, tz: ZoneInfo) -> int:
    """The shift running at ``t``; -1 before the first handover."""
    if t < plan.first:
        return -1
    days = (t.astimezone(tz).date() - plan.first.astimezone(tz).date()).days
    k = max(0, days // plan.period_days)
    while k > 0 and shift_start(plan, k, tz) > t:
        k -= 1
    while shift_start(plan, k + 1, tz) <= t:
        k += 1
    return k


def next_handover(plan: RotationPlan, t: datetime, tz: ZoneInfo) -> datetime:
    """The first handover after ``t`` (the first one, before the rotation starts)."""
    return shift_start(plan, shift_index(plan, t, tz) + 1, tz)


def member_of(plan: RotationPlan, k: int) -> str:
    return plan.members[k % len(plan.members)]


class RoleSchedule:
    """The rotations (with members) and overrides of one role."""

    def __init__(self, rotations: Sequence[RotationPlan], overrides: Sequence[OverridePlan],
                 tz: ZoneInfo):
        self.rotations = sorted((r for r in rotations if r.members), key=lambda r: r.id)
        ids = {r.id for r in self.rotations}
        self.overrides = [o for o in overrides if o.rotation_id in ids]
        self.tz = tz

    def turn_at(self, t: datetime) -> Optional[Turn]:
        covering = [o for o in self.overrides if o.starts_at <= t < o.ends_at]
        if covering:
            o = max(covering, key=lambda o: (o.created_at, o.id))
            return Turn(o.member, o.rotation_id, override_id=o.id)
        for plan in self.rotations:
            k = shift_index(plan, t, self.tz)
            if k >= 0:
                return Turn(member_of(plan, k), plan.id, shift=k)
        return None

    def _candidates_after(self, t: datetime) -> list[datetime]:
        """Every instant after ``t`` at which the turn may first change."""
        found = {x for o in self.overrides for x in (o.starts_at, o.ends_at) if x > t}
        found.update(next_handover(plan, t, self.tz) for plan in self.rotations)
        return sorted(found)

    def next_change(self, t: datetime) -> Optional[datetime]:
        """When the turn running at ``t`` ends (None: never, as far as anything says)."""
        now = self.turn_at(t)
        for moment in self._candidates_after(t):
            if self.turn_at(moment) != now:
                return moment
        return None

    def turn_started(self, t: datetime, since: datetime) -> Optional[datetime]:
        """When the turn running at ``t`` began, if after ``since`` (else None)."""
        now = self.turn_at(t)
        points = {x for o in self.overrides for x in (o.starts_at, o.ends_at)
                  if since < x <= t}
        for plan in self.rotations:
            k = shift_index(plan, t, self.tz)
            if k >= 0 and since < shift_start(plan, k, self.tz):
                points.add(shift_start(plan, k, self.tz))
        for moment in sorted(points, reverse=True):
            if self.turn_at(moment - _TICK) != now:
                return moment
        return None

    def segments(self, start: datetime, end: datetime) -> Iterator[Segment]:
        """The turns from ``start`` to ``end`` (cut at both), nobody's left out."""
        t = start
        while t < end:
            turn = self.turn_at(t)
            change = self.next_change(t)
            stop = end if change is None or change > end else change
            if turn is not None:
                yield Segment(t, stop, turn)
            t = stop

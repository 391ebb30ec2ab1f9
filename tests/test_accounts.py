"""Staff accounts without HTTP: sign-in attempts, roles, passwords."""

from __future__ import annotations

from datetime import timedelta

import pytest

from statuspage import accounts
from statuspage.extensions import db
from statuspage.errors import NotAllowed, ValidationError

from .conftest import PASSWORD
from .staff_support import audit_events, snapshot


def test_authenticate_counts_failures_and_locks_with_a_growing_backoff(app, responder,
                                                                       clock):
    assert accounts.authenticate(responder.email, PASSWORD, now=clock()) is responder
    for _ in range(accounts.FREE_FAILURES):
        assert accounts.authenticate(responder.email, "wrong", now=clock()) is None
    assert responder.locked_until == clock() + timedelta(seconds=30)
    assert accounts.authenticate(responder.email, PASSWORD, now=clock()) is None
    clock.advance(seconds=31)
    assert accounts.authenticate(responder.email, "wrong", now=clock()) is None
    assert responder.locked_until == clock() + timedelta(seconds=60)  # doubled
    clock.advance(seconds=61)
    assert accounts.authenticate(f"  {responder.email.upper()} ", PASSWORD,
                                 now=clock()) is responder
    assert (responder.failed_logins, responder.locked_until) == (0, None)

    responder.active = False
    assert accounts.authenticate(responder.email, PASSWORD, now=clock()) is None


def test_create_staff_validates_and_only_admins_may(app, admin, responder, clock):
    before = snapshot()
    with pytest.raises(NotAllowed):
        accounts.create_staff("x@example.test", "admin", "p" * 12, actor=responder,
                              now=clock())
    with pytest.raises(ValidationError) as exc:
        accounts.create_staff("no at sign", "owner", "short", actor=admin, now=clock())
    assert set(exc.value.errors) == {"email", "role", "password"}
    db.session.rollback()
    assert snapshot() == before

    user = accounts.create_staff(" New@Example.test", "responder", "p" * 12, actor=admin,
                                 now=clock(), must_change_password=True)
    db.session.commit()
    assert (user.email, user.must_change_password) == ("new@example.test", True)


def test_change_password_checks_the_current_one_and_ends_other_sessions(app, responder,
                                                                         clock):
    version = responder.session_version
    for current, new, field in [("wrong", "n" * 12, "current_password"),
                                (PASSWORD, "short", "new_password"),
                                (PASSWORD, PASSWORD, "new_password")]:
        with pytest.raises(ValidationError) as exc:
            accounts.change_password(responder, current, new, now=clock())
        assert field in exc.value.errors
    assert responder.session_version == version
    accounts.change_password(responder, PASSWORD, "n" * 12, now=clock())
    assert responder.session_version == version + 1
    assert accounts.authenticate(responder.email, "n" * 12, now=clock()) is responder


def test_reset_gives_a_one_time_password_that_must_be_changed(app, admin, responder,
                                                              clock):
    with pytest.raises(NotAllowed):
        accounts.reset_password(admin, actor=responder, now=clock())
    one_time = accounts.reset_password(responder, actor=admin, now=clock())
    db.session.commit()
    assert responder.must_change_password
    assert accounts.authenticate(responder.email, PASSWORD, now=clock()) is None
    assert accounts.authenticate(responder.email, one_time, now=clock()) is responder
    (event,) = audit_events("staff.password")
    assert event.actor_id == admin.id and one_time not in repr(event.after)


def test_roles_and_deactivation(app, admin, responder, clock):
    with pytest.raises(NotAllowed):
        accounts.set_role_and_active(admin, role="responder", active=True, actor=responder,
                                     now=clock())
    for role, active in (("responder", True), ("admin", False)):
        with pytest.raises(ValidationError):
            accounts.set_role_and_active(admin, role=role, active=active, actor=admin,
                                         now=clock())
    with pytest.raises(ValidationError):
        accounts.set_role_and_active(responder, role="owner", active=True, actor=admin,
                                     now=clock())
    version = responder.session_version
    accounts.set_role_and_active(responder, role="responder", active=False, actor=admin,
                                 now=clock())
    assert responder.session_version == version + 1
    assert [e.after for e in audit_events("staff.edit")] == [
        {"role": "responder", "active": False}]


class CountingHasher(accounts.PasswordHasher):
    """The real Argon2 hasher, counting its verifications (each one costs ~100 ms)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.verifications = 0

    def verify(self, hash, password):
        self.verifications += 1
        return super().verify(hash, password)


def test_every_failed_sign_in_costs_one_password_verification(app, admin, responder, clock,
                                                              monkeypatch):
    """Unknown, locked, deactivated and wrong-password accounts take the same time to refuse
    (the red team measured 215-280 ms for an unknown address, 6-8 ms for a locked one)."""
    hasher = CountingHasher(**{k: getattr(accounts._hasher, k) for k in (
        "time_cost", "memory_cost", "parallelism", "hash_len", "salt_len")})
    monkeypatch.setattr(accounts, "_hasher", hasher)
    locked = accounts.create_staff("locked@example.test", "responder", PASSWORD, actor=admin,
                                   now=clock())
    locked.locked_until = clock() + timedelta(hours=1)
    inactive = accounts.create_staff("gone@example.test", "responder", PASSWORD, actor=admin,
                                     now=clock())
    inactive.active = False
    db.session.commit()
    cases = [("nobody@example.test", PASSWORD), ("locked@example.test", PASSWORD),
             ("gone@example.test", PASSWORD), (responder.email, "wrong password")]
    for email, password in cases:
        before = hasher.verifications
        assert accounts.authenticate(email, password, now=clock()) is None
        assert hasher.verifications - before == 1, email

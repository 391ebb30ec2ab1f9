"""A notifier process killed mid-chain (issue 24, "Done when"): the secondary's page is
in flight (the ntfy server holds it unanswered) when the notifier is SIGKILLed; the next
notifier sends that page again once its lease has run out, and no step of the chain is
paged twice: the primary's page does not go again, and each step is one row per person.
Real processes, the real ``apprise`` package, a loopback ntfy-compatible server, SQLite
and PostgreSQL."""

from __future__ import annotations

import signal
import time
from datetime import timedelta

import pytest

from statuspage import contacts
from statuspage.extensions import db
from tests.ntfy_receiver import ntfy  # noqa: F401  (fixture)
from tests.paging_support import NIGHT, PEOPLE, PRIMARY, SECONDARY, declare, pages
from tests.smtp import app, smtp  # noqa: F401  (fixtures)
from tests.test_notifier_process import notifier  # noqa: F401  (fixture)

pytestmark = pytest.mark.process

PERIOD = timedelta(minutes=15)  # PAGE_ESCALATION_MINUTES, the playbook's
PAGING = {"PAGE_ALLOW_PRIVATE_HOSTS": "true", "SITE_TIMEZONE": "Europe/Berlin",
          "PAGE_TIMEOUT_SECONDS": "30"}


def wait_for(condition, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout} s for {what}")
        time.sleep(0.05)


def test_a_notifier_killed_mid_chain_pages_no_step_twice(
        app, notifier, ntfy, admin, make_staff, clock, responder, components):  # noqa: F811
    clock.set(NIGHT)
    make_staff(email=PRIMARY, display_name="Olga Oncall", page_urls=ntfy.url("olga-Zq81"))
    make_staff(email=SECONDARY, display_name="Sid Second", page_urls=ntfy.url("sid-Pw42"))
    contacts.save({role: contacts.ContactValue(*value) for role, value in PEOPLE.items()},
                  None, actor=admin, now=clock())
    db.session.commit()
    declare(responder, components, clock, title="Database unresponsive")

    notifier.once(NIGHT, **PAGING)  # step 0: the primary, at once
    assert [m.topic for m in ntfy.received()] == ["olga-Zq81"]

    ntfy.stall()  # the secondary's page reaches the server, which never answers
    victim = notifier(NIGHT + PERIOD + timedelta(seconds=1), "--once", **PAGING)
    wait_for(lambda: ntfy.requests == 2, "the secondary's page to reach the ntfy server")
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=30)
    ntfy.unstall()

    # Before its lease runs out, another notifier leaves the page in flight alone, and
    # pages no step again.
    notifier.once(NIGHT + PERIOD + timedelta(seconds=60), **PAGING)
    assert [m.topic for m in ntfy.received()] == ["olga-Zq81"]
    # After it (NOTIFIER_LEASE_SECONDS), the page in flight goes again, once.
    notifier.once(NIGHT + PERIOD + timedelta(seconds=302), **PAGING)
    notifier.once(NIGHT + PERIOD + timedelta(seconds=303), **PAGING)
    assert sorted(m.topic for m in ntfy.received()) == ["olga-Zq81", "sid-Pw42"]
    assert [(step, who) for step, who, _ in pages()] == [(0, PRIMARY), (1, SECONDARY)]

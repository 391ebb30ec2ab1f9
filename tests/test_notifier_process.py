"""The notifier as real processes: ``flask --app statuspage notifier``.

Each subprocess is pointed at this test's database and SMTP server through the
environment, and takes "now" from STATUSPAGE_FIXED_NOW (tests control time; they never
sleep for it). STATUSPAGE_NOTIFIER_TEST_PAUSE_AFTER_CLAIM makes a notifier wait between
claiming a batch and sending it, so that a test can SIGKILL it exactly there. Both are
test-only knobs, honoured under STATUSPAGE_TESTING only.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from statuspage import incidents
from statuspage.extensions import db
from statuspage.models import Delivery, Notification, NotifierHeartbeat
from tests.conftest import T0
from tests.smtp import add_subscribers, app, smtp  # noqa: F401  (fixtures)

pytestmark = pytest.mark.process

ROOT = Path(__file__).resolve().parent.parent
FLASK = str(Path(sys.executable).parent / "flask")
OUTAGE = "Metabolic-Tracker Temporary Service Disruption"
RESTORED = "Metabolic-Tracker Service Restored"


@pytest.fixture
def notifier(database_url, smtp, tmp_path):
    """Start notifier processes against this test's database and SMTP server."""
    procs: list[subprocess.Popen] = []
    instance = tmp_path / "notifier-instance"
    instance.mkdir()

    def env(now, **extra):
        e = {k: v for k, v in os.environ.items()
             if not k.startswith("STATUSPAGE_") and k != "DATABASE_URL"}
        e.update({
            "STATUSPAGE_DATABASE_URL": database_url,
            "STATUSPAGE_INSTANCE_PATH": str(instance),
            "STATUSPAGE_SECRET_KEY": "test-secret-key",
            "STATUSPAGE_PUBLIC_URL": "https://status.example.test",
            "STATUSPAGE_MAIL_SERVER": "127.0.0.1",
            "STATUSPAGE_MAIL_PORT": str(smtp.port),
            "STATUSPAGE_MAIL_DEFAULT_SENDER": "status@example.test",
            "STATUSPAGE_SMTP_TIMEOUT_SECONDS": "10",
            "STATUSPAGE_NOTIFIER_INTERVAL_SECONDS": "0.2",
            "STATUSPAGE_TESTING": "true",  # the test-only knobs are honoured only then
            "STATUSPAGE_FIXED_NOW": now.isoformat(),
            # These count every message: commanders' reminders are tested on their own.
            "STATUSPAGE_CADENCE_REMINDERS": "false",
        })
        e.update({f"STATUSPAGE_{k}": str(v) for k, v in extra.items()})
        return e

    def start(now, *args, **extra) -> subprocess.Popen:
        proc = subprocess.Popen([FLASK, "--app", "statuspage", "notifier", *args],
                                env=env(now, **extra), cwd=ROOT, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        procs.append(proc)
        return proc

    def once(now, **extra) -> str:
        proc = start(now, "--once", **extra)
        out, _ = proc.communicate(timeout=180)
        assert proc.returncode == 0, out
        return out

    start.once = once
    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


def wait_for(condition, what: str, timeout: float = 60.0) -> None:
    """Wait for something another process does (never for time itself to pass)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.05)


def count_deliveries(status: str) -> int:
    db.session.rollback()  # a fresh snapshot: another process is writing
    return db.session.scalar(
        db.select(db.func.count(Delivery.id)).where(Delivery.status == status))


def assert_exactly_once(smtp_server, subject: str, emails: list[str]) -> None:
    received = Counter(r for m in smtp_server.messages if m.subject == subject
                       for r in m.rcpt_tos)
    assert sorted(received) == sorted(emails)
    duplicated = {r: n for r, n in received.items() if n > 1}
    assert duplicated == {}


def test_stopped_before_the_30_minute_mark_and_started_after_sends_one(
        notifier, smtp, responder, components, make_incident):
    emails = add_subscribers(5)
    make_incident(responder, components[:1], severity="SEV-1")
    notifier.once(T0 + timedelta(minutes=29, seconds=59))
    assert smtp.messages == []
    notifier.once(T0 + timedelta(minutes=45))
    assert_exactly_once(smtp, OUTAGE, emails)
    notifier.once(T0 + timedelta(minutes=50))
    assert len(smtp.messages) == 5


def test_runs_as_a_ticker_writes_its_heartbeat_and_stops_on_sigterm(
        notifier, smtp, responder, components, make_incident):
    emails = add_subscribers(5)
    make_incident(responder, components[:1], severity="SEV-1")
    proc = notifier(T0 + timedelta(minutes=31))
    wait_for(lambda: len(smtp.messages) >= 5, "five emails")
    db.session.rollback()
    assert db.session.scalar(db.select(db.func.count(NotifierHeartbeat.name))) >= 1
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    assert_exactly_once(smtp, OUTAGE, emails)
    assert "@example.test" not in out  # addresses never reach the logs


def follow(proc: subprocess.Popen) -> list[str]:
    """The process's output lines as they come (read by a thread of this test)."""
    lines: list[str] = []

    def read() -> None:
        for line in proc.stdout:
            lines.append(line)

    threading.Thread(target=read, daemon=True).start()
    return lines


def test_sigterm_mid_fan_out_finishes_the_message_in_flight_and_releases_the_rest(
        notifier, smtp, responder, components, make_incident):
    emails = add_subscribers(300)
    make_incident(responder, components[:1], severity="SEV-1")
    due = T0 + timedelta(minutes=31)
    in_flight = smtp.hold(after=20)  # the 21st message, in the middle of a batch of 50
    proc = notifier(due, OUTBOX_CONCURRENCY=1)  # one worker: one message in flight
    output = follow(proc)
    in_flight.wait_reached()
    proc.send_signal(signal.SIGTERM)
    wait_for(lambda: any("notifier stopping" in line for line in output),
             "the notifier to take the signal")
    in_flight.release()
    assert proc.wait(timeout=120) == 0, "".join(output)  # the bound only turns a hang
    # into a failure: nothing here waits for time to pass
    assert len(smtp.messages) == 21  # it finished the one in flight, and sent no more
    assert count_deliveries("sending") == 0, "".join(output)  # the rest of its claim was given back
    # Another notifier at the same instant sends the rest: nobody waited out the lease.
    notifier.once(due)
    assert_exactly_once(smtp, OUTAGE, emails)
    assert "Traceback" not in "".join(output)


def test_ctrl_c_then_sigterm_stops_it_once_without_a_traceback(notifier, smtp, app):
    """A terminal's Ctrl-C sends SIGINT, then ``make run`` sends SIGTERM a moment later."""
    proc = notifier(T0)
    output = follow(proc)
    wait_for(lambda: last_beat() is not None, "the first tick")
    proc.send_signal(signal.SIGINT)
    proc.send_signal(signal.SIGTERM)
    # 0, or killed by the SIGTERM when it came so late that the process was already past
    # its exit (Python gives signals their default action back while it finalises).
    assert proc.wait(timeout=120) in (0, -signal.SIGTERM), "".join(output)
    text = "".join(output)
    assert "Traceback" not in text and "SchedulerNotRunningError" not in text


def last_beat() -> datetime:
    db.session.rollback()  # a fresh snapshot: another process wrote it
    return db.session.scalar(db.select(db.func.max(NotifierHeartbeat.beat_at)))


def test_fixed_now_is_ignored_unless_testing(notifier, app):
    """A stray STATUSPAGE_FIXED_NOW must never freeze production's clock."""
    fixed = datetime(2001, 1, 1, tzinfo=timezone.utc)
    notifier.once(fixed)
    assert last_beat() == fixed  # under TESTING (the fixture's default), it is "now"
    notifier.once(fixed, TESTING="false")
    assert abs(last_beat() - datetime.now(timezone.utc)) < timedelta(minutes=5)


def test_sigkill_between_claim_and_send_loses_nobody_and_doubles_nobody(
        notifier, smtp, responder, components, make_incident):
    emails = add_subscribers(20)
    make_incident(responder, components[:1], severity="SEV-1")
    due = T0 + timedelta(minutes=31)
    victim = notifier(due, NOTIFIER_TEST_PAUSE_AFTER_CLAIM=120, NOTIFIER_BATCH_SIZE=8,
                      OUTBOX_CONCURRENCY=1)  # one worker: one claim of 8
    wait_for(lambda: count_deliveries("sending") == 8, "the first claim")
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=30)
    assert smtp.messages == []
    # Within the lease, the killed process's claim is respected: the others go.
    notifier.once(due + timedelta(seconds=10))
    assert len(smtp.messages) == 12
    assert count_deliveries("sending") == 8
    # After the lease (NOTIFIER_LEASE_SECONDS, 300 s), they are claimed again.
    notifier.once(due + timedelta(seconds=301))
    assert_exactly_once(smtp, OUTAGE, emails)
    assert count_deliveries("sent") == 20


def test_several_notifiers_at_once_send_each_email_exactly_once(
        notifier, smtp, database_url, clock, responder, components, make_incident):
    """Four notifier processes at once: on PostgreSQL over 1,000 subscribers (FOR UPDATE
    SKIP LOCKED); on SQLite over 200 (BEGIN IMMEDIATE)."""
    n = 1000 if database_url.startswith("postgresql") else 200
    emails = add_subscribers(n)
    incident = make_incident(responder, components[:1], severity="SEV-1")
    at = T0 + timedelta(minutes=31)
    procs = [notifier(at, "--once", NOTIFIER_BATCH_SIZE=25) for _ in range(4)]
    for proc in procs:
        out, _ = proc.communicate(timeout=300)
        assert proc.returncode == 0, out
    assert_exactly_once(smtp, OUTAGE, emails)

    clock.set(T0 + timedelta(minutes=40))
    incidents.post_update(incident, incidents.UpdateText(
        status="resolved", impact="Back to normal.", actions="Fixed."),
        actor=responder, now=clock())
    db.session.commit()
    procs = [notifier(T0 + timedelta(minutes=41), "--once", NOTIFIER_BATCH_SIZE=25)
             for _ in range(4)]
    for proc in procs:
        out, _ = proc.communicate(timeout=300)
        assert proc.returncode == 0, out
    assert_exactly_once(smtp, RESTORED, emails)
    assert len(smtp.messages) == 2 * n


def lock_waiters() -> int:
    """PostgreSQL: how many statements are waiting for a lock another session holds."""
    with db.engine.connect() as conn:
        return conn.scalar(db.text(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"))


def sessions_at_work() -> int:
    """PostgreSQL: how many other sessions are running a statement or hold a transaction
    (a killed client's session finishes what reached the server, or rolls back, then
    ends)."""
    with db.engine.connect() as conn:
        return conn.scalar(db.text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND state <> 'idle'"))


def test_sigkill_after_the_server_accepted_a_message_resends_that_one_only(
        notifier, smtp, database_url, responder, components, make_incident):
    """The server accepts a message, then the notifier dies while its mark waits: nothing
    after it went; the message in flight goes again after the lease unless its mark was
    already on its way (PostgreSQL: the pipeline, COMMIT included, that the server runs
    once the lock is free); nobody else gets two. The mark is made to wait by the lock a
    writer holds (on PostgreSQL the one resolving takes on the outage notification; on
    SQLite the write lock), not by time."""
    emails = add_subscribers(30)
    make_incident(responder, components[:1], severity="SEV-1")
    due = T0 + timedelta(minutes=31)
    in_flight = smtp.hold(after=10)  # the 11th message of a batch of 30
    victim = notifier(due, "--once", OUTBOX_CONCURRENCY=1)  # one message in flight
    in_flight.wait_reached()
    with db.engine.connect() as writer:
        if database_url.startswith("postgresql"):
            writer.begin()
            writer.execute(db.select(Notification.id).where(Notification.kind == "outage")
                           .with_for_update())
        else:
            writer.execution_options(sqlite_begin="IMMEDIATE").begin()
        in_flight.release()
        wait_for(lambda: len(smtp.messages) == 11, "the server to accept the 11th")
        if database_url.startswith("postgresql"):
            # The mark's pipeline must have reached the server (it waits there on the
            # writer's lock) before the kill: killed earlier, the mark was never sent.
            wait_for(lambda: lock_waiters() > 0, "the 11th's mark to wait on the lock")
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=30)
        writer.rollback()
    if database_url.startswith("postgresql"):
        # What of the mark's pipeline reached the server runs now that the lock is free:
        # count the marks once the dead notifier's session has finished with it.
        wait_for(lambda: sessions_at_work() == 0, "the killed notifier's session to end")
    assert len(smtp.messages) == 11  # the 12th never went: the 11th's mark had not committed
    marked = count_deliveries("sent")
    # SQLite: the mark waits for the write lock before it is sent, so it dies with the
    # process. PostgreSQL: it is 11 when the pipeline's COMMIT had left the process before
    # the kill, 10 when the kill came between its first statement and its COMMIT (a
    # window of microseconds, but a loaded machine hits it); either way, below, only the
    # 11th can go twice.
    assert marked in ((10, 11) if database_url.startswith("postgresql") else (10,))
    notifier.once(due + timedelta(seconds=301))  # after NOTIFIER_LEASE_SECONDS
    received = Counter(r for m in smtp.messages if m.subject == OUTAGE for r in m.rcpt_tos)
    assert sorted(received) == sorted(emails)
    twice = {r: n for r, n in received.items() if n > 1}
    assert twice == ({} if marked == 11 else {in_flight.recipients[0]: 2})
    assert count_deliveries("sent") == 30


def test_sigkill_mid_fan_out_with_two_workers_resends_at_most_two(
        notifier, smtp, responder, components, make_incident):
    """OUTBOX_CONCURRENCY=2: each worker has at most one message in flight, so a notifier
    killed mid-send resends at most two; everyone gets the email."""
    emails = add_subscribers(60)
    make_incident(responder, components[:1], severity="SEV-1")
    due = T0 + timedelta(minutes=31)
    in_flight = smtp.hold(after=15)
    victim = notifier(due, "--once", OUTBOX_CONCURRENCY=2, NOTIFIER_BATCH_SIZE=10)
    in_flight.wait_reached()
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=30)
    in_flight.release()
    notifier.once(due + timedelta(seconds=301))  # after NOTIFIER_LEASE_SECONDS
    received = Counter(r for m in smtp.messages if m.subject == OUTAGE for r in m.rcpt_tos)
    assert sorted(received) == sorted(emails)
    twice = {r: n for r, n in received.items() if n > 1}
    assert set(twice.values()) <= {2} and len(twice) <= 2
    assert count_deliveries("sent") == 60

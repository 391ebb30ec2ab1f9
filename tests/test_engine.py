"""The delivery engine: its pace (a provider's limit, the slow-down a 421/451 asks for),
its workers (OUTBOX_CONCURRENCY, each with its own connection, at most one message in
flight), its settings, and the channel registry. A real SMTP server on loopback; the
pace's own rules with a clock the test moves."""

from __future__ import annotations

import time

import pytest

from statuspage.outbox import channels, engine, pace, webhook_http
from statuspage.outbox.channels import webhook as webhook_channel
from statuspage.outbox.channel import Answer, Outcome
from statuspage.outbox.channels.email import answer_of
from statuspage import mail
from tests.smtp import app, make_subscriber, notifier_thread, smtp, tick  # noqa: F401
from tests.test_mail import deliveries, outage  # noqa: F401  (fixture)


class FakeTime:
    """A monotonic clock that moves only when the pace sleeps."""

    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


SENT = Answer(Outcome.SENT)
BUSY = Answer(Outcome.RETRY, 451, "451 4.7.0 slow down", slow_down=True)


def test_the_pace_spaces_messages_by_the_providers_limit():
    t = FakeTime()
    p = pace.Pace(4, clock=t.clock, sleep=t.sleep)
    went = []
    for _ in range(5):
        assert p.wait(deadline=1000, stop=lambda: False)
        went.append(t.now)
    assert went == [100.0, 100.25, 100.5, 100.75, 101.0]


def test_without_a_limit_the_pace_never_waits():
    t = FakeTime()
    p = pace.Pace(None, clock=t.clock, sleep=t.sleep)
    for _ in range(5):
        assert p.wait(deadline=1000, stop=lambda: False)
    assert t.slept == []


def test_a_slow_down_answer_pauses_the_channel_longer_each_time_until_one_is_accepted():
    t = FakeTime()
    p = pace.Pace(None, clock=t.clock, sleep=t.sleep)
    pauses = []
    for _ in range(3):
        p.answered(BUSY)
        before = t.now
        assert p.wait(deadline=1000, stop=lambda: False)
        pauses.append(t.now - before)
    assert pauses == pytest.approx([0.25, 0.5, 1.0])
    p.answered(SENT)
    p.answered(BUSY)
    before = t.now
    p.wait(deadline=1000, stop=lambda: False)
    assert t.now - before == pytest.approx(0.25)  # back to the first pause
    for _ in range(12):
        p.answered(BUSY)
    assert p.pause == pace.SLOW_DOWN_MAX_SECONDS


def test_a_wait_past_the_deadline_or_a_stop_gives_the_turn_back():
    t = FakeTime()
    p = pace.Pace(1, clock=t.clock, sleep=t.sleep)
    assert p.wait(deadline=1000, stop=lambda: False)
    assert not p.wait(deadline=100.5, stop=lambda: False)  # the next slot is at 101
    stops = iter([False, True])
    assert not p.wait(deadline=1000, stop=lambda: next(stops))


@pytest.mark.parametrize("result, outcome, slow_down", [
    (mail.SENT, Outcome.SENT, False),
    (mail.SendResult("permanent", 550, "550 no such user"), Outcome.BAD_ADDRESS, False),
    (mail.SendResult("temporary", 451, "451 later"), Outcome.RETRY, True),
    (mail.SendResult("temporary", 421, "421 closing"), Outcome.RETRY, True),
    (mail.SendResult("temporary", 452, "452 mailbox full"), Outcome.RETRY, False),
    (mail.SendResult("temporary", None, "timed out"), Outcome.RETRY, False),
])
def test_what_an_smtp_answer_means(result, outcome, slow_down):
    answer = answer_of(result)
    assert (answer.outcome, answer.slow_down) == (outcome, slow_down)


@pytest.mark.parametrize("value, workers", [(2, 2), ("3", 3), (0, 1)])
def test_outbox_concurrency(value, workers):
    assert engine.workers_setting(value) == workers


@pytest.mark.parametrize("value", ["two", "1.5x"])
def test_a_bad_outbox_concurrency_is_told_clearly(value):
    with pytest.raises(ValueError, match="OUTBOX_CONCURRENCY"):
        engine.workers_setting(value)


@pytest.mark.parametrize("value, rate", [("", None), (None, None), ("12.5", 12.5), (3, 3.0)])
def test_mail_max_per_second(value, rate):
    assert engine.per_second_setting(value) == rate


@pytest.mark.parametrize("value", ["0", "-1", "fast"])
def test_a_bad_mail_max_per_second_is_told_clearly(value):
    with pytest.raises(ValueError, match="MAIL_MAX_PER_SECOND"):
        engine.per_second_setting(value)


@pytest.mark.parametrize("outcome, status, meaning", [
    ("sent", 204, Outcome.SENT), ("retry", 503, Outcome.RETRY), ("retry", None, Outcome.RETRY),
    ("final", 410, Outcome.GIVE_UP),
])
def test_what_an_http_answer_means(outcome, status, meaning):
    answer = webhook_channel.answer_of(webhook_http.PostResult(outcome, status, ""))
    assert (answer.outcome, answer.code, answer.slow_down) == (meaning, status, False)


def test_the_channels_are_registered_in_one_place():
    assert set(channels.REGISTRY) == {"email", "staff_email", "webhook", "slack", "page"}
    for name, channel in channels.REGISTRY.items():
        assert channels.get(name) is channel and channel.name == name
        assert isinstance(channel.queue, engine.Queue)


# --- Against a real SMTP server ------------------------------------------------------------


def test_the_providers_limit_holds_across_the_workers(app, smtp, outage, make_subscriber):
    app.config.update(MAIL_MAX_PER_SECOND="20", OUTBOX_CONCURRENCY=2)
    for _ in range(12):
        make_subscriber()
    report = tick()
    assert report.sent == 12
    times = sorted(m.at for m in smtp.messages)
    # 12 messages at 20 a second: 11 intervals of at least 50 ms, whoever sent them.
    assert times[-1] - times[0] >= 11 / 20 * 0.9


def test_a_worker_held_by_a_slow_answer_does_not_hold_the_others(app, smtp, outage,
                                                                   make_subscriber):
    """One worker waits on the server's answer (one message in flight); the other sends
    the rest meanwhile, over a connection of its own."""
    app.config.update(OUTBOX_CONCURRENCY=2, NOTIFIER_BATCH_SIZE=3)
    subs = [make_subscriber() for _ in range(12)]
    in_flight = smtp.hold(after=0)
    with notifier_thread(app):
        in_flight.wait_reached()
        # All but the held worker's claim (the message in flight and the two after it).
        wait_until(lambda: len(smtp.messages) == 9)
        in_flight.release()
    assert smtp.recipients() == sorted(s.email for s in subs)  # each exactly once
    assert len(smtp.sessions) == 2


def test_the_next_envelope_opens_while_the_last_message_is_marked(
        app, smtp, outage, make_subscriber, monkeypatch):
    """While a message is being marked sent, the next one's envelope (MAIL FROM, RCPT TO)
    goes, and its body only once the mark is committed and the recheck riding with it says
    it is still wanted: a subscriber who left meanwhile gets nothing (the envelope is
    closed with RSET), and the one after still gets the email."""
    from statuspage.extensions import db
    from statuspage.models import Subscriber
    from statuspage.outbox.deliveries import DELIVERIES

    app.config.update(OUTBOX_CONCURRENCY=1, NOTIFIER_BATCH_SIZE=3)
    first, leaving, last = (make_subscriber() for _ in range(3))
    original = DELIVERIES.mark_sent
    opened_during_marks = []

    def mark_sent(item, answer, now, conn, following):
        # The marker thread: the worker opens the next envelope meanwhile.
        if following is not None:
            wait_until(lambda: ("rcpt", following.email) in smtp.envelope_log)
            opened_during_marks.append(following.email)
            if following.email == leaving.email:  # they unsubscribe at that moment
                with db.engine.begin() as other:
                    other.execute(db.update(Subscriber).where(Subscriber.id == leaving.id)
                                  .values(status="unsubscribed"))
        return original(item, answer, now, conn, following)

    monkeypatch.setattr(DELIVERIES, "mark_sent", mark_sent)
    report = tick()
    assert opened_during_marks == [leaving.email]  # then closed; the last opened after it
    assert smtp.recipients() == sorted([first.email, last.email])
    assert ("rset", "") in smtp.envelope_log[smtp.envelope_log.index(("rcpt", leaving.email)):]
    assert report.sent == 2 and report.settled == 1


def wait_until(condition, timeout: float = 60.0) -> None:
    """Wait for what another thread does (the timeout only turns a hang into a failure)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail("gave up waiting")
        time.sleep(0.02)


def test_a_451_slows_the_channel_down_and_the_others_still_go(app, smtp, outage,
                                                              make_subscriber):
    app.config.update(OUTBOX_CONCURRENCY=1)
    busy = make_subscriber("busy@example.test")
    others = [make_subscriber() for _ in range(3)]
    smtp.refuse(busy.email, "451 4.7.0 Slow down")
    tick()
    assert smtp.recipients() == sorted(s.email for s in others)
    [(_, refused_at)] = smtp.refusals
    after = [m.at for m in smtp.messages if m.at > refused_at]
    assert after and min(after) - refused_at >= pace.SLOW_DOWN_FIRST_SECONDS * 0.9
    [waiting] = [d for d in deliveries() if d.status != "sent"]
    assert waiting.status == "pending" and waiting.attempts == 1  # retried, not failed

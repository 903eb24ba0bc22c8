"""The outbox dispatcher, sending through the real Twilio SDK to a local double of Twilio:
what reaches the provider, when, how often, and what each failure leaves behind."""

from __future__ import annotations

import itertools
import logging
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from scheduler.dispatch_job import outbox_dispatch
from server.adapters.sms.console_backend import SENT
from server.adapters.sms.twilio_backend import TwilioBackend
from server.config import Config
from server.db import make_engine, make_session_factory, utcnow
from server.models import Elder, OutboxItem, SmsMessage, Worker
from server.runtime import Runtime
from server.services import outbox
from server.services.sms import dispatch
from server.services.sms.dispatch import (
    IN_DOUBT,
    Dispatcher,
    DispatchPolicy,
    Pacer,
    template_renderer,
)
from tests.factories import Region, build_region
from tests.support.twilio_double import ACCOUNT_SID, AUTH_TOKEN, Reply, TwilioDouble

ROOT = Path(__file__).resolve().parents[2]
TZ = ZoneInfo("Asia/Shanghai")
SENDER = "+15005550006"
SIGNATURE = "【暖心探访】"


def local(days_from_today: int, hour: int, minute: int = 0) -> datetime:
    """A local wall-clock time in TANFANG_TIMEZONE, as UTC (always after the rows' creation)."""
    day = datetime.now(TZ).date() + timedelta(days=days_from_today)
    return datetime.combine(day, clock_time(hour, minute), tzinfo=TZ).astimezone(UTC)


def daytime_zone() -> str:
    """A fixed-offset zone in which it is about noon now (for processes on the real clock)."""
    offset = (12 - datetime.now(UTC).hour + 12) % 24 - 12
    return f"Etc/GMT{-offset:+d}" if offset else "Etc/GMT"


class FrozenClock:
    """`now` for the dispatcher, moved by the test."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def double() -> Iterator[TwilioDouble]:
    with TwilioDouble() as running:
        yield running


@pytest.fixture
def region(session: Session) -> Region:
    built = build_region(session)
    session.commit()
    return built


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(local(1, 10))  # tomorrow, 10:00 in Yinchuan


MakeDispatcher = Callable[..., Dispatcher]


def _backend(double: TwilioDouble, timeout: float = 2.0) -> TwilioBackend:
    return TwilioBackend(ACCOUNT_SID, AUTH_TOKEN, from_=SENDER, api_url=double.url, timeout=timeout)


@pytest.fixture
def make_dispatcher(
    engine: Engine, double: TwilioDouble, clock: FrozenClock, config: Config
) -> MakeDispatcher:
    def make(timeout: float = 2.0, **policy: Any) -> Dispatcher:
        return Dispatcher(
            sessions=make_session_factory(engine),
            backend=_backend(double, timeout),
            renderer=template_renderer(config),
            policy=DispatchPolicy.from_config(config, **{"rate": 1000.0, **policy}),
            clock=clock,
            rng=random.Random(4),
        )

    return make


def queue(
    session: Session,
    phone: str | None,
    template: str,
    params: dict[str, Any] | None = None,
    *,
    locale: str = "zh_CN",
    urgent: bool = False,
    **ids: Any,
) -> int:
    """Enqueue and commit one message; its id."""
    assert phone, "the recipient has a phone"
    message = outbox.enqueue(
        session,
        phone=phone,
        template=template,
        params=params or {},
        locale=locale,
        urgent=urgent,
        **ids,
    )
    session.commit()
    return message.id


def row(session: Session, message_id: int) -> tuple[OutboxItem, SmsMessage]:
    """The outbox row and message as the database has them now."""
    session.expire_all()
    item = session.scalars(select(OutboxItem).where(OutboxItem.message_id == message_id)).one()
    return item, item.message


def reminder(code: str) -> dict[str, str]:
    return {"elder_code": code, "due": "2026-12-28"}


# --- what goes out ------------------------------------------------------------------------


def test_a_queued_message_reaches_the_provider_rendered_signed_and_tracked(
    session: Session,
    region: Region,
    double: TwilioDouble,
    make_dispatcher: MakeDispatcher,
    clock: FrozenClock,
    config: Config,
) -> None:
    worker = region.counties["xq"].workers[0]
    elder = region.counties["xq"].elders[0]
    message_id = queue(
        session, worker.phone, "worker_reminder", reminder(elder.code), worker_id=worker.id
    )
    double.script(Reply(201, segments=2))

    report = make_dispatcher().run_once()

    assert report.sent == 1
    [request] = double.posts
    assert request.to == worker.phone
    assert request.body.startswith(SIGNATURE) and elder.code in request.body
    assert request.form["StatusCallback"] == config.public_url + "/sms/status"
    item, message = row(session, message_id)
    assert item.state == "sent" and item.attempts == 1
    assert message.provider_sid == double.taken()[0]["sid"]
    assert message.status == "queued"  # the first status, from the REST answer
    assert message.segments == 2  # the provider's count
    assert message.body == request.body
    assert message.sent_at == clock.now


def test_sending_logs_no_phone_number_and_no_provider_chatter(
    session: Session,
    region: Region,
    double: TwilioDouble,
    make_dispatcher: MakeDispatcher,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The SDK logs every request (URL, headers, and for look-ups the number asked about) at
    INFO; none of that may reach the service's logs."""
    worker = region.counties["xq"].workers[0]
    elder = region.counties["xq"].elders[0]
    queue(session, worker.phone, "worker_reminder", reminder(elder.code), worker_id=worker.id)
    double.script(Reply(201))
    with caplog.at_level(logging.DEBUG):
        assert make_dispatcher().run_once().sent == 1
    assert not [r for r in caplog.records if r.name.startswith("twilio")]
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert worker.phone not in text and worker.phone[3:] not in text


def test_a_change_rolled_back_sends_nothing(
    session: Session, region: Region, double: TwilioDouble, make_dispatcher: MakeDispatcher
) -> None:
    outbox.enqueue(session, phone=region.admin.phone, template="elder_ack", params={}, locale="en")
    session.rollback()
    assert make_dispatcher().run_once().handled == 0
    assert double.posts == []


def test_the_text_is_in_the_recipients_language_at_sending_time(
    session: Session, region: Region, double: TwilioDouble, make_dispatcher: MakeDispatcher
) -> None:
    elder = region.counties["jf"].elders[0]
    # Queued in Chinese; the elder's language is changed to English before it goes out.
    queue(session, elder.phone, "elder_wellness_check", locale="zh_CN", elder_id=elder.id)
    elder.locale = "en"
    session.commit()
    make_dispatcher().run_once()
    [request] = double.posts
    assert not request.body.startswith(SIGNATURE)
    assert request.body.isascii()


# --- retries and failures -----------------------------------------------------------------


def test_a_rate_limited_send_is_retried_later_and_goes_out_once(
    session: Session,
    region: Region,
    double: TwilioDouble,
    make_dispatcher: MakeDispatcher,
    clock: FrozenClock,
) -> None:
    worker = region.counties["xq"].workers[0]
    message_id = queue(session, worker.phone, "worker_reminder", reminder("AC3D4"))
    double.script(Reply(429), Reply(201))
    dispatcher = make_dispatcher()

    assert dispatcher.run_once().retrying == 1
    item, message = row(session, message_id)
    assert item.state == "pending" and item.attempts == 1
    wait = item.not_before - clock.now
    assert timedelta(seconds=7.5) <= wait <= timedelta(seconds=15)  # backoff with jitter
    assert "429" in (item.last_error or "")

    clock.advance(seconds=5)
    assert dispatcher.run_once().handled == 0  # not before its time
    clock.advance(seconds=11)
    assert dispatcher.run_once().sent == 1

    assert [r.status for r in double.posts] == [429, 201]
    assert len(double.taken()) == 1
    item, message = row(session, message_id)
    assert item.state == "sent" and item.attempts == 2
    assert message.provider_sid == double.taken()[0]["sid"]


def test_a_provider_failing_for_good_fails_the_message_and_tells_the_rules(
    session: Session,
    region: Region,
    double: TwilioDouble,
    make_dispatcher: MakeDispatcher,
    clock: FrozenClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    failed: list[int] = []
    monkeypatch.setattr(dispatch, "on_delivery_failed", lambda s, m, *_: failed.append(m.id))
    elder = region.counties["xq"].elders[0]
    message_id = queue(session, elder.phone, "elder_wellness_check", elder_id=elder.id)
    double.script(Reply(500), Reply(503), Reply(500))
    dispatcher = make_dispatcher(max_attempts=3)

    for _ in range(3):
        dispatcher.run_once()
        clock.advance(hours=1)

    assert [r.status for r in double.posts] == [500, 503, 500]
    item, message = row(session, message_id)
    assert item.state == "failed" and item.attempts == 3
    assert message.status == "failed"
    assert failed == [message_id]  # the elder could not be reached: delivery_failed
    dispatcher.run_once()
    assert len(double.posts) == 3  # given up


def test_a_recipient_who_opted_out_at_the_provider_is_marked_and_not_retried(
    session: Session,
    region: Region,
    double: TwilioDouble,
    make_dispatcher: MakeDispatcher,
    clock: FrozenClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    failed: list[int] = []
    monkeypatch.setattr(dispatch, "on_delivery_failed", lambda s, m, *_: failed.append(m.id))
    elder = region.counties["xq"].elders[0]
    first = queue(session, elder.phone, "elder_wellness_check", elder_id=elder.id)
    double.script_for(elder.phone or "", Reply(400, code=21610))
    dispatcher = make_dispatcher()

    assert dispatcher.run_once().failed == 1
    item, message = row(session, first)
    assert item.state == "failed" and message.error_code == 21610
    session.expire_all()
    stored = session.get(Elder, elder.id)
    assert stored is not None and stored.sms_opted_out and stored.sms_opted_out_at == clock.now
    assert failed == []  # opting out is a choice, not an unreachable elder

    # later automated messages to that phone are cancelled without reaching the provider...
    clock.advance(days=2)
    later = queue(
        session, elder.phone, "elder_rating_request", {"worker_name": "王芳"}, elder_id=elder.id
    )
    assert dispatcher.run_once().cancelled == 1
    item, message = row(session, later)
    assert (item.state, message.status) == ("cancelled", "canceled")
    # ...but an urgent one (the crisis hotline) still goes
    queue(
        session,
        elder.phone,
        "elder_crisis_reply",
        {"hotline": "12356"},
        urgent=True,
        elder_id=elder.id,
    )
    assert dispatcher.run_once().sent == 1
    assert [r.status for r in double.posts] == [400, 201]


def test_an_invalid_number_is_flagged_for_a_worker_to_check(
    session: Session, region: Region, double: TwilioDouble, make_dispatcher: MakeDispatcher
) -> None:
    worker = region.counties["jf"].workers[1]
    message_id = queue(
        session, worker.phone, "worker_reminder", reminder("AC3D4"), worker_id=worker.id
    )
    double.script(Reply(400, code=21211))
    assert make_dispatcher().run_once().failed == 1
    item, message = row(session, message_id)
    assert item.state == "failed" and item.attempts == 1
    assert message.error_code == 21211
    stored = session.get(Worker, worker.id)
    assert stored is not None and stored.phone_flagged and not stored.sms_opted_out
    assert len(double.posts) == 1


def test_a_message_whose_template_does_not_fit_fails_without_sending(
    session: Session, region: Region, double: TwilioDouble, make_dispatcher: MakeDispatcher
) -> None:
    message_id = queue(session, region.admin.phone, "worker_reminder", {"elder_code": "AC3D4"})
    assert make_dispatcher().run_once().failed == 1
    item, _ = row(session, message_id)
    assert item.state == "failed" and "missing parameter" in (item.last_error or "")
    assert double.posts == []


# --- quiet hours, opt-outs, repeats ---------------------------------------------------------


def test_automated_messages_wait_for_eight_oclock_but_codes_do_not(
    session: Session,
    region: Region,
    double: TwilioDouble,
    make_dispatcher: MakeDispatcher,
    clock: FrozenClock,
) -> None:
    elder = region.counties["xq"].elders[0]
    worker = region.counties["xq"].workers[0]
    clock.now = local(1, 22, 30)
    wellness = queue(session, elder.phone, "elder_wellness_check", elder_id=elder.id)
    code = queue(
        session,
        worker.phone,
        "otp_code",
        {"otp": "482913", "minutes": 10},
        urgent=True,
        worker_id=worker.id,
    )
    dispatcher = make_dispatcher()

    report = dispatcher.run_once()
    assert (report.sent, report.deferred) == (1, 1)
    assert [r.to for r in double.posts] == [worker.phone]
    item, message = row(session, wellness)
    assert item.state == "pending" and message.status == "queued"
    assert item.not_before == local(2, 8)
    assert item.attempts == 0
    assert row(session, code)[0].state == "sent"

    clock.now = local(2, 7, 59)
    assert dispatcher.run_once().handled == 0
    clock.now = local(2, 8)
    assert dispatcher.run_once().sent == 1
    assert [r.to for r in double.posts] == [worker.phone, elder.phone]


def test_a_message_due_in_the_small_hours_waits_for_the_same_mornings_eight_oclock(
    session: Session, region: Region, make_dispatcher: MakeDispatcher, clock: FrozenClock
) -> None:
    elder = region.counties["jf"].elders[1]
    clock.now = local(1, 2, 15)
    message_id = queue(session, elder.phone, "elder_wellness_check", elder_id=elder.id)
    assert make_dispatcher().run_once().deferred == 1
    assert row(session, message_id)[0].not_before == local(1, 8)


def test_an_opted_out_phone_gets_no_automated_message(
    session: Session, region: Region, double: TwilioDouble, make_dispatcher: MakeDispatcher
) -> None:
    worker = region.counties["xq"].workers[1]
    worker.sms_opted_out = True
    session.commit()
    digest = queue(session, worker.phone, "worker_reminder", reminder("AC3D4"), worker_id=worker.id)
    code = queue(
        session,
        worker.phone,
        "otp_code",
        {"otp": "1234", "minutes": 5},
        urgent=True,
        worker_id=worker.id,
    )
    report = make_dispatcher().run_once()
    assert (report.cancelled, report.sent) == (1, 1)
    assert row(session, digest)[1].status == "canceled"
    assert row(session, code)[1].status == "queued"
    assert [r.body for r in double.posts] == [row(session, code)[1].body]


def test_the_same_text_to_one_number_within_a_day_is_held_back(
    session: Session,
    region: Region,
    double: TwilioDouble,
    make_dispatcher: MakeDispatcher,
    clock: FrozenClock,
) -> None:
    elder = region.counties["xq"].elders[1]
    other = region.counties["xq"].elders[0]
    first = queue(session, elder.phone, "elder_wellness_check", elder_id=elder.id)
    second = queue(session, elder.phone, "elder_wellness_check", elder_id=elder.id)
    to_other = queue(session, other.phone, "elder_wellness_check", elder_id=other.id)
    dispatcher = make_dispatcher()

    report = dispatcher.run_once()
    assert (report.sent, report.held) == (2, 1)
    assert sorted(r.to for r in double.posts) == sorted([elder.phone or "", other.phone or ""])
    item, message = row(session, second)
    assert (item.state, message.status) == ("cancelled", "held")
    assert f"message {first}" in (item.last_error or "")
    assert row(session, to_other)[0].state == "sent"

    # a different text to the same number goes; so does the same text a day later
    clock.advance(hours=1)
    queue(session, elder.phone, "elder_rating_request", {"worker_name": "王芳"})
    assert dispatcher.run_once().sent == 1
    clock.advance(hours=24)
    queue(session, elder.phone, "elder_wellness_check", elder_id=elder.id)
    assert dispatcher.run_once().sent == 1
    # and urgent texts are never held
    for _ in range(2):
        queue(session, elder.phone, "elder_crisis_reply", {"hotline": "12356"}, urgent=True)
    assert dispatcher.run_once().sent == 2
    assert Counter(r.to for r in double.posts)[elder.phone or ""] == 5


# --- claims, crashes, doubt ---------------------------------------------------------------


def test_a_dead_dispatchers_claims_are_taken_back_and_an_answer_it_never_recorded_is_kept(
    session: Session,
    region: Region,
    double: TwilioDouble,
    make_dispatcher: MakeDispatcher,
    clock: FrozenClock,
    config: Config,
) -> None:
    workers = region.counties["xq"].workers + region.counties["jf"].workers
    ids = [
        queue(session, w.phone, "worker_reminder", reminder("AC3D4"), locale="en") for w in workers
    ]
    dead = make_dispatcher()
    claimed = dead.claim_batch()
    assert len(claimed) == 4
    # it sent the first one, and died before committing the provider's answer
    body = template_renderer(config)("worker_reminder", "en", reminder("AC3D4"))
    _backend(double).send(workers[0].phone, body)

    heir = make_dispatcher()
    assert heir.run_once().handled == 0  # the claims still hold
    clock.advance(seconds=DispatchPolicy(rate=1000).lease.total_seconds() + 1)
    report = heir.run_once()

    assert (report.reconciled, report.sent) == (1, 3)
    assert Counter(m["to"] for m in double.taken()) == {w.phone: 1 for w in workers}
    sid_of = {m["to"]: m["sid"] for m in double.taken()}
    for message_id, worker in zip(ids, workers, strict=True):
        item, message = row(session, message_id)
        assert item.state == "sent"
        assert message.provider_sid == sid_of[worker.phone]


def test_a_send_that_timed_out_is_not_sent_again_when_the_provider_had_taken_it(
    session: Session,
    region: Region,
    double: TwilioDouble,
    make_dispatcher: MakeDispatcher,
    clock: FrozenClock,
) -> None:
    worker = region.counties["jf"].workers[0]
    message_id = queue(session, worker.phone, "worker_reminder", reminder("AC3D4"))
    double.script(Reply(201, delay_s=0.5))
    dispatcher = make_dispatcher(timeout=0.2)

    assert dispatcher.run_once().retrying == 1
    assert (row(session, message_id)[0].last_error or "").startswith(IN_DOUBT)
    _wait_until(lambda: len(double.taken()) == 1)
    clock.advance(minutes=5)
    assert dispatcher.run_once().reconciled == 1

    assert len(double.posts) == 1
    item, message = row(session, message_id)
    assert item.state == "sent" and message.provider_sid == double.taken()[0]["sid"]


def _dispatcher_process(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from server.cli import main; main()",
                "sms",
                "dispatch",
                "--lease",
                "2",
                "--idle",
                "0.2",
            ],
            cwd=ROOT,
            env={**os.environ, **env, "PYTHONPATH": str(ROOT)},
            stdout=out,
            stderr=out,
        )


@pytest.mark.slow
def test_a_dispatcher_killed_mid_batch_then_restarted_sends_every_row_exactly_once(
    session: Session, database_url: str, double: TwilioDouble, tmp_path: Path
) -> None:
    phones = [f"+86139{i:08d}" for i in range(30)]
    for phone in phones:
        queue(session, phone, "worker_reminder", reminder("AC3D4"))
    # the 10th message is answered slowly: the dispatcher dies while Twilio is taking it
    victim = phones[9]
    double.script_for(victim, Reply(201, delay_s=1.0))
    env = {
        "TANFANG_DATABASE_URL": database_url,
        "TANFANG_SMS_BACKEND": "twilio",
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TANFANG_SMS_FROM": SENDER,
        "TANFANG_TWILIO_API_URL": double.url,
        "TANFANG_SMS_RATE": "10",
        "TANFANG_TIMEZONE": daytime_zone(),
    }
    log = tmp_path / "dispatcher.log"
    first = _dispatcher_process(env, log)
    try:
        _wait_until(lambda: victim in double.arrivals, 30)
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        _wait_until(lambda: any(m["to"] == victim for m in double.taken()), 5)
        sent_before = len(double.taken())
        assert 10 <= sent_before < len(phones)

        second = _dispatcher_process(env, log)
        try:
            _wait_until(lambda: _states(session) == {"sent": len(phones)}, 60)
        finally:
            second.terminate()
            second.wait(20)
    finally:
        if first.poll() is None:
            first.kill()
    assert _states(session) == {"sent": len(phones)}, log.read_text()[-3000:]
    taken = double.taken()
    assert Counter(m["to"] for m in taken) == {phone: 1 for phone in phones}
    session.expire_all()
    recorded = {
        phone: sid
        for phone, sid in session.execute(select(SmsMessage.phone, SmsMessage.provider_sid))
    }
    assert recorded == {m["to"]: m["sid"] for m in taken}


def _states(session: Session) -> dict[str, int]:
    session.expire_all()
    rows = session.execute(select(OutboxItem.state, func.count()).group_by(OutboxItem.state))
    return {state: count for state, count in rows}


def _two_dispatchers(
    url: str, engine: Engine, double: TwilioDouble, config: Config, n: int
) -> None:
    with make_session_factory(engine)() as session:
        for i in range(n):
            outbox.enqueue(
                session,
                phone=f"+86137{i:08d}",
                template="worker_reminder",
                params=reminder("AC3D4"),
                locale="en",
            )
        session.commit()
    engines = [make_engine(url) for _ in range(2)]
    barrier = threading.Barrier(2)
    reports: list[dispatch.DispatchReport] = []
    errors: list[BaseException] = []
    now = local(1, 10)

    def run(own: Engine) -> None:
        try:
            dispatcher = Dispatcher(
                sessions=make_session_factory(own),
                backend=_backend(double),
                renderer=template_renderer(config),
                policy=DispatchPolicy.from_config(config, rate=1000.0, batch_size=20),
                clock=lambda: now,
            )
            barrier.wait()
            reports.append(dispatcher.run_once())
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(e,)) for e in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    for own in engines:
        own.dispose()
    assert not errors, errors
    assert len(double.posts) == n
    assert Counter(r.to for r in double.posts) == {f"+86137{i:08d}": 1 for i in range(n)}
    assert sum(r.sent for r in reports) == n and all(r.sent > 0 for r in reports)
    with make_session_factory(engine)() as session:
        assert _states(session) == {"sent": n}
        sids = session.scalar(select(func.count(func.distinct(SmsMessage.provider_sid))))
        assert sids == n


@pytest.mark.postgres
@pytest.mark.slow
def test_two_dispatchers_on_postgresql_send_each_of_1000_rows_once(
    pg_engine: Engine, postgres_url: str, double: TwilioDouble, config: Config
) -> None:
    _two_dispatchers(postgres_url, pg_engine, double, config, 1000)


def test_two_dispatchers_on_the_suite_database_send_each_row_once(
    engine: Engine, database_url: str, double: TwilioDouble, config: Config
) -> None:
    _two_dispatchers(database_url, engine, double, config, 200)


# --- pacing -------------------------------------------------------------------------------


def test_sends_are_spaced_at_the_configured_rate() -> None:
    t = [0.0]
    starts: list[float] = []

    def sleep(seconds: float) -> None:
        t[0] += seconds

    pacer = Pacer(4.0, monotonic=lambda: t[0], sleep=sleep)
    for i in range(12):
        pacer.wait()
        starts.append(t[0])
        t[0] += 0.01 if i != 4 else 0.6  # one slow send
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    # never closer than 0.9 of an interval (a tenth makes up for the sleep's overshoot)...
    assert min(gaps) == pytest.approx(0.225)
    # ...and 4 a second on average, before and after the slow send, whose slot is lost
    assert starts[4] - starts[1] == pytest.approx(0.75)
    assert starts[5] == pytest.approx(0.975 + 0.6)
    assert starts[11] - starts[6] == pytest.approx(1.25)


# --- the entry points -----------------------------------------------------------------------


def test_the_scheduler_job_sends_through_the_configured_backend(
    session: Session, region: Region, config: Config
) -> None:
    worker = region.counties["xq"].workers[0]
    queue(session, worker.phone, "worker_reminder", reminder("AC3D4"), locale="en")
    rt = Runtime.build(replace(config, timezone=daytime_zone()))
    SENT.clear()
    try:
        outbox_dispatch(rt, utcnow())
    finally:
        rt.dispose()
    [message] = SENT.to_phone(worker.phone)
    assert "AC3D4" in message.body
    session.expire_all()
    stored = session.scalars(select(SmsMessage)).one()
    assert stored.provider_sid == message.sid and stored.status == "delivered"


def test_the_dispatch_command_sends_what_is_due(session: Session, region: Region, cli: Any) -> None:
    worker = region.counties["jf"].workers[0]
    queue(session, worker.phone, "worker_reminder", reminder("AC3D4"), locale="en")
    SENT.clear()
    result = cli("sms", "dispatch", "--once", env={"TANFANG_TIMEZONE": daytime_zone()})
    assert result.exit_code == 0, result.output
    assert "sent 1" in result.output
    assert len(SENT.to_phone(worker.phone)) == 1
    again = cli("sms", "dispatch", "--once", env={"TANFANG_TIMEZONE": daytime_zone()})
    assert "nothing due" in again.output


def test_the_dispatch_command_refuses_an_incomplete_twilio_setup(cli: Any) -> None:
    result = cli("sms", "dispatch", "--once", env={"TANFANG_SMS_BACKEND": "twilio"})
    assert result.exit_code == 2
    assert "TWILIO_ACCOUNT_SID" in result.output


def _wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def test_an_elder_who_cannot_be_reached_by_sms_becomes_a_case_for_their_contact(
    session: Session,
    region: Region,
    double: TwilioDouble,
    make_dispatcher: MakeDispatcher,
) -> None:
    from server.models import Case

    elder = region.counties["jf"].elders[0]
    queue(session, elder.phone, "elder_wellness_check", elder_id=elder.id)
    double.script(Reply(400, code=21211))  # not a valid number
    make_dispatcher().run_once()
    session.expire_all()
    case = session.scalar(select(Case).where(Case.elder_id == elder.id))
    assert case is not None and (case.kind, case.trigger) == ("unreachable", "delivery_failed")
    assert case.owner_id == elder.primary_contact_id

"""`tanfang sms inbound`, `tanfang sms wellness`, and the scheduled notices."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from scheduler import tasks
from server.config import Config
from server.models import CheckIn, SmsMessage
from server.runtime import Runtime
from server.services.months import current_month
from server.services.sms.notices import send_wellness_checks
from tests.conftest import Cli
from tests.factories import build_region, make_visit

INTERVALS = {"high": 3, "elevated": 7, "standard": 14}


def test_sms_inbound_goes_through_the_webhooks_code(cli: Cli, session: Session) -> None:
    region = build_region(session)
    county = region.counties["xq"]
    visit = make_visit(session, county.elders[0], county.workers[0], current_month(Config().tz))
    session.commit()
    result = cli(
        "sms", "inbound", "--from", county.workers[0].phone, f"完成 {visit.elder.code} 5 聊了很久"
    )
    assert result.exit_code == 0, result.output
    assert visit.elder.code in result.stdout and "【暖心探访】" in result.stdout
    checkin = session.scalar(select(CheckIn))
    assert checkin is not None and checkin.channel == "sms" and checkin.mood == 5


def test_wellness_checks_follow_the_tier(session: Session) -> None:
    region = build_region(session)
    elders = region.counties["xq"].elders
    elders[0].risk_tier, elders[1].risk_tier = "high", "elevated"
    session.commit()
    tz = Config().tz
    monday = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)
    assert send_wellness_checks(session, tz=tz, now=monday, intervals=INTERVALS) == 8
    session.commit()
    sent_on: dict[int, list[int]] = {}
    for day in range(1, 15):
        now = monday + timedelta(days=day)
        send_wellness_checks(session, tz=tz, now=now, intervals=INTERVALS)
        session.commit()
    for elder_id, created in session.execute(
        select(SmsMessage.elder_id, SmsMessage.created_at).where(
            SmsMessage.template == "elder_wellness_check"
        )
    ):
        sent_on.setdefault(elder_id, []).append(created.day)
    assert len(sent_on[elders[0].id]) == 5  # high: every 3 days over 15 days
    assert len(sent_on[elders[1].id]) == 3  # elevated: weekly
    assert len(sent_on[elders[2].id]) == 2  # standard: every two weeks
    questions = session.scalars(
        select(SmsMessage.question).where(SmsMessage.template == "elder_wellness_check")
    ).all()
    assert set(questions) == {"wellness"}


def test_opted_out_elders_get_no_wellness_check(cli: Cli, session: Session) -> None:
    region = build_region(session)
    region.counties["xq"].elders[0].sms_opted_out = True
    session.commit()
    result = cli("sms", "wellness", "--area", region.counties["xq"].area.code)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("3 wellness checks queued")
    refused = cli("sms", "wellness", "--elder", region.counties["xq"].elders[0].external_id)
    assert refused.exit_code == 1
    assert cli("sms", "wellness", "--area", "nowhere").exit_code == 1


def test_daily_digest_lists_each_workers_open_visits(config: Config, session: Session) -> None:
    region = build_region(session)
    county = region.counties["jf"]
    month = "2026-12"
    for elder in county.elders[:2]:
        make_visit(session, elder, county.workers[0], month)
    session.commit()
    rt = Runtime.build(config)
    try:
        tasks.daily_digest(rt, datetime(2026, 12, 3, 0, 0, tzinfo=UTC))
    finally:
        rt.dispose()
    digests = session.scalars(
        select(SmsMessage).where(SmsMessage.template == "worker_daily_digest")
    ).all()
    assert len(digests) == 1 and digests[0].worker_id == county.workers[0].id
    assert digests[0].params is not None and digests[0].params["count"] == 2
    assert session.scalar(select(func.count()).select_from(SmsMessage)) == 1


def test_an_elder_with_only_a_landline_gets_no_automated_sms_but_keeps_the_visits(
    session: Session,
) -> None:
    """A landline cannot take SMS: no wellness check or rating request is queued to it (it
    would only fail), and the visit and its check-in go on as usual."""
    region = build_region(session)
    county = region.counties["xq"]
    landline, mobile = county.elders[0], county.elders[1]
    landline.phone = "+869515012345"  # 0951-5012345, Yinchuan
    session.commit()
    tz = Config().tz
    monday = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)
    send_wellness_checks(session, tz=tz, now=monday, intervals=INTERVALS)
    session.commit()
    asked = set(
        session.scalars(
            select(SmsMessage.elder_id).where(SmsMessage.template == "elder_wellness_check")
        )
    )
    assert mobile.id in asked and landline.id not in asked

    from server.services.checkins import CheckInInput, record_checkin
    from server.services.followups import after_checkin
    from server.services.rules import load_rules

    worker = county.workers[0]
    visit = make_visit(session, landline, worker, "2026-11")
    checkin, created = record_checkin(
        session,
        visit,
        worker,
        CheckInInput(client_id="landline-1", occurred_at=monday, outcome="seen"),
        channel="pwa",
        tz=tz,
        now=monday,
    )
    assert created
    after_checkin(session, visit, checkin, worker, monday, rules=load_rules(), tz=tz)
    session.commit()
    assert visit.status == "done"
    assert not session.scalar(
        select(func.count())
        .select_from(SmsMessage)
        .where(SmsMessage.elder_id == landline.id, SmsMessage.template == "elder_rating_request")
    )


def test_mobile_numbers_take_sms_and_landlines_do_not() -> None:
    from server.services.phones import can_text, normalize_phone

    assert can_text(normalize_phone("138 0013 8000"))
    assert not can_text(normalize_phone("0951-5012345"))
    assert not can_text(None)

"""Automated messages the scheduler sends: wellness checks by tier, the workers' morning
digest and their monthly plan. All go through the outbox (quiet hours and opt-outs are the
dispatcher's business); each function returns how many it queued."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from server.models import Area, Elder, SmsMessage, Visit, Worker
from server.services.months import current_month, local_today
from server.services.outbox import enqueue
from server.services.phones import textable
from server.services.rules import RuleSet
from server.services.signals import signal, unanswered_in_a_row

WELLNESS = "elder_wellness_check"


def _local_day(moment: datetime, tz: ZoneInfo) -> date:
    return moment.astimezone(tz).date()


def send_wellness_checks(
    session: Session,
    *,
    tz: ZoneInfo,
    now: datetime,
    intervals: dict[str, int],
    area_code: str | None = None,
    elder_external_id: str | None = None,
    rules: RuleSet | None = None,
) -> int:
    """Queue a wellness check to every reachable elder whose tier says one is due.

    Naming one elder sends to them now, due or not (an operator's deliberate check). With
    `rules`, an elder who left the last checks unanswered first raises a `no_reply` signal
    (by default: an extra visit within 3 days).
    """
    today = local_today(tz, now)
    where: list[ColumnElement[bool]] = [
        Elder.status == "active",
        Elder.phone.is_not(None),
        textable(Elder.phone),  # a landline would only fail
        Elder.sms_opted_out.is_(False),
        Elder.phone_flagged.is_(False),
    ]
    if elder_external_id is not None:
        where.append(Elder.external_id == elder_external_id)
    if area_code is not None:
        area_path = session.scalar(select(Area.path).where(Area.code == area_code))
        if area_path is None:
            raise LookupError(f"unknown area {area_code!r}")
        where.append(
            Elder.grid_id.in_(
                select(Area.id).where(Area.path.startswith(area_path, autoescape=True))
            )
        )
    last_sent = (
        select(SmsMessage.elder_id, func.max(SmsMessage.created_at).label("last"))
        .where(SmsMessage.direction == "out", SmsMessage.template == WELLNESS)
        .group_by(SmsMessage.elder_id)
        .subquery()
    )
    rows = session.execute(
        select(Elder.id, Elder.phone, Elder.locale, Elder.risk_tier, last_sent.c.last)
        .outerjoin(last_sent, last_sent.c.elder_id == Elder.id)
        .where(*where)
        .order_by(Elder.id)
    ).all()
    queued = 0
    for elder_id, phone, locale, tier, last in rows:
        if elder_external_id is None and last is not None:
            due_on = _local_day(last, tz) + timedelta(days=intervals.get(tier, 14))
            if due_on > today:
                continue
            if rules is not None:
                _no_reply_signal(session, rules, elder_id, tz=tz, now=now)
        enqueue(
            session,
            phone=phone,
            template=WELLNESS,
            params={},
            locale=locale,
            elder_id=elder_id,
            question="wellness",
            now=now,
        )
        queued += 1
    return queued


def _no_reply_signal(
    session: Session, rules: RuleSet, elder_id: int, *, tz: ZoneInfo, now: datetime
) -> None:
    elder = session.get(Elder, elder_id)
    if elder is None:
        return
    unanswered = unanswered_in_a_row(session, elder)
    if unanswered:
        signal(
            session, rules, "no_reply", elder, {"unanswered_in_a_row": unanswered}, tz=tz, now=now
        )


def _open_codes_by_worker(session: Session, month: str) -> dict[int, list[str]]:
    codes: dict[int, list[str]] = defaultdict(list)
    for worker_id, code in session.execute(
        select(Visit.worker_id, Elder.code)
        .join(Elder, Elder.id == Visit.elder_id)
        .where(Visit.month == month, Visit.status == "planned", Visit.worker_id.is_not(None))
        .order_by(Visit.worker_id, Visit.due_date, Visit.id)
    ):
        if code not in codes[worker_id]:
            codes[worker_id].append(code)
    return codes


def _reachable_workers(session: Session, ids: list[int]) -> list[Worker]:
    return list(
        session.scalars(
            select(Worker).where(
                Worker.id.in_(ids),
                Worker.active.is_(True),
                Worker.sms_opted_out.is_(False),
                Worker.phone_flagged.is_(False),
            )
        )
    )


def send_daily_digests(session: Session, *, tz: ZoneInfo, now: datetime) -> int:
    """Each worker with open visits this month gets today's digest (soonest due first)."""
    today = local_today(tz, now)
    codes = _open_codes_by_worker(session, current_month(tz, now))
    queued = 0
    for worker in _reachable_workers(session, list(codes)):
        enqueue(
            session,
            phone=worker.phone,
            template="worker_daily_digest",
            params={
                "day": today.isoformat(),
                "count": len(codes[worker.id]),
                "codes": codes[worker.id],
            },
            locale=worker.locale,
            worker_id=worker.id,
            now=now,
        )
        queued += 1
    return queued


def send_monthly_plans(session: Session, *, month: str, not_before: datetime) -> int:
    """Each worker with visits in `month` gets the list of elders to visit."""
    codes = _open_codes_by_worker(session, month)
    queued = 0
    first_day = f"{month}-01"
    for worker in _reachable_workers(session, list(codes)):
        enqueue(
            session,
            phone=worker.phone,
            template="worker_monthly_plan",
            params={"month": first_day, "count": len(codes[worker.id]), "codes": codes[worker.id]},
            locale=worker.locale,
            worker_id=worker.id,
            not_before=not_before,
        )
        queued += 1
    return queued

"""What the timed jobs do. Each reloads its rows and does nothing when nothing changed."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from scheduler.due_dates import next_month
from scheduler.jobs import job
from scheduler.planning import fingerprint, run_plan
from scheduler.store import month_is_planned
from server.db import transaction
from server.runtime import Runtime
from server.services.escalation import escalate_overdue
from server.services.months import current_month, local_today
from server.services.signals import signal_unvisited
from server.services.sms.notices import (
    send_daily_digests,
    send_monthly_plans,
    send_wellness_checks,
)

log = logging.getLogger(__name__)

# The last fingerprint planned per month: the hourly check is a few COUNTs when nothing moved.
_planned: dict[str, tuple[Any, ...]] = {}


@job("ensure_month_planned")
def ensure_month_planned(rt: Runtime, now: datetime) -> None:
    """Make sure this month is fully planned (new elders, leave, deactivations, overdue)."""
    tz = rt.config.tz
    month, today = current_month(tz, now), local_today(tz, now)
    with rt.sessions() as session:
        if _planned.get(month) == fingerprint(session, month, today):
            return
    with transaction(rt.sessions) as session:
        run = run_plan(session, month, today, now=now)
    with rt.sessions() as session:
        _planned[month] = fingerprint(session, month, today)
    _log_run("ensure_month_planned", run.as_dict())


@job("plan_next_month")
def plan_next_month(rt: Runtime, now: datetime) -> None:
    """Plan next month ahead of its first day (last day of the month, evening) and queue each
    worker's plan SMS for the first morning of the month."""
    tz = rt.config.tz
    month = next_month(current_month(tz, now))
    with transaction(rt.sessions) as session:
        already = month_is_planned(session, month)
        run = run_plan(session, month, local_today(tz, now), now=now)
        if not already:
            year, mon = (int(p) for p in month.split("-"))
            first_morning = datetime(year, mon, 1, 8, 0, tzinfo=tz)
            send_monthly_plans(session, month=month, not_before=first_morning)
    _log_run("plan_next_month", run.as_dict())


@job("overdue_sweep")
def overdue_sweep(rt: Runtime, now: datetime) -> None:
    """Move each visit past its due date to the other contact, then to others."""
    tz = rt.config.tz
    with transaction(rt.sessions) as session:
        run = run_plan(
            session, current_month(tz, now), local_today(tz, now), overdue_only=True, now=now
        )
    _log_run("overdue_sweep", run.as_dict())


@job("daily_digest")
def daily_digest(rt: Runtime, now: datetime) -> None:
    """08:00: each worker's open visits this month, soonest first."""
    with transaction(rt.sessions) as session:
        queued = send_daily_digests(session, tz=rt.config.tz, now=now)
    log.info("daily_digest: %d digests queued", queued)


@job("wellness_checks")
def wellness_checks(rt: Runtime, now: datetime) -> None:
    """Wellness-check SMS to the elders whose tier says one is due today."""
    with transaction(rt.sessions) as session:
        queued = send_wellness_checks(
            session,
            tz=rt.config.tz,
            now=now,
            intervals=rt.config.wellness_days,
            rules=rt.rules,
        )
    log.info("wellness_checks: %d checks queued", queued)


@job("escalation_sweep")
def escalation_sweep(rt: Runtime, now: datetime) -> None:
    """Cases past their acknowledgement deadline go up a level."""
    with transaction(rt.sessions) as session:
        cases = escalate_overdue(
            session, rt.rules.by_kind, now, today=local_today(rt.config.tz, now)
        )
    if cases:
        log.info("escalation_sweep: %d cases escalated", len(cases))


@job("month_end")
def month_end(rt: Runtime, now: datetime) -> None:
    """On the last day, elders with no one seen this month become `month_end` signals."""
    tz = rt.config.tz
    with transaction(rt.sessions) as session:
        count = signal_unvisited(session, rt.rules, current_month(tz, now), tz=tz, now=now)
    log.info("month_end: %d elders not visited", count)


def _log_run(name: str, data: dict[str, Any]) -> None:
    # counts only: no names, no ids of people
    log.info(
        "%s %s: %s visits, %s unassigned, changes %s",
        name,
        data["month"],
        data["visits"],
        data["unassigned"],
        data["changes"],
    )

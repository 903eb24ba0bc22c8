"""The schedule names only jobs that exist, each with an explicit id and a trigger in the
deployment's zone."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from scheduler.jobs import JOB_FUNCTIONS
from scheduler.process import SCHEDULE


def test_every_scheduled_job_has_a_function() -> None:
    assert SCHEDULE
    assert len({spec.id for spec in SCHEDULE}) == len(SCHEDULE)
    assert {spec.id for spec in SCHEDULE} <= set(JOB_FUNCTIONS)


def test_next_month_is_planned_on_the_evening_of_the_last_day_local_time() -> None:
    spec = next(s for s in SCHEDULE if s.id == "plan_next_month")
    tz = ZoneInfo("Asia/Shanghai")
    trigger = spec.build_trigger("Asia/Shanghai")
    fire = trigger.get_next_fire_time(None, datetime(2026, 2, 1, tzinfo=tz))
    assert fire == datetime(2026, 2, 28, 20, 0, tzinfo=tz)

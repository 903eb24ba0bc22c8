"""The planning jobs the scheduler runs, on a frozen clock."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from scheduler import tasks
from server.config import Config
from server.models import Visit, VisitAssignment
from server.runtime import Runtime
from tests.factories import build_region

# 23:30 on 30 November in Ningxia is still November there, though UTC says 15:30.
LATE_ON_THE_LAST_DAY = datetime(2026, 11, 30, 15, 30, tzinfo=UTC)
EARLY_IN_DECEMBER = datetime(2026, 12, 2, 2, 0, tzinfo=UTC)


def _visits(session: Session, month: str) -> int:
    session.expire_all()
    return int(
        session.scalar(select(func.count()).select_from(Visit).where(Visit.month == month)) or 0
    )


def test_ensure_month_planned_plans_the_local_month_once(config: Config, session: Session) -> None:
    build_region(session)
    session.commit()
    rt = Runtime.build(config)
    try:
        tasks.ensure_month_planned(rt, LATE_ON_THE_LAST_DAY)
        assert _visits(session, "2026-11") == 8
        assert _visits(session, "2026-12") == 0
        tasks.ensure_month_planned(rt, LATE_ON_THE_LAST_DAY)
        assert _visits(session, "2026-11") == 8
        tasks.plan_next_month(rt, LATE_ON_THE_LAST_DAY)
        assert _visits(session, "2026-12") == 8
    finally:
        rt.dispose()


def test_overdue_sweep_moves_a_late_visit_to_the_other_contact(
    config: Config, session: Session
) -> None:
    region = build_region(session)
    session.commit()
    rt = Runtime.build(config)
    try:
        tasks.ensure_month_planned(rt, EARLY_IN_DECEMBER)
        elder = region.counties["xq"].elders[0]
        visit = session.scalar(select(Visit).where(Visit.elder_id == elder.id))
        assert visit is not None and visit.worker_id == elder.primary_contact_id
        visit.due_date = date(2026, 12, 1)  # yesterday, still planned
        session.commit()
        tasks.overdue_sweep(rt, EARLY_IN_DECEMBER)
        session.expire_all()
        moved = session.get(Visit, visit.id)
        assert moved is not None and moved.worker_id == elder.secondary_contact_id
        assert moved.due_date > date(2026, 12, 2)
        history = session.scalars(
            select(VisitAssignment)
            .where(VisitAssignment.visit_id == visit.id)
            .order_by(VisitAssignment.id)
        ).all()
        assert [h.reason for h in history] == ["planned", "overdue"]
    finally:
        rt.dispose()

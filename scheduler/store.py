"""Between the database and the pure planner: load a month's `PlanInput`, persist a `Plan`.

Loading reads plain columns (no ORM objects), so a 100k-elder region loads in a few seconds;
persisting writes only the delta in bulk and records every move in the visits' history.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from scheduler.due_dates import month_dates, month_of_date
from scheduler.model import (
    REASON_PLANNED,
    ElderIn,
    ExistingVisit,
    Plan,
    PlanInput,
    PlanOptions,
    WorkerIn,
)
from server.db import bulk_insert, utcnow
from server.models import Area, Elder, Visit, VisitAssignment, Worker, WorkerArea, WorkerLeave
from server.vocab import VISITING_ROLES

CHUNK = 5_000


def previous_month(month: str) -> str:
    """The month before `month` (YYYY-MM)."""
    return month_of_date(month_dates(month)[0] - timedelta(days=1))


def load_plan_input(
    session: Session, month: str, today: date, options: PlanOptions | None = None
) -> PlanInput:
    """Everything the planner needs for `month`, read from the database."""
    # Plain Core rows: at 100k elders the ORM's row handling would cost seconds.
    conn = session.connection()
    first, last = month_dates(month)
    parents: dict[int, int | None] = {}
    levels: dict[int, str] = {}
    for area_id, parent_id, level in conn.execute(select(Area.id, Area.parent_id, Area.level)):
        parents[area_id] = parent_id
        levels[area_id] = level

    def community_of(grid_id: int) -> int | None:
        parent = parents.get(grid_id)
        return parent if parent is not None and levels.get(parent) == "community" else None

    last_visitor: dict[int, int] = {}
    for elder_id, worker_id in conn.execute(
        select(Visit.elder_id, Visit.worker_id)
        .where(
            Visit.month == previous_month(month),
            Visit.status == "done",
            Visit.worker_id.is_not(None),
        )
        .order_by(Visit.done_at)
    ):
        last_visitor[elder_id] = worker_id  # the latest done visit wins

    elders = [
        ElderIn(
            id=row.id,
            lat=row.lat,
            lon=row.lon,
            tier=row.risk_tier,
            grid_id=row.grid_id,
            community_id=community_of(row.grid_id),
            primary_id=row.primary_contact_id,
            secondary_id=row.secondary_contact_id,
            last_visitor_id=last_visitor.get(row.id),
            enrolled_on=row.enrolled_on,
        )
        for row in conn.execute(
            select(
                Elder.id,
                Elder.lat,
                Elder.lon,
                Elder.risk_tier,
                Elder.grid_id,
                Elder.primary_contact_id,
                Elder.secondary_contact_id,
                Elder.enrolled_on,
            )
            .where(Elder.status == "active", Elder.enrolled_on <= last)
            .order_by(Elder.id)
        )
    ]

    grids: dict[int, set[int]] = defaultdict(set)
    communities: dict[int, set[int]] = defaultdict(set)
    for worker_id, area_id in conn.execute(select(WorkerArea.worker_id, WorkerArea.area_id)):
        if levels.get(area_id) == "grid":
            grids[worker_id].add(area_id)
        elif levels.get(area_id) == "community":
            communities[worker_id].add(area_id)
    leave: dict[int, list[tuple[date, date]]] = defaultdict(list)
    for worker_id, starts, ends in conn.execute(
        select(WorkerLeave.worker_id, WorkerLeave.starts_on, WorkerLeave.ends_on).where(
            WorkerLeave.starts_on <= last, WorkerLeave.ends_on >= first
        )
    ):
        leave[worker_id].append((starts, ends))
    workers = [
        WorkerIn(
            id=row.id,
            lat=row.lat,
            lon=row.lon,
            capacity=row.monthly_capacity if row.active else 0,
            grid_ids=frozenset(grids.get(row.id, ())),
            community_ids=frozenset(communities.get(row.id, ())),
            leave=tuple(sorted(leave.get(row.id, ()))),
            active=row.active,
        )
        for row in conn.execute(
            select(
                Worker.id, Worker.lat, Worker.lon, Worker.monthly_capacity, Worker.active
            ).where(Worker.role.in_(VISITING_ROLES))
        )
    ]
    existing = [
        ExistingVisit(
            elder_id=row.elder_id,
            seq=row.seq,
            worker_id=row.worker_id,
            status=row.status,
            due_date=row.due_date,
            window_start=row.window_start,
            visit_id=row.id,
        )
        for row in conn.execute(
            select(
                Visit.id,
                Visit.elder_id,
                Visit.seq,
                Visit.worker_id,
                Visit.status,
                Visit.due_date,
                Visit.window_start,
            ).where(Visit.month == month, Visit.kind == "routine")
        )
    ]
    return PlanInput(
        month=month,
        today=today,
        elders=elders,
        workers=workers,
        existing=existing,
        options=options or PlanOptions(),
    )


@dataclass
class PersistResult:
    """What persisting a plan changed."""

    created: int = 0
    moved: int = 0
    unassigned: int = 0
    cancelled: int = 0
    elders_cancelled: int = 0
    seconds: float = 0.0
    reasons: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """Plain values for JSON."""
        return {
            "created": self.created,
            "moved": self.moved,
            "unassigned": self.unassigned,
            "cancelled": self.cancelled,
            "elders_cancelled": self.elders_cancelled,
            "reasons": dict(self.reasons),
        }


def cancel_visits_of_inactive_elders(
    session: Session, month: str, now: datetime | None = None
) -> int:
    """Open visits of elders who were deactivated are no longer owed."""
    inactive = select(Elder.id).where(Elder.status != "active")
    result = session.execute(
        update(Visit)
        .where(Visit.month == month, Visit.status == "planned", Visit.elder_id.in_(inactive))
        .values(status="cancelled", cancel_reason="elder_deactivated", updated_at=now or utcnow())
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def persist_plan(
    session: Session, plan: Plan, *, by_worker_id: int | None = None, now: datetime | None = None
) -> PersistResult:
    """Write a plan's delta: new visits, moves, unassigned and cancelled visits, with history."""
    started = time.perf_counter()
    now = now or utcnow()
    result = PersistResult()
    reasons: dict[str, int] = defaultdict(int)
    history: list[dict[str, Any]] = []

    new_rows: list[dict[str, Any]] = []
    new_history: dict[tuple[int, int], tuple[int | None, str]] = {}
    for v in plan.visits:
        reasons[v.reason] += 1
        if v.new:
            new_rows.append(
                {
                    "elder_id": v.elder_id,
                    "month": plan.month,
                    "seq": v.seq,
                    "kind": "routine",
                    "window_start": v.window_start,
                    "due_date": v.due_date,
                    "worker_id": v.worker_id,
                    "status": "planned",
                    "distance_km": v.distance_km,
                    "created_at": now,
                    "updated_at": now,
                }
            )
            new_history[(v.elder_id, v.seq)] = (v.worker_id, f"{v.contact} contact")
        else:
            assert v.visit_id is not None
            session.execute(
                update(Visit)
                .where(Visit.id == v.visit_id, Visit.status == "planned")
                .values(
                    worker_id=v.worker_id,
                    due_date=v.due_date,
                    window_start=v.window_start,
                    distance_km=v.distance_km,
                    updated_at=now,
                )
                .execution_options(synchronize_session=False)
            )
            history.append(
                {
                    "visit_id": v.visit_id,
                    "worker_id": v.worker_id,
                    "previous_worker_id": v.previous_worker_id,
                    "reason": v.reason,
                    "detail": f"to {v.contact} contact" if v.contact != "other" else None,
                    "by_worker_id": by_worker_id,
                    "at": now,
                }
            )
            result.moved += 1
    for u in plan.unassigned:
        if not u.changed:
            continue
        reasons[f"unassigned:{u.reason}"] += 1
        result.unassigned += 1
        if u.new:
            new_rows.append(
                {
                    "elder_id": u.elder_id,
                    "month": plan.month,
                    "seq": u.seq,
                    "kind": "routine",
                    "window_start": u.window_start,
                    "due_date": u.due_date,
                    "worker_id": None,
                    "status": "planned",
                    "distance_km": None,
                    "created_at": now,
                    "updated_at": now,
                }
            )
            new_history[(u.elder_id, u.seq)] = (None, f"unassigned: {u.detail}"[:300])
        else:
            assert u.visit_id is not None
            session.execute(
                update(Visit)
                .where(Visit.id == u.visit_id, Visit.status == "planned")
                .values(worker_id=None, updated_at=now)
                .execution_options(synchronize_session=False)
            )
            history.append(
                {
                    "visit_id": u.visit_id,
                    "worker_id": None,
                    "previous_worker_id": u.previous_worker_id,
                    "reason": u.cause,
                    "detail": f"unassigned: {u.detail}"[:300],
                    "by_worker_id": by_worker_id,
                    "at": now,
                }
            )
    for c in plan.cancelled:
        assert c.visit_id is not None
        session.execute(
            update(Visit)
            .where(Visit.id == c.visit_id, Visit.status == "planned")
            .values(status="cancelled", cancel_reason=c.reason, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        history.append(
            {
                "visit_id": c.visit_id,
                "worker_id": None,
                "previous_worker_id": c.worker_id,
                "reason": "cancelled",
                "detail": c.reason,
                "by_worker_id": by_worker_id,
                "at": now,
            }
        )
        result.cancelled += 1

    bulk_insert(session, Visit, new_rows)
    result.created = len(new_rows)
    if new_history:
        ids = _visit_ids(session, plan.month)
        for (elder_id, seq), (worker_id, detail) in new_history.items():
            history.append(
                {
                    "visit_id": ids[(elder_id, seq)],
                    "worker_id": worker_id,
                    "previous_worker_id": None,
                    "reason": REASON_PLANNED,
                    "detail": detail,
                    "by_worker_id": by_worker_id,
                    "at": now,
                }
            )
    bulk_insert(session, VisitAssignment, history)
    result.reasons = dict(reasons)
    result.seconds = time.perf_counter() - started
    return result


def _visit_ids(session: Session, month: str) -> dict[tuple[int, int], int]:
    rows = session.execute(
        select(Visit.elder_id, Visit.seq, Visit.id).where(
            Visit.month == month, Visit.kind == "routine"
        )
    )
    return {(elder_id, seq): visit_id for elder_id, seq, visit_id in rows}


def month_is_planned(session: Session, month: str) -> bool:
    """True when the month has any routine visit."""
    return bool(
        session.scalar(
            select(func.count())
            .select_from(Visit)
            .where(Visit.month == month, Visit.kind == "routine")
            .limit(1)
        )
    )


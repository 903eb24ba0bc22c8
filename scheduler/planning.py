"""Planning a month against the database: load, plan (pure), persist. Callers own the
transaction (the CLI command or the scheduler job commits once)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from scheduler.model import Plan, PlanOptions
from scheduler.planner import plan_month, sweep_overdue
from scheduler.store import (
    PersistResult,
    cancel_visits_of_inactive_elders,
    load_plan_input,
    persist_plan,
)
from server.models import Elder, Visit, Worker, WorkerLeave

LISTED = 100  # unassigned visits and notices listed by `tanfang plan --json`


@dataclass
class PlanRun:
    """A plan and what persisting it did, with timings."""

    plan: Plan
    persisted: PersistResult | None
    load_s: float
    solve_s: float
    dry_run: bool
    # elder id -> (external_id, code), for the elders the summary lists
    elder_refs: dict[int, tuple[str, str]] = field(default_factory=dict)

    def elder_label(self, elder_id: int) -> str:
        """How a person reading the output knows the elder: external id and short code."""
        external_id, code = self.elder_refs.get(elder_id, (f"#{elder_id}", ""))
        return f"{external_id} ({code})" if code else external_id

    def _listed(self, elder_id: int, seq: int, reason: str, detail: str) -> dict[str, Any]:
        external_id, code = self.elder_refs.get(elder_id, (None, None))
        return {
            "elder_id": elder_id,
            "elder_external_id": external_id,
            "elder_code": code,
            "seq": seq,
            "reason": reason,
            "detail": detail,
        }

    def as_dict(self) -> dict[str, Any]:
        """The JSON of `tanfang plan --json` (SPEC section 6, plus what changed)."""
        data = self.plan.summary.as_dict()
        data["dry_run"] = self.dry_run
        data["changes"] = {
            "new": sum(1 for v in self.plan.visits if v.new),
            "moved": sum(1 for v in self.plan.visits if not v.new),
            "unassigned": sum(1 for u in self.plan.unassigned if u.changed),
            "cancelled": len(self.plan.cancelled),
        }
        data["unassigned_visits"] = [
            self._listed(u.elder_id, u.seq, u.reason, u.detail)
            for u in self.plan.unassigned[:LISTED]
        ]
        data["notices"] = [
            self._listed(n.elder_id, n.seq, n.reason, n.detail) for n in self.plan.notices[:LISTED]
        ]
        lb = self.plan.lower_bound
        data["gap"] = round((self.plan.cost - lb) / lb, 6) if lb > 0 else 0.0
        data["seconds"] = {
            "load": round(self.load_s, 3),
            "solve": round(self.solve_s, 3),
            "persist": round(self.persisted.seconds, 3) if self.persisted else 0.0,
        }
        return data


def run_plan(
    session: Session,
    month: str,
    today: date,
    *,
    dry_run: bool = False,
    overdue_only: bool = False,
    options: PlanOptions | None = None,
    by_worker_id: int | None = None,
    now: datetime | None = None,
) -> PlanRun:
    """Plan `month` (or sweep its overdue visits) and persist the changes unless `dry_run`."""
    if not dry_run:
        cancel_visits_of_inactive_elders(session, month, now)
    started = time.perf_counter()
    inp = load_plan_input(session, month, today, options)
    loaded = time.perf_counter()
    plan = sweep_overdue(inp) if overdue_only else plan_month(inp)
    solved = time.perf_counter()
    persisted = None
    if not dry_run and not plan.changes_nothing:
        persisted = persist_plan(session, plan, by_worker_id=by_worker_id, now=now)
    listed = {u.elder_id for u in plan.unassigned[:LISTED]}
    listed |= {n.elder_id for n in plan.notices[:LISTED]}
    refs = (
        {
            elder_id: (external_id, code)
            for elder_id, external_id, code in session.execute(
                select(Elder.id, Elder.external_id, Elder.code).where(Elder.id.in_(listed))
            ).tuples()
        }
        if listed
        else {}
    )
    return PlanRun(plan, persisted, loaded - started, solved - loaded, dry_run, refs)


def fingerprint(session: Session, month: str, today: date) -> tuple[Any, ...]:
    """A cheap summary of everything a plan depends on; equal fingerprints, equal plans."""
    return (
        month,
        today,
        tuple(
            session.execute(
                select(func.count(), func.max(Elder.updated_at)).select_from(Elder)
            ).one()
        ),
        tuple(
            session.execute(
                select(func.count(), func.max(Worker.updated_at)).select_from(Worker)
            ).one()
        ),
        tuple(
            session.execute(
                select(func.count(), func.max(WorkerLeave.id)).select_from(WorkerLeave)
            ).one()
        ),
        tuple(
            session.execute(
                select(func.count(), func.max(Visit.updated_at))
                .select_from(Visit)
                .where(Visit.month == month)
            ).one()
        ),
    )


def replan_now(
    session: Session, tz: Any, now: datetime, *, by_worker_id: int | None = None
) -> PlanRun | None:
    """Re-plan this month at once after a change (new elders, a worker deactivated or on
    leave), when the month has been planned; None when there is no plan to keep right."""
    from scheduler.store import month_is_planned
    from server.services.months import current_month, local_today

    month = current_month(tz, now)
    if not month_is_planned(session, month):
        return None
    return run_plan(session, month, local_today(tz, now), by_worker_id=by_worker_id, now=now)

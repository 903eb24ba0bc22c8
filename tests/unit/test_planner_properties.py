"""Invariants of the plan over generated months (hypothesis): capacity, leave, coverage,
contact order, idempotency, and a lower bound that holds."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import date, timedelta

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import maximum_flow

from scheduler.due_dates import month_dates, tier_windows
from scheduler.model import VISITS_PER_TIER, ElderIn, ExistingVisit, Plan, PlanInput, WorkerIn
from scheduler.planner import plan_month, sweep_overdue

MONTH = "2026-11"
FIRST, LAST = month_dates(MONTH)
BEFORE = FIRST - timedelta(days=1)
KM = 1 / 111.0

FAST = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def months(draw: st.DrawFn) -> tuple[list[ElderIn], list[WorkerIn]]:
    """A small region: up to 6 workers (some on leave, some inactive) and up to 8 elders."""
    n_workers = draw(st.integers(1, 6))
    workers = []
    for wid in range(1, n_workers + 1):
        leave: tuple[tuple[date, date], ...] = ()
        if draw(st.booleans()):
            start = draw(st.integers(-3, 29))
            length = draw(st.integers(0, 20))
            leave = ((FIRST + timedelta(days=start), FIRST + timedelta(days=start + length)),)
        workers.append(
            WorkerIn(
                id=wid,
                lat=38.47 + draw(st.floats(-10, 10)) * KM,
                lon=106.27 + draw(st.floats(-10, 10)) * KM,
                capacity=draw(st.integers(0, 8)),
                grid_ids=frozenset(draw(st.sets(st.integers(1, 2), max_size=2))),
                leave=leave,
                active=draw(st.integers(0, 9)) > 0,
            )
        )
    ids = [None, *range(1, n_workers + 1)]
    elders = []
    for eid in range(100, 100 + draw(st.integers(1, 8))):
        primary = draw(st.sampled_from(ids))
        secondary = draw(st.sampled_from([i for i in ids if i is None or i != primary]))
        elders.append(
            ElderIn(
                id=eid,
                lat=38.47 + draw(st.floats(-10, 10)) * KM,
                lon=106.27 + draw(st.floats(-10, 10)) * KM,
                tier=draw(st.sampled_from(sorted(VISITS_PER_TIER))),
                grid_id=draw(st.integers(1, 2)),
                community_id=10,
                primary_id=primary,
                secondary_id=secondary,
                last_visitor_id=draw(st.sampled_from(ids)),
            )
        )
    return elders, workers


def _free_on(worker: WorkerIn, day: date) -> bool:
    return worker.active and not any(a <= day <= b for a, b in worker.leave)


def _available(worker: WorkerIn, start: date, end: date) -> bool:
    """The rule the plan promises: a free working day in the window (any free day if the
    window has no working day)."""
    days = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    working = [d for d in days if d.weekday() < 5] or days
    return any(_free_on(worker, d) for d in working)


def _windows(elder: ElderIn) -> list[tuple[date, date]]:
    return tier_windows(FIRST, LAST, VISITS_PER_TIER[elder.tier])


def _apply(result: Plan, existing: list[ExistingVisit]) -> list[ExistingVisit]:
    by_key = {(v.elder_id, v.seq): v for v in existing}
    for v in result.visits:
        by_key[(v.elder_id, v.seq)] = ExistingVisit(
            v.elder_id, v.seq, v.worker_id, "planned", v.due_date, v.window_start
        )
    for u in result.unassigned:
        by_key[(u.elder_id, u.seq)] = ExistingVisit(
            u.elder_id, u.seq, None, "planned", u.due_date, u.window_start
        )
    return list(by_key.values())


def _most_placeable(elders: list[ElderIn], workers: list[WorkerIn]) -> int:
    """An independent maximum flow: how many visits any plan could place."""
    slots = [(e, w) for e in elders for w in _windows(e)]
    n_v, n_w = len(slots), len(workers)
    source, sink = 0, 1 + n_v + n_w
    rows, cols, caps = [], [], []
    for i, (_, (start, end)) in enumerate(slots):
        rows.append(source)
        cols.append(1 + i)
        caps.append(1)
        for j, w in enumerate(workers):
            if w.capacity > 0 and _available(w, start, end):
                rows.append(1 + i)
                cols.append(1 + n_v + j)
                caps.append(1)
    for j, w in enumerate(workers):
        rows.append(1 + n_v + j)
        cols.append(sink)
        caps.append(max(w.capacity, 0))
    graph = csr_matrix((np.array(caps, dtype=np.int32), (rows, cols)), shape=(sink + 1, sink + 1))
    return int(maximum_flow(graph, source, sink).flow_value)


@FAST
@given(months())
def test_capacity_leave_and_windows_hold(month: tuple[list[ElderIn], list[WorkerIn]]) -> None:
    elders, workers = month
    result = plan_month(PlanInput(MONTH, BEFORE, elders, workers))
    by_id = {w.id: w for w in workers}
    load = Counter(v.worker_id for v in result.visits)
    for wid, count in load.items():
        assert count <= by_id[wid].capacity
    for v in result.visits:
        holder = by_id[v.worker_id]
        assert _free_on(holder, v.due_date), "a visit falls due on a leave day"
        assert FIRST <= v.window_start <= v.due_date <= LAST
    assert result.lower_bound <= result.cost
    assert result.lower_bound_wider <= result.cost


@FAST
@given(months())
def test_every_visit_that_can_be_placed_is_placed(
    month: tuple[list[ElderIn], list[WorkerIn]],
) -> None:
    elders, workers = month
    result = plan_month(PlanInput(MONTH, BEFORE, elders, workers))
    owed = sum(VISITS_PER_TIER[e.tier] for e in elders)
    assert len(result.visits) + len(result.unassigned) == owed
    assert len(result.visits) == _most_placeable(elders, workers)


@FAST
@given(months())
def test_with_room_for_everyone_every_elder_gets_their_tiers_visits(
    month: tuple[list[ElderIn], list[WorkerIn]],
) -> None:
    elders, workers = month
    # a capacity that suffices: one always-available worker with room for everything
    spare = WorkerIn(99, 38.5, 106.3, sum(VISITS_PER_TIER[e.tier] for e in elders))
    result = plan_month(PlanInput(MONTH, BEFORE, elders, [*workers, spare]))
    assert result.unassigned == []
    got = Counter(v.elder_id for v in result.visits)
    assert got == {e.id: VISITS_PER_TIER[e.tier] for e in elders}


@FAST
@given(months())
def test_the_primary_is_passed_over_only_when_full_or_away(
    month: tuple[list[ElderIn], list[WorkerIn]],
) -> None:
    elders, workers = month
    result = plan_month(PlanInput(MONTH, BEFORE, elders, workers))
    by_id = {w.id: w for w in workers}
    by_elder = {e.id: e for e in elders}
    load = Counter(v.worker_id for v in result.visits)
    placed = {(v.elder_id, v.seq): v for v in result.visits}
    for e in elders:
        primary = by_id.get(e.primary_id) if e.primary_id is not None else None
        if primary is None:
            continue
        for seq, (start, end) in enumerate(_windows(e), start=1):
            v = placed.get((e.id, seq))
            if v is not None and v.worker_id == primary.id:
                continue
            if _available(primary, start, end):
                assert load[primary.id] >= primary.capacity, (
                    f"elder {e.id} visit {seq} went to {v and v.worker_id} "
                    f"while primary {primary.id} had room"
                )
            if v is not None and v.contact == "other" and e.secondary_id in by_id:
                secondary = by_id[e.secondary_id]
                if _available(secondary, start, end):
                    assert load[secondary.id] >= secondary.capacity
    assert all(by_elder[v.elder_id].id == v.elder_id for v in result.visits)


@FAST
@given(months(), st.integers(0, 29), st.data())
def test_planning_again_changes_nothing(
    month: tuple[list[ElderIn], list[WorkerIn]], day: int, data: st.DataObject
) -> None:
    elders, workers = month
    first = plan_month(PlanInput(MONTH, BEFORE, elders, workers))
    stored = _apply(first, [])
    assert plan_month(PlanInput(MONTH, BEFORE, elders, workers, stored)).changes_nothing
    # later in the month a worker leaves; the replan settles, and a third plan is a no-op
    today = FIRST + timedelta(days=day)
    gone = data.draw(st.sampled_from([w.id for w in workers]))
    workers = [replace(w, active=False) if w.id == gone else w for w in workers]
    second = plan_month(PlanInput(MONTH, today, elders, workers, stored))
    assert all(v.worker_id != gone for v in second.visits)
    stored = _apply(second, stored)
    assert not any(v.worker_id == gone and v.status == "planned" for v in stored)
    third = plan_month(PlanInput(MONTH, today, elders, workers, stored))
    assert third.changes_nothing, (third.visits, third.unassigned)


@FAST
@given(months(), st.integers(0, 29), st.integers(0, 29), st.data())
def test_a_month_lived_through_keeps_every_promise(
    month: tuple[list[ElderIn], list[WorkerIn]], day1: int, day2: int, data: st.DataObject
) -> None:
    """Plan mid-month, do some visits, a worker takes leave, days pass, the sweep and the
    planner run: capacity, leave and due dates hold, and a further plan is a no-op."""
    elders, workers = month
    early = FIRST + timedelta(days=min(day1, day2))
    later = FIRST + timedelta(days=max(day1, day2))
    first = plan_month(PlanInput(MONTH, early, elders, workers))
    assert all(v.due_date >= early for v in first.visits)
    stored = [
        replace(v, status="done") if v.worker_id and data.draw(st.booleans()) else v
        for v in _apply(first, [])
    ]
    away = data.draw(st.sampled_from([w.id for w in workers]))
    workers = [
        replace(w, leave=(*w.leave, (later, later + timedelta(days=3)))) if w.id == away else w
        for w in workers
    ]
    swept = sweep_overdue(PlanInput(MONTH, later, elders, workers, stored))
    assert all(v.reason == "overdue" and v.worker_id != v.previous_worker_id for v in swept.visits)
    stored = _apply(swept, stored)
    replan = plan_month(PlanInput(MONTH, later, elders, workers, stored))
    by_id = {w.id: w for w in workers}
    for v in replan.visits:
        assert v.due_date >= later and _free_on(by_id[v.worker_id], v.due_date)
    stored = _apply(replan, stored)
    for wid, held in Counter(v.worker_id for v in stored if v.status != "cancelled").items():
        if wid is None:
            continue
        done = sum(1 for v in stored if v.worker_id == wid and v.status == "done")
        assert held <= max(by_id[wid].capacity, done)
    assert plan_month(PlanInput(MONTH, later, elders, workers, stored)).changes_nothing

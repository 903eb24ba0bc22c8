"""The monthly plan in concrete scenarios: who gets each visit, when it falls due, and why."""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from datetime import date, timedelta

import numpy as np
import pytest
from geopy.distance import geodesic, great_circle

from scheduler.geo import checkin_distance_m, great_circle_m, great_circle_many_m
from scheduler.model import (
    ElderIn,
    ExistingVisit,
    Plan,
    PlanInput,
    PlanOptions,
    WorkerIn,
)
from scheduler.planner import plan_month, sweep_overdue

MONTH = "2026-11"  # 1 November 2026 is a Sunday
BEFORE = date(2026, 10, 31)
YINCHUAN = (38.47, 106.27)
KM = 1 / 111.0


def worker(
    wid: int,
    east_km: float = 0.0,
    capacity: int = 10,
    grids: Sequence[int] = (),
    leave: Sequence[tuple[date, date]] = (),
    active: bool = True,
) -> WorkerIn:
    return WorkerIn(
        id=wid,
        lat=YINCHUAN[0],
        lon=YINCHUAN[1] + east_km * KM / np.cos(np.radians(YINCHUAN[0])),
        capacity=capacity,
        grid_ids=frozenset(grids),
        leave=tuple(leave),
        active=active,
    )


def elder(
    eid: int,
    tier: str = "standard",
    primary: int | None = None,
    secondary: int | None = None,
    east_km: float = 0.0,
    grid: int = 1,
    last: int | None = None,
    enrolled: date | None = None,
) -> ElderIn:
    return ElderIn(
        id=eid,
        lat=YINCHUAN[0] + 0.5 * KM,
        lon=YINCHUAN[1] + east_km * KM / np.cos(np.radians(YINCHUAN[0])),
        tier=tier,
        grid_id=grid,
        community_id=100 + grid,
        primary_id=primary,
        secondary_id=secondary,
        last_visitor_id=last,
        enrolled_on=enrolled,
    )


def plan(
    elders: Sequence[ElderIn],
    workers: Sequence[WorkerIn],
    existing: Sequence[ExistingVisit] = (),
    today: date = BEFORE,
    **options: int,
) -> Plan:
    return plan_month(
        PlanInput(MONTH, today, list(elders), list(workers), list(existing), PlanOptions(**options))
    )


def apply(result: Plan, existing: Sequence[ExistingVisit] = ()) -> list[ExistingVisit]:
    """The stored visits after persisting a plan, as a loader would."""
    by_key = {(v.elder_id, v.seq): v for v in existing}
    for v in result.visits:
        by_key[(v.elder_id, v.seq)] = ExistingVisit(
            v.elder_id, v.seq, v.worker_id, "planned", v.due_date, v.window_start
        )
    for u in result.unassigned:
        by_key[(u.elder_id, u.seq)] = ExistingVisit(
            u.elder_id, u.seq, None, "planned", u.due_date, u.window_start
        )
    for c in result.cancelled:
        old = by_key[(c.elder_id, c.seq)]
        by_key[(c.elder_id, c.seq)] = replace(old, status="cancelled")
    return list(by_key.values())


def holders(result: Plan) -> dict[tuple[int, int], int]:
    return {(v.elder_id, v.seq): v.worker_id for v in result.visits}


# --- contact order ------------------------------------------------------------------------


def test_the_primary_contact_gets_the_visit_even_when_someone_is_nearer() -> None:
    workers = [worker(1, east_km=8), worker(2, east_km=6), worker(3, east_km=0)]
    result = plan([elder(10, primary=1, secondary=2)], workers)
    [visit] = result.visits
    assert (visit.worker_id, visit.contact, visit.reason, visit.new) == (
        1,
        "primary",
        "planned",
        True,
    )
    assert visit.distance_km == pytest.approx(8.0, abs=0.05)


def test_a_full_primary_hands_over_to_the_secondary() -> None:
    workers = [worker(1, capacity=1), worker(2, east_km=5, capacity=5), worker(3, east_km=1)]
    elders = [elder(10, primary=1, secondary=2), elder(11, primary=1, secondary=2, east_km=3)]
    result = plan(elders, workers)
    assert sorted(holders(result).values()) == [1, 2]
    assert Counter(v.contact for v in result.visits) == {"primary": 1, "secondary": 1}


def test_with_both_contacts_full_a_worker_of_the_grid_beats_a_nearer_stranger() -> None:
    workers = [
        worker(1, capacity=0),
        worker(2, capacity=0),
        worker(3, east_km=9, grids=[1]),
        worker(4, east_km=0.5, grids=[2]),
    ]
    result = plan([elder(10, primary=1, secondary=2, grid=1)], workers)
    assert holders(result) == {(10, 1): 3}
    assert result.visits[0].contact == "other"


def test_nobody_in_the_area_means_the_nearest_worker_with_room() -> None:
    workers = [
        worker(1, capacity=0),
        worker(3, east_km=9),
        worker(4, east_km=2, capacity=0),
        worker(5, east_km=4),
    ]
    result = plan([elder(10, primary=1, grid=7)], workers)
    assert holders(result) == {(10, 1): 5}


def test_last_months_visitor_keeps_the_elder_all_else_equal() -> None:
    workers = [worker(1, capacity=0), worker(2, east_km=3), worker(3, east_km=-3)]
    for last in (2, 3):
        result = plan([elder(10, primary=1, last=last, grid=9)], workers)
        assert holders(result) == {(10, 1): last}


def test_an_elder_keeps_one_worker_for_the_month_when_two_compete() -> None:
    # both high-tier elders want worker 1, who has room for four visits; the secondaries are
    # equally far, so splitting 2+2 would cost the same: one elder should keep worker 1
    workers = [worker(1, capacity=4), worker(2, east_km=2), worker(3, east_km=-2)]
    elders = [
        elder(10, "high", primary=1, secondary=2),
        elder(11, "high", primary=1, secondary=3),
    ]
    result = plan(elders, workers)
    per_elder = {e: {v.worker_id for v in result.visits if v.elder_id == e} for e in (10, 11)}
    assert sorted(len(ws) for ws in per_elder.values()) == [1, 1]
    assert Counter(v.worker_id for v in result.visits)[1] == 4


# --- capacity, leave, unassigned ----------------------------------------------------------


def test_capacity_is_never_exceeded_and_the_shortfall_is_listed_with_a_reason() -> None:
    workers = [worker(1, capacity=2), worker(2, capacity=1)]
    elders = [elder(10, "high", primary=1, secondary=2)]
    result = plan(elders, workers)
    assert Counter(holders(result).values()) == {1: 2, 2: 1}
    [missing] = result.unassigned
    assert (missing.reason, missing.cause, missing.new) == ("no_capacity", "planned", True)
    assert "capacity" in missing.detail
    assert result.summary.unassigned == 1 and result.summary.visits == 4


def test_a_visit_with_every_candidate_on_leave_is_unassigned_as_unavailable() -> None:
    month_long = [(date(2026, 10, 20), date(2026, 12, 5))]
    workers = [worker(1, leave=month_long), worker(2, leave=month_long)]
    result = plan([elder(10, primary=1, secondary=2)], workers)
    assert result.visits == []
    assert [u.reason for u in result.unassigned] == ["unavailable"]


def test_no_worker_at_all_is_no_candidate() -> None:
    result = plan([elder(10)], [])
    assert [u.reason for u in result.unassigned] == ["no_candidate"]


def test_a_primary_on_leave_for_a_week_loses_only_that_weeks_visit() -> None:
    leave = [(date(2026, 11, 15), date(2026, 11, 23))]  # covers the third window (16-23)
    workers = [worker(1, leave=leave), worker(2, east_km=3)]
    result = plan([elder(10, "high", primary=1, secondary=2)], workers)
    got = holders(result)
    assert got == {(10, 1): 1, (10, 2): 1, (10, 3): 2, (10, 4): 1}
    for v in result.visits:
        if v.worker_id == 1:
            assert not leave[0][0] <= v.due_date <= leave[0][1]


def test_high_tier_visits_fall_due_about_weekly_on_working_days() -> None:
    result = plan([elder(10, "high", primary=1)], [worker(1)])
    due = sorted(v.due_date for v in result.visits)
    assert len(due) == 4
    assert all(d.weekday() < 5 for d in due)
    gaps = [(b - a).days for a, b in itertools.pairwise(due)]
    assert all(4 <= g <= 11 for g in gaps)
    windows = sorted((v.window_start, v.due_date) for v in result.visits)
    assert all(start <= end for start, end in windows)


def test_one_workers_due_dates_spread_over_the_month() -> None:
    workers = [worker(1, capacity=40)]
    elders = [elder(10 + i, primary=1) for i in range(20)]
    result = plan(elders, workers)
    weeks = Counter((v.due_date.day - 1) // 7 for v in result.visits)
    assert max(weeks.values()) <= 6
    assert all(v.due_date.weekday() < 5 for v in result.visits)


# --- incremental and idempotent -----------------------------------------------------------


def _month() -> tuple[list[ElderIn], list[WorkerIn]]:
    workers = [worker(1, capacity=8), worker(2, east_km=2, capacity=8), worker(3, east_km=4)]
    elders = [
        elder(10, "high", primary=1, secondary=2),
        elder(11, "elevated", primary=2, secondary=1, east_km=1),
        elder(12, "standard", primary=1, secondary=2, east_km=2),
    ]
    return elders, workers


def test_planning_twice_changes_nothing() -> None:
    elders, workers = _month()
    first = plan(elders, workers)
    assert len(first.visits) == 7
    second = plan(elders, workers, apply(first))
    assert second.changes_nothing
    assert second.visits == [] and second.unassigned == []


def test_done_visits_never_move_even_when_their_worker_leaves() -> None:
    elders, workers = _month()
    stored = apply(plan(elders, workers))
    stored = [replace(v, status="done") if v.worker_id == 1 else v for v in stored]
    gone = [replace(w, active=False) if w.id == 1 else w for w in workers]
    result = plan(elders, gone, stored)
    assert all(v.previous_worker_id != 1 for v in result.visits)
    assert result.visits == []


def test_a_deactivated_workers_open_visits_move_to_the_other_contact() -> None:
    elders, workers = _month()
    stored = apply(plan(elders, workers))
    held_by_2 = {(v.elder_id, v.seq) for v in stored if v.worker_id == 2}
    gone = [replace(w, active=False) if w.id == 2 else w for w in workers]
    result = plan(elders, gone, stored, today=date(2026, 11, 2))
    moved = {(v.elder_id, v.seq): v for v in result.visits}
    assert set(moved) == held_by_2
    for v in moved.values():
        assert (v.reason, v.previous_worker_id, v.new) == ("deactivated", 2, False)
    # elder 11's primary was worker 2: their visits go to the secondary, worker 1
    assert {v.worker_id for k, v in moved.items() if k[0] == 11} == {1}
    assert plan(elders, gone, apply(result, stored), today=date(2026, 11, 2)).changes_nothing


def test_leave_taken_after_planning_moves_the_visits_due_in_it() -> None:
    elders, workers = _month()
    stored = apply(plan(elders, workers))
    leave = (date(2026, 11, 1), date(2026, 11, 30))
    on_leave = [replace(w, leave=(leave,)) if w.id == 1 else w for w in workers]
    result = plan(elders, on_leave, stored)
    assert result.visits and all(v.reason == "leave" for v in result.visits)
    assert all(v.previous_worker_id == 1 and v.worker_id != 1 for v in result.visits)


def test_a_new_elder_mid_month_is_planned_at_once_in_what_is_left() -> None:
    elders, workers = _month()
    stored = apply(plan(elders, workers))
    today = date(2026, 11, 20)
    newcomer = elder(13, "high", primary=2, secondary=1, enrolled=today)
    result = plan([*elders, newcomer], workers, stored, today=today)
    new = [v for v in result.visits if v.new]
    assert {(v.elder_id, v.seq) for v in new} == {(13, s) for s in (1, 2, 3, 4)}
    assert all(v.window_start >= today and v.due_date >= today for v in new)
    assert all(v.due_date <= date(2026, 11, 30) for v in new)
    # what else moved was overdue by the 20th
    assert all(v.reason == "overdue" for v in result.visits if not v.new)


def test_an_elder_enrolled_next_month_gets_nothing_yet() -> None:
    result = plan([elder(10, primary=1, enrolled=date(2026, 12, 3))], [worker(1)])
    assert result.visits == [] and result.summary.elders == 0


def test_an_overdue_visit_goes_to_the_other_contact() -> None:
    workers = [worker(1), worker(2, east_km=2)]
    elders = [elder(10, primary=1, secondary=2)]
    stored = [ExistingVisit(10, 1, 1, "planned", date(2026, 11, 10), date(2026, 11, 1), 77)]
    today = date(2026, 11, 12)
    for run in (sweep_overdue, plan_month):
        result = run(PlanInput(MONTH, today, elders, workers, stored))
        [moved] = result.visits
        assert (moved.worker_id, moved.reason, moved.previous_worker_id) == (2, "overdue", 1)
        assert moved.visit_id == 77 and not moved.new
        assert today <= moved.due_date <= today + timedelta(days=3)


def test_an_overdue_visit_nobody_else_can_take_stays_and_is_noticed() -> None:
    stored = [ExistingVisit(10, 1, 1, "planned", date(2026, 11, 10), date(2026, 11, 1))]
    result = sweep_overdue(
        PlanInput(MONTH, date(2026, 11, 12), [elder(10, primary=1)], [worker(1)], stored)
    )
    assert result.visits == [] and result.unassigned == []
    assert [n.reason for n in result.notices] == ["overdue_not_moved"]


def test_the_sweep_leaves_visits_that_are_not_overdue_alone() -> None:
    elders, workers = _month()
    stored = apply(plan(elders, workers))
    gone = [replace(w, active=False) if w.id == 2 else w for w in workers]
    assert sweep_overdue(PlanInput(MONTH, BEFORE, elders, gone, stored)).changes_nothing


def test_a_lowered_capacity_sheds_the_surplus() -> None:
    elders, workers = _month()
    stored = apply(plan(elders, workers))
    held = sum(1 for v in stored if v.worker_id == 1)
    smaller = [replace(w, capacity=held - 2) if w.id == 1 else w for w in workers]
    result = plan(elders, smaller, stored)
    assert [v.reason for v in result.visits] == ["capacity", "capacity"]
    assert all(v.previous_worker_id == 1 for v in result.visits)


def test_a_lowered_tier_cancels_the_visits_no_longer_owed() -> None:
    elders, workers = _month()
    stored = apply(plan(elders, workers))
    calmer = [replace(e, tier="standard") if e.id == 10 else e for e in elders]
    result = plan(calmer, workers, stored)
    assert sorted(c.seq for c in result.cancelled if c.elder_id == 10) == [2, 3, 4]
    assert plan(calmer, workers, apply(result, stored)).changes_nothing


def test_an_unknown_tier_is_refused() -> None:
    with pytest.raises(ValueError, match="tier"):
        plan([elder(10, "extreme")], [worker(1)])


# --- cost and bound -----------------------------------------------------------------------


def test_the_lower_bound_never_exceeds_the_cost_and_is_tight_without_contention() -> None:
    elders, workers = _month()
    result = plan(elders, workers)
    assert result.lower_bound <= result.cost
    assert result.lower_bound_wider <= result.cost
    assert result.cost - result.lower_bound <= len(result.visits)  # tie-break rounding only
    summary = result.summary.as_dict()
    assert summary["by_contact"] == {"primary": 7, "secondary": 0, "other": 0}
    assert summary["visits"] == 7 and summary["unassigned"] == 0
    assert 0 < summary["max_load_ratio"] <= 1


def test_the_lower_bound_is_proven_when_capacity_forces_detours() -> None:
    rng = np.random.default_rng(3)
    workers = [worker(i, east_km=float(rng.uniform(-20, 20)), capacity=4) for i in range(1, 9)]
    elders = [
        elder(
            100 + j,
            str(rng.choice(["standard", "elevated", "high"])),
            primary=int(rng.integers(1, 3)),
            secondary=int(rng.integers(3, 9)),
            east_km=float(rng.uniform(-20, 20)),
        )
        for j in range(10)
    ]
    result = plan(elders, workers, candidates=3)
    assert result.lower_bound <= result.cost
    assert result.summary.unassigned == 0
    assert result.cost - result.lower_bound <= 0.01 * result.cost


# --- distances ----------------------------------------------------------------------------


def test_vectorised_distances_match_geopy_great_circle() -> None:
    rng = np.random.default_rng(11)
    lat1, lat2 = rng.uniform(35.2, 39.4, (2, 500))
    lon1, lon2 = rng.uniform(104.2, 107.7, (2, 500))
    ours = great_circle_many_m(lat1, lon1, lat2, lon2)
    theirs = np.array(
        [
            great_circle((a, b), (c, d)).meters
            for a, b, c, d in zip(lat1, lon1, lat2, lon2, strict=True)
        ]
    )
    assert np.max(np.abs(ours - theirs) / theirs) < 1e-9
    assert great_circle_m(lat1[0], lon1[0], lat2[0], lon2[0]) == pytest.approx(theirs[0])


def test_check_in_distance_is_geodesic() -> None:
    here, home = (38.4700, 106.2700), (38.4712, 106.2731)
    assert checkin_distance_m(*here, *home) == pytest.approx(geodesic(here, home).meters)
    assert checkin_distance_m(*here, *here) == 0.0


def test_capacity_below_the_visits_already_done_gives_up_only_open_ones() -> None:
    elders, workers = _month()
    stored = apply(plan(elders, workers))
    mine = [v for v in stored if v.worker_id == 1]
    stored = [replace(v, status="done") if v in mine[:3] else v for v in stored]
    smaller = [replace(w, capacity=1) if w.id == 1 else w for w in workers]
    result = plan(elders, smaller, stored)
    assert len(result.visits) == len(mine) - 3
    assert all(v.reason == "capacity" and v.worker_id != 1 for v in result.visits)


def test_holidays_carry_no_due_date() -> None:
    holidays = frozenset(date(2026, 11, d) for d in range(23, 31))
    result = plan_month(
        PlanInput(
            MONTH,
            BEFORE,
            [elder(10, primary=1)],
            [worker(1)],
            options=PlanOptions(holidays=holidays),
        )
    )
    [visit] = result.visits
    assert visit.due_date == date(2026, 11, 20)  # the Friday before the holiday week


def test_an_elder_without_coordinates_is_still_planned_with_a_contact() -> None:
    homeless = replace(elder(10, primary=2), lat=None, lon=None)
    result = plan([homeless], [worker(1), worker(2, east_km=5)])
    [visit] = result.visits
    assert (visit.worker_id, visit.distance_km) == (2, None)
    assert result.lower_bound <= result.cost


def test_a_month_already_over_is_planned_as_from_its_start_and_nothing_is_overdue() -> None:
    stored = [ExistingVisit(10, 1, 1, "planned", date(2026, 11, 10), date(2026, 11, 1))]
    result = plan([elder(10, "elevated", primary=1)], [worker(1)], stored, today=date(2026, 12, 3))
    assert [(v.seq, v.reason) for v in result.visits] == [(2, "planned")]
    assert result.visits[0].window_start == date(2026, 11, 16)


def test_a_holder_on_leave_on_the_due_date_keeps_the_visit_if_nobody_else_can() -> None:
    stored = [ExistingVisit(10, 1, 1, "planned", date(2026, 11, 24), date(2026, 11, 1), 5)]
    leave = ((date(2026, 11, 23), date(2026, 11, 25)),)
    result = plan(
        [elder(10, primary=1)], [worker(1, leave=leave)], stored, today=date(2026, 11, 20)
    )
    [visit] = result.visits
    assert (visit.worker_id, visit.previous_worker_id, visit.reason) == (1, 1, "leave")
    assert visit.due_date >= date(2026, 11, 20) and not leave[0][0] <= visit.due_date <= leave[0][1]
    stored = apply(result, stored)
    assert plan(
        [elder(10, primary=1)], [worker(1, leave=leave)], stored, today=date(2026, 11, 20)
    ).changes_nothing


def test_under_shortage_every_elder_gets_a_first_visit_before_anyone_gets_a_second() -> None:
    # The promise is a 100% monthly visit rate: with room for two visits and two elders, a
    # nearer high-tier elder must not take both while a farther one is left with none.
    workers = [worker(1, capacity=2)]
    elders = [elder(10, "high", primary=1), elder(11, "standard", primary=1, east_km=5)]
    result = plan(elders, workers)
    assert Counter(v.elder_id for v in result.visits) == {10: 1, 11: 1}
    assert sorted(u.seq for u in result.unassigned if u.elder_id == 10) == [2, 3, 4]


def test_under_shortage_first_visits_win_across_workers_and_tiers() -> None:
    # Worker 1 could serve elder 12 (its secondary) if it left elder 10's extra visits to
    # nobody; the shortage must fall on second and later visits, not on anyone's only one.
    workers = [worker(1, capacity=4), worker(2, capacity=1, east_km=1)]
    elders = [
        elder(10, "high", primary=1),
        elder(11, "elevated", primary=2, secondary=1, east_km=1),
        elder(12, "standard", primary=2, secondary=1, east_km=1.2),
    ]
    result = plan(elders, workers)
    visited = Counter(v.elder_id for v in result.visits)
    assert set(visited) == {10, 11, 12}
    assert sum(visited.values()) == 5

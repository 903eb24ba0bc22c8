"""The monthly plan as a pure function: plain data in (`PlanInput`), changes out (`Plan`).

How a plan is made:

1. Existing visits are sorted out. Done and missed visits never move. A planned visit stays
   with its worker while the worker is active, is not on leave on its due date, the due date
   has not passed and the worker is within capacity; otherwise it is to be placed again, with
   the reason recorded (`deactivated`, `leave`, `overdue`, `capacity`) and its holder barred.
   Visits an elder is owed but lacks (a new elder, a new month) are added. So planning twice
   changes nothing, and only the delta comes back for a loader to persist.
2. Candidates per elder (`scheduler.candidates`); a worker is a candidate for a visit only if
   they have room and a working day off leave inside the visit's window.
3. Assignment is a min-cost flow (OR-Tools SimpleMinCostFlow) on a sparse graph: visit nodes
   -> candidate workers -> sink, worker arcs capped by remaining monthly capacity, solved as
   a maximum flow of minimum cost: the most visits that can be placed are placed, at least
   cost among those. (When some cannot be placed, a second solve prices an "unplaced" arc
   above any chain of reassignments: OR-Tools' max-flow variant fixes which visits stay out
   before it minimises cost.) Visits of one elder whose candidates are equally available
   share a node (supply = their number), which keeps the graph small.
4. Continuity within the month: all visits of an elder cost the same with a given worker, so
   an optimal flow only splits an elder across workers where capacity or leave forces it;
   ties between elders are broken by a small per-(elder, worker) term, so under contention
   one elder keeps one worker rather than two elders sharing two.
5. When some elders' nearest workers all fill up, the nearest workers who still have room are
   added to those elders' candidates and the whole month is solved again (`max_passes`
   solves at most); whatever is still unplaced then gets the leftover room, nearest first,
   until nothing more fits, so a second plan finds nothing more to do.
6. Due dates are spread over each worker's working days inside each window
   (`scheduler.due_dates.spread_due_days`).
7. The lower bound is Lagrangian: each visit's cheapest option with each worker's cost raised
   by a price on their capacity, minus the capacity at those prices. Any prices give a valid
   bound (zero prices relax capacity outright); the prices read off the optimal flow (its
   duals, by Bellman-Ford) make it meet the plan's cost when capacity is ample. Workers
   outside the candidate list count at no less than the distance of the farthest
   candidate, so the bound holds for every plan, not only plans over candidates. It is
   computed at k and at 1.5k nearest; a visit left out counts `unassigned_penalty_m`.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np
from numpy.typing import NDArray
from ortools.graph.python import min_cost_flow

from scheduler.candidates import (
    AREA,
    OTHER,
    PRIMARY,
    SECONDARY,
    Candidates,
    People,
    build_candidates,
    nearest_distance_m,
    nearest_workers,
)
from scheduler.due_dates import month_dates, spread_due_days, tier_windows, working_mask
from scheduler.geo import great_circle_many_m
from scheduler.model import (
    REASON_CAPACITY,
    REASON_DEACTIVATED,
    REASON_LEAVE,
    REASON_OVERDUE,
    REASON_PLANNED,
    UNASSIGNED_NO_CANDIDATE,
    UNASSIGNED_NO_CAPACITY,
    UNASSIGNED_UNAVAILABLE,
    Cancelled,
    Contact,
    ElderIn,
    ExistingVisit,
    Notice,
    Plan,
    PlanInput,
    PlannedVisit,
    PlanOptions,
    PlanSummary,
    Unassigned,
    WorkerIn,
)

IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]

TIE_BREAK_SCALE = 16  # solver costs are cost * 16 + a per-(elder, worker) term in [0, 16)
_CONTACT_WORD: tuple[Contact, ...] = ("primary", "secondary", "other", "other")
_HELD = ("planned", "done", "missed")  # statuses that take a slot of the holder's capacity


def plan_month(inp: PlanInput) -> Plan:
    """Plan (or re-plan) a month: place every owed visit not rightly held, return the delta."""
    return _plan(inp, overdue_only=False)


def sweep_overdue(inp: PlanInput) -> Plan:
    """Move each open visit whose due date has passed to the other contact, then to others.

    Only overdue visits are touched. One that no other worker can take stays with its holder
    and is reported in `Plan.notices`.
    """
    return _plan(inp, overdue_only=True)


# --- the calendar of one month ------------------------------------------------------------


@dataclass(frozen=True)
class _Calendar:
    first: date
    last: date
    horizon: int  # day offset of "today" clamped into the month; earlier days are past
    closed: bool  # the month is over: nothing is overdue any more, it is history
    working: BoolArray  # per day offset
    free: BoolArray  # (worker, day): active and not on leave
    cum_work: IntArray  # (worker, day + 1): prefix sums of free working days
    cum_free: IntArray  # (worker, day + 1): prefix sums of free days
    cum_working: IntArray  # (day + 1,): prefix sums of working days

    @property
    def days(self) -> int:
        return len(self.working)

    def offset(self, day: date) -> int:
        return (day - self.first).days

    def day(self, offset: int) -> date:
        return self.first + timedelta(days=int(offset))

    def available(self, worker: IntArray, lo: IntArray, hi: IntArray) -> BoolArray:
        """Whether each worker has a free working day in [lo, hi] (any free day if the
        window has no working day at all)."""
        has_working = self.cum_working[hi + 1] - self.cum_working[lo] > 0
        work = self.cum_work[worker, hi + 1] - self.cum_work[worker, lo] > 0
        free = self.cum_free[worker, hi + 1] - self.cum_free[worker, lo] > 0
        return np.where(has_working, work, free)


def _calendar(inp: PlanInput, workers: Sequence[WorkerIn]) -> _Calendar:
    first, last = month_dates(inp.month)
    opts = inp.options
    closed = inp.today > last
    today = first if closed else max(inp.today, first)
    working = working_mask(first, last, opts.working_weekdays, opts.holidays)
    days = len(working)
    free = np.ones((len(workers), days), dtype=bool)
    for i, worker in enumerate(workers):
        if not worker.active:
            free[i] = False
            continue
        for start, end in worker.leave:
            lo = max((start - first).days, 0)
            hi = min((end - first).days, days - 1)
            if lo <= hi:
                free[i, lo : hi + 1] = False
    zero_col = np.zeros((len(workers), 1), dtype=np.int64)
    return _Calendar(
        first=first,
        last=last,
        horizon=(today - first).days,
        closed=closed,
        working=working,
        free=free,
        cum_work=np.hstack((zero_col, np.cumsum(free & working, axis=1))),
        cum_free=np.hstack((zero_col, np.cumsum(free, axis=1))),
        cum_working=np.concatenate(([0], np.cumsum(working))).astype(np.int64),
    )


# --- people as arrays ---------------------------------------------------------------------


def _people(elders: Sequence[ElderIn], workers: Sequence[WorkerIn]) -> People:
    index = {w.id: i for i, w in enumerate(workers)}

    def idx(worker_id: int | None) -> int:
        return -1 if worker_id is None else index.get(worker_id, -1)

    grid_of = {e.grid_id: e.community_id for e in elders if e.grid_id is not None}
    gw: list[int] = []
    ga: list[int] = []
    cw: list[int] = []
    ca: list[int] = []
    for i, w in enumerate(workers):
        if not w.active:
            continue
        communities = set(w.community_ids)
        for g in w.grid_ids:
            gw.append(i)
            ga.append(g)
            community = grid_of.get(g)
            if community is not None:
                communities.add(community)  # serving a grid is serving its community
        for c in communities:
            cw.append(i)
            ca.append(c)

    def coords(values: Sequence[float | None]) -> NDArray[np.float64]:
        return np.array([np.nan if v is None else v for v in values], dtype=np.float64)

    def ints(values: Sequence[int]) -> IntArray:
        return np.array(values, dtype=np.int64)

    return People(
        elder_lat=coords([e.lat for e in elders]),
        elder_lon=coords([e.lon for e in elders]),
        elder_grid=ints([-1 if e.grid_id is None else e.grid_id for e in elders]),
        elder_community=ints([-1 if e.community_id is None else e.community_id for e in elders]),
        primary=ints([idx(e.primary_id) for e in elders]),
        secondary=ints([idx(e.secondary_id) for e in elders]),
        last_visitor=ints([idx(e.last_visitor_id) for e in elders]),
        worker_lat=coords([w.lat for w in workers]),
        worker_lon=coords([w.lon for w in workers]),
        grid_worker=ints(gw),
        grid_area=ints(ga),
        community_worker=ints(cw),
        community_area=ints(ca),
    )


def _base_cost(
    contact: NDArray[np.int8],
    continuity: BoolArray,
    distance_m: NDArray[np.float64],
    opts: PlanOptions,
) -> IntArray:
    """The cost of a visit by a worker, in metres: distance, contact order, continuity."""
    offsets = np.array(
        [0, opts.secondary_penalty_m, opts.area_penalty_m, opts.other_penalty_m], dtype=np.int64
    )
    dist = np.where(
        np.isnan(distance_m),
        float(opts.unknown_distance_m),
        np.minimum(np.rint(distance_m), float(opts.max_distance_m)),
    ).astype(np.int64)
    return offsets[contact] + dist + np.where(continuity, 0, opts.continuity_bonus_m)


def _pair_contact(people: People, elder: IntArray, worker: IntArray) -> NDArray[np.int8]:
    """The contact class of arbitrary (elder, worker) pairs."""
    n = max(len(people.worker_lat), 1)
    # grids and communities are both areas, so one set of (area, worker) codes serves both
    area_codes = np.concatenate(
        (
            people.grid_area * n + people.grid_worker,
            people.community_area * n + people.community_worker,
        )
    )
    in_grid = np.isin(people.elder_grid[elder] * n + worker, area_codes) & (
        people.elder_grid[elder] >= 0
    )
    in_community = np.isin(people.elder_community[elder] * n + worker, area_codes) & (
        people.elder_community[elder] >= 0
    )
    contact = np.where(in_grid | in_community, AREA, OTHER)
    contact = np.where(worker == people.secondary[elder], SECONDARY, contact)
    contact = np.where(worker == people.primary[elder], PRIMARY, contact)
    return contact.astype(np.int8)


# --- sorting out what exists --------------------------------------------------------------


@dataclass
class _Pending:
    """Visits to place, as parallel lists (turned into arrays for the solver)."""

    elder: list[int]
    seq: list[int]
    window_start: list[date]
    lo: list[int]  # availability window, day offsets
    hi: list[int]
    cause: list[str]
    new: list[bool]
    previous: list[int]  # worker index of the holder who gave it up, -1 if none
    visit_id: list[int | None]
    old_due: list[date | None]

    @classmethod
    def empty(cls) -> _Pending:
        return cls([], [], [], [], [], [], [], [], [], [])

    def add(
        self,
        elder: int,
        seq: int,
        window_start: date,
        lo: int,
        hi: int,
        cause: str,
        new: bool,
        previous: int = -1,
        visit_id: int | None = None,
        old_due: date | None = None,
    ) -> None:
        self.elder.append(elder)
        self.seq.append(seq)
        self.window_start.append(window_start)
        self.lo.append(lo)
        self.hi.append(hi)
        self.cause.append(cause)
        self.new.append(new)
        self.previous.append(previous)
        self.visit_id.append(visit_id)
        self.old_due.append(old_due)

    def extend(
        self,
        elder: list[int],
        seq: list[int],
        window_start: list[date],
        lo: list[int],
        hi: list[int],
        cause: str,
    ) -> None:
        """Add many new visits at once."""
        n = len(elder)
        self.elder += elder
        self.seq += seq
        self.window_start += window_start
        self.lo += lo
        self.hi += hi
        self.cause += [cause] * n
        self.new += [True] * n
        self.previous += [-1] * n
        self.visit_id += [None] * n
        self.old_due += [None] * n

    def __len__(self) -> int:
        return len(self.elder)


@dataclass
class _Fixed:
    """Visits that stay as they are: (elder index, worker index) pairs, and kept due days."""

    elder: list[int]
    worker: list[int]
    kept_worker: list[int]  # planned visits kept: their due days spread the new ones
    kept_due: list[int]


def _sort_existing(
    inp: PlanInput,
    cal: _Calendar,
    elder_index: dict[int, int],
    worker_index: dict[int, int],
    counts: list[int],
    overdue_only: bool,
) -> tuple[_Pending, _Fixed, list[Cancelled], IntArray, dict[int, set[int]]]:
    """Split existing visits into kept, to place again and cancelled; count worker load."""
    opts = inp.options
    workers = inp.workers
    pending = _Pending.empty()
    fixed = _Fixed([], [], [], [])
    cancelled: list[Cancelled] = []
    load = np.zeros(len(workers), dtype=np.int64)
    seen: dict[int, set[int]] = defaultdict(set)
    kept_planned: dict[int, list[tuple[ExistingVisit, int]]] = defaultdict(list)
    grace_hi = min(cal.horizon + opts.overdue_grace_days, cal.days - 1)

    tier_ends: dict[int, list[date]] = {}

    def window(visit: ExistingVisit, e: int, overdue: bool) -> tuple[date, int, int]:
        """The visit's window start, and the days a new holder may have it fall due."""
        ws = visit.window_start or cal.first
        if counts[e] not in tier_ends:
            tier_ends[counts[e]] = [end for _, end in tier_windows(cal.first, cal.last, counts[e])]
        tier_end = tier_ends[counts[e]][min(visit.seq, counts[e]) - 1]
        lo = max(cal.offset(max(ws, cal.first)), cal.horizon)
        hi = min(cal.offset(max(visit.due_date, tier_end)), cal.days - 1)
        if overdue or hi < lo:  # late already: the new holder gets a few days from today
            lo, hi = cal.horizon, grace_hi
        return ws, lo, hi

    for visit in inp.existing:
        if visit.seq in seen[visit.elder_id]:
            continue  # a duplicate row: the first one counts
        seen[visit.elder_id].add(visit.seq)
        w = worker_index.get(visit.worker_id, -1) if visit.worker_id is not None else -1
        e = elder_index.get(visit.elder_id, -1)
        if visit.status not in _HELD:
            continue
        if visit.status != "planned" or e < 0:
            if w >= 0:
                load[w] += 1
                if e >= 0:
                    fixed.elder.append(e)
                    fixed.worker.append(w)
            continue
        if visit.seq > counts[e] and not overdue_only:
            cancelled.append(
                Cancelled(
                    visit.elder_id, visit.seq, visit.worker_id, "tier_lowered", visit.visit_id
                )
            )
            continue
        overdue = not cal.closed and visit.due_date < cal.day(cal.horizon)
        due_off = cal.offset(visit.due_date)
        if w < 0:
            cause = REASON_PLANNED if visit.worker_id is None else REASON_DEACTIVATED
        elif not workers[w].active:
            cause = REASON_DEACTIVATED
        elif overdue:
            cause = REASON_OVERDUE
        elif 0 <= due_off < cal.days and not cal.free[w, due_off]:
            cause = REASON_LEAVE
        else:
            cause = ""
        if overdue_only and (not overdue or w < 0):
            cause = ""  # the sweep moves overdue visits that someone holds, nothing else
        if not cause:
            if w >= 0:
                load[w] += 1
                kept_planned[w].append((visit, e))
            continue
        if cause == REASON_OVERDUE:
            # an overdue visit nobody else can take stays with its holder, so its slot stays
            # taken until it has moved (the plan then offers the slot to what is left over)
            load[w] += 1
        ws, lo, hi = window(visit, e, overdue)
        pending.add(e, visit.seq, ws, lo, hi, cause, False, w, visit.visit_id, visit.due_date)

    # a worker holding more than their (lowered) capacity gives up the surplus: visits where
    # they are not the primary contact first, then the latest due
    capacity = np.array([max(w.capacity, 0) for w in workers], dtype=np.int64)
    for w, held in kept_planned.items():
        # done and missed visits count towards the load but cannot be given up
        surplus = min(int(load[w] - capacity[w]), len(held)) if not overdue_only else 0
        if surplus > 0:
            primary_of = {inp.elders[e].id: inp.elders[e].primary_id for _, e in held}
            held.sort(
                key=lambda item: (
                    primary_of[item[0].elder_id] == workers[w].id,
                    -item[0].due_date.toordinal(),
                )
            )
            for visit, e in held[:surplus]:
                ws, lo, hi = window(visit, e, False)
                pending.add(
                    e,
                    visit.seq,
                    ws,
                    lo,
                    hi,
                    REASON_CAPACITY,
                    False,
                    w,
                    visit.visit_id,
                    visit.due_date,
                )
            load[w] -= surplus
            held = held[surplus:]
        for visit, e in held:
            fixed.elder.append(e)
            fixed.worker.append(w)
            due_off = cal.offset(visit.due_date)
            if 0 <= due_off < cal.days:
                fixed.kept_worker.append(w)
                fixed.kept_due.append(due_off)
    return pending, fixed, cancelled, load, seen


def _add_missing(
    inp: PlanInput,
    cal: _Calendar,
    counts: list[int],
    seen: dict[int, set[int]],
    pending: _Pending,
) -> None:
    """Add the visits each elder is owed this month and has not got.

    An elder planned for the first time this month (new, or the month's first plan made
    late) has their visits spread over what is left of the month from the later of today and
    enrolment; an elder missing only some visits (their tier went up) gets them in the
    month's tier windows, none ending before today.
    """
    first_off = [
        0 if e.enrolled_on is None else (e.enrolled_on - cal.first).days for e in inp.elders
    ]
    fresh: list[int] = []
    for e, elder in enumerate(inp.elders):
        if first_off[e] >= cal.days:
            continue  # enrolled after this month
        have = seen.get(elder.id)
        if not have:
            fresh.append(e)
            continue
        if all(s in have for s in range(1, counts[e] + 1)):
            continue
        start = cal.day(max(first_off[e], 0))
        for seq, (ws, we) in enumerate(tier_windows(start, cal.last, counts[e]), start=1):
            if seq in have:
                continue
            lo = max(cal.offset(ws), cal.horizon)
            hi = max(cal.offset(we), lo)
            pending.add(e, seq, cal.day(lo), lo, hi, REASON_PLANNED, True)
    if not fresh:
        return
    # the same windows as tier_windows(), for all fresh elders at once
    idx = np.array(fresh, dtype=np.int64)
    n = np.array(counts, dtype=np.int64)[idx]
    begin = np.maximum(np.array(first_off, dtype=np.int64)[idx], cal.horizon)
    length = cal.days - begin
    v_elder = np.repeat(idx, n)
    seq0 = np.arange(int(n.sum())) - np.repeat(np.cumsum(n) - n, n)
    n_r, begin_r, length_r = np.repeat(n, n), np.repeat(begin, n), np.repeat(length, n)
    lo_rel = seq0 * length_r // n_r
    hi_rel = np.maximum((seq0 + 1) * length_r // n_r - 1, lo_rel)
    v_lo = begin_r + lo_rel
    v_hi = begin_r + np.minimum(hi_rel, length_r - 1)
    days = [cal.day(d) for d in range(cal.days)]
    lo_list = v_lo.tolist()
    pending.extend(
        v_elder.tolist(),
        (seq0 + 1).tolist(),
        [days[d] for d in lo_list],
        lo_list,
        v_hi.tolist(),
        REASON_PLANNED,
    )


# --- the solver ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Expanded:
    """Each pending visit crossed with its elder's candidate pairs."""

    visit: NDArray[np.int32]  # pending visit index per entry
    pair: NDArray[np.int32]  # candidate pair index per entry
    position: NDArray[np.int32]  # the pair's position in its elder's list
    feasible: BoolArray
    available: BoolArray  # available in the window (capacity aside)


def _expand(
    cands: Candidates,
    keep: BoolArray,
    visits: IntArray,
    elder: IntArray,
    window: IntArray,
    free_in_window: BoolArray,
    previous: IntArray,
    room: IntArray,
) -> _Expanded:
    """Cross visits with their elder's candidates (where `keep`); `free_in_window[w, i]` says
    whether worker w has a free working day in window i, `window[v]` is visit v's window."""
    e = elder[visits]
    begin = cands.start[e]
    count = cands.start[e + 1] - begin
    entry_visit = np.repeat(visits, count)
    offsets = np.cumsum(count) - count
    position = np.arange(int(count.sum()), dtype=np.int64) - np.repeat(offsets, count)
    pair = np.repeat(begin, count) + position
    chosen = keep[pair]
    entry_visit, pair, position = entry_visit[chosen], pair[chosen], position[chosen]
    worker = cands.worker[pair]
    available = free_in_window[worker, window[entry_visit]] & (worker != previous[entry_visit])
    return _Expanded(
        visit=entry_visit.astype(np.int32),
        pair=pair.astype(np.int32),
        position=position.astype(np.int32),
        feasible=available & (room[worker] > 0),
        available=available,
    )


def _tie_break(elder: NDArray[np.integer[Any]], worker: NDArray[np.integer[Any]]) -> IntArray:
    mixed = (elder.astype(np.uint64) + np.uint64(1)) * np.uint64(0x9E3779B97F4A7C15) ^ (
        worker.astype(np.uint64) + np.uint64(1)
    ) * np.uint64(0xC2B2AE3D27D4EB4F)
    return (mixed >> np.uint64(60)).astype(np.int64)


_SIGNATURE_WEIGHTS = (
    np.random.default_rng(20260601)
    .integers(1, 2**63 - 1, size=4096, dtype=np.int64)
    .astype(np.uint64)
)


def _solve(
    cands: Candidates,
    ex: _Expanded,
    visits: IntArray,
    elder: IntArray,
    cost: IntArray,
    room: IntArray,
    n_workers: int,
    last_resort: IntArray,
    last_resort_cost: int,
    covered: BoolArray | None = None,
) -> tuple[IntArray, dict[str, float]]:
    """Min-cost flow over the feasible entries; the candidate pair per visit, -1 unplaced.

    `last_resort[v]` is a worker who may keep visit v only if nobody else can take it (a
    holder whose leave covers the due date): their arc costs `last_resort_cost` more.
    `covered[e]` says elder e already has a visit this month (kept, done, or placed by an
    earlier pass); under shortage an elder who has none gets a first visit before anyone's
    second or later one is placed (the promise is a 100% monthly visit rate).
    """
    t0 = time.perf_counter()
    n = len(visits)
    local = np.full(int(visits.max()) + 1 if n else 1, -1, dtype=np.int64)
    local[visits] = np.arange(n)
    v_local = local[ex.visit]
    feasible = ex.feasible
    # visits of one elder with the same feasible candidates form one node; the sets are
    # compared by an xor of random 64-bit words per candidate position (two different sets
    # collide with probability 2**-64)
    weights = _SIGNATURE_WEIGHTS[ex.position % len(_SIGNATURE_WEIGHTS)]
    sig = np.zeros(n, dtype=np.uint64)
    np.bitwise_xor.at(sig, v_local[feasible], weights[feasible])
    resort = last_resort[visits]
    sig ^= np.where(
        resort >= 0, _SIGNATURE_WEIGHTS[(resort + 1) % len(_SIGNATURE_WEIGHTS)] >> np.uint64(1), 0
    ).astype(np.uint64)
    order = np.lexsort((sig, elder[visits]))
    e_sorted, sig_sorted = elder[visits][order], sig[order]
    starts = np.ones(n, dtype=bool)
    starts[1:] = (e_sorted[1:] != e_sorted[:-1]) | (sig_sorted[1:] != sig_sorted[:-1])
    group_sorted = np.cumsum(starts) - 1
    n_groups = int(group_sorted[-1]) + 1 if n else 0
    group_of = np.empty(n, dtype=np.int64)
    group_of[order] = group_sorted
    size = np.bincount(group_sorted, minlength=n_groups).astype(np.int64)
    rep = np.zeros(n, dtype=bool)
    rep[order[starts]] = True

    arc_mask = feasible & rep[v_local]
    arc_group = group_of[v_local[arc_mask]]
    arc_pair = ex.pair[arc_mask]
    by_group = np.argsort(arc_group, kind="stable")
    arc_group, arc_pair = arc_group[by_group], arc_pair[by_group]
    arc_worker = cands.worker[arc_pair]
    arc_cost = cost[arc_pair] * TIE_BREAK_SCALE + _tie_break(cands.elder[arc_pair], arc_worker)
    rep_resort = np.full(n_groups, -1, dtype=np.int64)
    rep_resort[group_sorted[starts]] = resort[order[starts]]
    arc_cost += np.where(arc_worker == rep_resort[arc_group], last_resort_cost * TIE_BREAK_SCALE, 0)

    used = np.unique(arc_worker)
    node_of_worker = np.full(n_workers, -1, dtype=np.int64)
    node_of_worker[used] = n_groups + np.arange(len(used))
    sink = n_groups + len(used)
    n_nodes = sink + 1
    n_arcs = len(arc_group) + len(used)
    flow = min_cost_flow.SimpleMinCostFlow()
    flow.add_arcs_with_capacity_and_unit_cost(
        np.concatenate((arc_group, node_of_worker[used])).astype(np.int32),
        np.concatenate((node_of_worker[arc_worker], np.full(len(used), sink))).astype(np.int32),
        np.concatenate((size[arc_group], room[used])),
        np.concatenate((arc_cost, np.zeros(len(used), dtype=np.int64))),
    )
    supplies = np.concatenate((size, np.zeros(len(used), dtype=np.int64), [-int(size.sum())]))
    flow.set_nodes_supplies(np.arange(n_nodes, dtype=np.int32), supplies)
    t2 = time.perf_counter()
    status = flow.solve_max_flow_with_min_cost()
    if status != flow.OPTIMAL:
        raise RuntimeError(f"min-cost flow failed: {status}")
    if flow.maximum_flow() < int(size.sum()):
        # Some visits cannot be placed. OR-Tools fixes which ones by a plain maximum flow
        # before minimising cost, so the cost is not the least among maximum flows. Solve
        # again with an "unplaced" arc per node, priced above any augmenting path (it
        # crosses each worker at most once), so the most visits are still placed and the
        # cost is the least among plans that place that many.
        #
        # Coverage first: the unplaced visits of an elder with no visit this month leave
        # through one node per such elder, whose last unit (the elder left with no visit at
        # all) costs more than any exchange of one placed visit for another, so the solver
        # places every first visit it can before any second one. A cycle of the residual
        # graph crosses the sink once, so it trades at most one unplaced visit for one
        # uncovered elder, and twice the unplaced price outweighs the rest of it.
        unplaced_cost = (len(used) + 2) * max(int(arc_cost.max(initial=1)), 1) + 1
        group_elder = e_sorted[starts]
        bare = ~covered[group_elder] if covered is not None else np.zeros(n_groups, dtype=bool)
        bare_elders, bare_of_group = np.unique(group_elder[bare], return_inverse=True)
        n_bare = len(bare_elders)
        bare_node = n_nodes + np.arange(n_bare)
        unplaced_head = np.full(n_groups, sink, dtype=np.int64)
        unplaced_head[bare] = bare_node[bare_of_group]
        bare_size = np.bincount(bare_of_group, weights=size[bare], minlength=n_bare).astype(
            np.int64
        )
        uncovered_cost = 2 * unplaced_cost + 1
        flow = min_cost_flow.SimpleMinCostFlow()
        flow.add_arcs_with_capacity_and_unit_cost(
            np.concatenate(
                (arc_group, node_of_worker[used], np.arange(n_groups), bare_node, bare_node)
            ).astype(np.int32),
            np.concatenate(
                (
                    node_of_worker[arc_worker],
                    np.full(len(used), sink),
                    unplaced_head,
                    np.full(2 * n_bare, sink),
                )
            ).astype(np.int32),
            np.concatenate(
                (size[arc_group], room[used], size, bare_size - 1, np.ones(n_bare, dtype=np.int64))
            ),
            np.concatenate(
                (
                    arc_cost,
                    np.zeros(len(used), dtype=np.int64),
                    np.full(n_groups, unplaced_cost),
                    np.zeros(n_bare, dtype=np.int64),
                    np.full(n_bare, uncovered_cost),
                )
            ),
        )
        flow.set_nodes_supplies(
            np.arange(n_nodes + n_bare, dtype=np.int32),
            np.concatenate((supplies, np.zeros(n_bare, dtype=np.int64))),
        )
        status = flow.solve()
        if status != flow.OPTIMAL:
            raise RuntimeError(f"min-cost flow failed: {status}")
    t3 = time.perf_counter()
    arc_flow = flow.flows(np.arange(len(arc_group), dtype=np.int32)).astype(np.int64)

    # hand each group's visits (in order) to the workers its flow went to
    taken = np.bincount(arc_group, weights=arc_flow, minlength=n_groups).astype(np.int64)
    flat_pair = np.repeat(arc_pair, arc_flow)
    taken_start = np.cumsum(taken) - taken
    group_start = np.flatnonzero(starts)
    rank = np.arange(n) - group_start[group_sorted]
    assigned_sorted = np.full(n, -1, dtype=np.int64)
    ok = rank < taken[group_sorted]
    assigned_sorted[ok] = flat_pair[taken_start[group_sorted[ok]] + rank[ok]]
    assigned = np.empty(n, dtype=np.int64)
    assigned[order] = assigned_sorted
    stats = {
        "graph_s": t2 - t0,
        "solve_s": t3 - t2,
        "nodes": float(n_nodes),
        "arcs": float(n_arcs),
        "groups": float(n_groups),
    }
    return assigned, stats


def _visit_bounds(
    cands: Candidates,
    ex: _Expanded,
    visits: IntArray,
    elder: IntArray,
    cost: IntArray,
    k: int,
    opts: PlanOptions,
    coordless_floor: float,
    price: NDArray[np.float64],
    unplaced: float,
    free_reach: NDArray[np.float64] | None = None,
) -> NDArray[np.float64]:
    """Per visit, its cheapest option over every worker, each worker's cost raised by its
    `price` (the Lagrangian relaxation of capacity; zero prices relax it outright).

    Workers outside the candidate list cost at least the contact penalty they could have
    plus the distance of the farthest candidate (`Candidates.reach_m`), so the bound holds for
    every plan, not only plans over candidates. Leaving the visit out costs `unplaced`.
    With prices, an outside worker either has no price (then it is no nearer than
    `free_reach`, the nearest unpriced worker) or is at least the farthest candidate away and
    priced at least the lowest price of a priced worker.
    """
    n = len(visits)
    local = np.searchsorted(visits, ex.visit)
    best = np.full(n, np.inf)
    mask = ex.feasible
    pair = ex.pair[mask]
    np.minimum.at(best, local[mask], cost[pair] + price[cands.worker[pair]])
    e = elder[visits]
    # distances in costs are capped; inf (nobody left outside the list) stays inf
    reach = np.minimum(cands.reach_m[k][e], float(opts.max_distance_m))
    reach[np.isinf(cands.reach_m[k][e])] = np.inf
    area_reach = np.minimum(cands.area_reach_m[e], float(opts.max_distance_m))
    area_reach[np.isinf(cands.area_reach_m[e])] = np.inf
    if free_reach is not None and (price > 0).any():
        free = np.minimum(free_reach[e], float(opts.max_distance_m))
        free[np.isinf(free_reach[e])] = np.inf
        least = float(price[price > 0].min())
        reach = np.minimum(np.maximum(reach, free), reach + least)
        area_reach = np.minimum(np.maximum(area_reach, free), area_reach + least)
    outside = np.minimum(
        opts.other_penalty_m + opts.continuity_bonus_m + reach,
        opts.area_penalty_m + opts.continuity_bonus_m + area_reach,
    )
    outside = np.minimum(np.floor(outside), coordless_floor)
    return np.minimum(np.minimum(best, outside), unplaced)


def _capacity_prices(
    cands: Candidates,
    ex: _Expanded,
    visits: IntArray,
    got: IntArray,
    cost: IntArray,
    room_before: IntArray,
    room_after: IntArray,
    unplaced: float,
    max_rounds: int = 2000,
) -> NDArray[np.float64]:
    """Prices of full workers' capacity, read off the optimal flow, for the lower bound.

    A full worker's price is the cheapest chain of moves that frees one of their slots (move
    a visit to another candidate, whose visit moves on, ... until a worker with room, or a
    visit left unplaced at the penalty): shortest paths by Bellman-Ford over the solver's
    own costs, which have no negative cycle because the flow is optimal. These are the dual
    prices of capacity, so the Lagrangian bound meets the plan's cost up to the pruning of
    candidates. Any prices give a valid bound; these give a tight one.
    """
    n_workers = len(room_before)
    scaled = cost * TIE_BREAK_SCALE + _tie_break(cands.elder, cands.worker)
    full = (room_after == 0) & (room_before > 0)
    price = np.zeros(n_workers, dtype=np.float64)
    held_pair = got[np.searchsorted(visits, ex.visit)]
    mask = ex.feasible & (held_pair >= 0)
    src = cands.worker[held_pair[mask]]
    dst = cands.worker[ex.pair[mask]]
    weight = (scaled[ex.pair[mask]] - scaled[held_pair[mask]]).astype(np.float64)
    keep = full[src] & (dst != src)
    # one edge per (worker, worker) pair, the cheapest, sorted by source
    code = src[keep].astype(np.int64) * n_workers + dst[keep]
    order = np.argsort(code, kind="stable")
    code, weight = code[order], weight[keep][order]
    first = np.ones(len(code), dtype=bool)
    first[1:] = code[1:] != code[:-1]
    heads = np.flatnonzero(first)
    weight = np.minimum.reduceat(weight, heads) if len(heads) else weight
    code = code[heads]
    src, dst = code // n_workers, code % n_workers
    src_first = np.ones(len(src), dtype=bool)
    src_first[1:] = src[1:] != src[:-1]
    src_heads = np.flatnonzero(src_first)
    sources = src[src_heads]
    placed = got[got >= 0]
    holder = cands.worker[placed]
    on_full = full[holder]
    price[full] = np.inf
    np.minimum.at(
        price,
        holder[on_full],
        unplaced * TIE_BREAK_SCALE - scaled[placed[on_full]],
    )
    price[~np.isfinite(price)] = 0.0
    # Bellman-Ford from above: every round's prices are valid (any prices >= 0 give a lower
    # bound), so a cap on rounds only costs tightness
    for _ in range(max_rounds):
        if len(src_heads) == 0:
            break
        best = np.minimum.reduceat(weight + price[dst], src_heads)
        improved = best < price[sources]
        if not improved.any():
            break
        price[sources[improved]] = best[improved]
    return np.maximum(price, 0.0) / TIE_BREAK_SCALE


def _lower_bounds(
    people: People,
    active: BoolArray,
    cands: Candidates,
    ex: _Expanded,
    todo: IntArray,
    p_elder: IntArray,
    p_window: IntArray,
    free_in_window: BoolArray,
    p_prev: IntArray,
    got: IntArray,
    pair_cost: IntArray,
    room: IntArray,
    k: int,
    k_wide: int,
    opts: PlanOptions,
    coordless_floor: float,
) -> tuple[int, int, float]:
    """The lower bounds at k and 1.5k candidates, and the capacity-relaxed one at k.

    When the solve placed every visit, capacity is priced (`_capacity_prices`) with leaving
    a visit out priced above any chain of moves, as in the solver, so the prices are the
    duals of its problem and the bound is tight; it bounds every plan that places every
    visit. Otherwise the bound relaxes capacity, which holds for every plan whatsoever.
    """
    n_workers = len(room)
    zero = np.zeros(n_workers, dtype=np.float64)
    u_rep = float(opts.unassigned_penalty_m)
    wide = _expand(
        cands,
        np.ones(len(cands), dtype=bool),
        todo,
        p_elder,
        p_window,
        free_in_window,
        p_prev,
        room,
    )
    args = (todo, p_elder, pair_cost)
    relaxed = float(_visit_bounds(cands, ex, *args, k, opts, coordless_floor, zero, u_rep).sum())
    relaxed_wide = float(
        _visit_bounds(cands, wide, *args, k_wide, opts, coordless_floor, zero, u_rep).sum()
    )
    bound, bound_wide = relaxed, relaxed_wide
    if len(got) and bool((got >= 0).all()):
        room_after = room - np.bincount(cands.worker[got], minlength=n_workers)
        u_big = float((int((room > 0).sum()) + 2) * int(pair_cost.max(initial=1)))
        price = _capacity_prices(cands, ex, todo, got, pair_cost, room, room_after, u_big)
        free_reach = nearest_distance_m(people, p_elder[todo], active & (room > 0) & (price == 0))
        # Workers outside the candidate lists weaken the bound where prices are high, so
        # also try the prices capped at a few levels: any prices give a valid bound.
        top = float(price.max(initial=0.0))
        for cap in (top, 2 * opts.other_penalty_m, opts.other_penalty_m, opts.secondary_penalty_m):
            capped = np.minimum(price, cap)
            held_back = float((room * capped).sum())
            priced = (
                _visit_bounds(
                    cands, ex, *args, k, opts, coordless_floor, capped, u_big, free_reach
                ).sum()
                - held_back
            )
            priced_wide = (
                _visit_bounds(
                    cands, wide, *args, k_wide, opts, coordless_floor, capped, u_big, free_reach
                ).sum()
                - held_back
            )
            bound, bound_wide = max(bound, priced), max(bound_wide, priced_wide)
            if cap >= top and priced > relaxed:
                break  # the exact prices beat relaxing capacity: they are the tight ones
    return int(np.floor(bound)), int(np.floor(bound_wide)), float(np.floor(relaxed))


def _unassigned_reason(
    n_candidates: int, n_available: int, cause: str, previous: bool
) -> tuple[str, str]:
    barred = " (the worker who gave it up aside)" if previous else ""
    if n_candidates == 0:
        return UNASSIGNED_NO_CANDIDATE, "no worker serves this elder or lives near"
    if n_available == 0:
        return (
            UNASSIGNED_UNAVAILABLE,
            f"all {n_candidates} candidate workers are inactive or on leave throughout the "
            f"visit's window{barred}",
        )
    return (
        UNASSIGNED_NO_CAPACITY,
        f"{n_available} candidate workers are free in the window{barred}, all at capacity",
    )


# --- the plan -----------------------------------------------------------------------------


def _plan(inp: PlanInput, overdue_only: bool) -> Plan:
    t_start = time.perf_counter()
    opts = inp.options
    elders, workers = list(inp.elders), list(inp.workers)
    for elder in elders:
        if elder.tier not in opts.visits_per_tier:
            raise ValueError(f"elder {elder.id}: unknown risk tier {elder.tier!r}")
    counts = [opts.visits_per_tier[e.tier] for e in elders]
    elder_index = {e.id: i for i, e in enumerate(elders)}
    worker_index = {w.id: i for i, w in enumerate(workers)}
    cal = _calendar(inp, workers)
    people = _people(elders, workers)
    pending, fixed, cancelled, load, seen = _sort_existing(
        inp, cal, elder_index, worker_index, counts, overdue_only
    )
    if not overdue_only:
        _add_missing(inp, cal, counts, seen, pending)
    capacity = np.array([max(w.capacity, 0) for w in workers], dtype=np.int64)
    active = np.array([w.active for w in workers], dtype=bool)
    room = np.where(active, np.maximum(capacity - load, 0), 0)

    n = len(pending)
    p_elder = np.array(pending.elder, dtype=np.int64)
    p_lo = np.array(pending.lo, dtype=np.int64)
    p_hi = np.array(pending.hi, dtype=np.int64)
    p_prev = np.array(pending.previous, dtype=np.int64)
    # A holder on leave on the due date may keep the visit, re-dated, only if nobody else
    # can take it (else it would come back to them on the next plan); other holders who
    # gave a visit up are barred from it.
    on_leave = np.array([c == REASON_LEAVE for c in pending.cause], dtype=bool)
    p_resort = np.where(on_leave, p_prev, -1)
    p_prev = np.where(on_leave, -1, p_prev)
    resort_cost = opts.other_penalty_m + opts.max_distance_m + opts.continuity_bonus_m + 1
    assigned = np.full(n, -1, dtype=np.int64)
    p_cost = np.full(n, opts.unassigned_penalty_m, dtype=np.int64)
    n_cands = np.zeros(n, dtype=np.int64)
    n_avail = np.zeros(n, dtype=np.int64)
    lower_solved = lower_solved_wide = 0
    stats: dict[str, float] = defaultdict(float)
    k = opts.candidates
    k_wide = int(np.ceil(k * opts.wider_factor))
    coordless = bool(np.isnan(people.worker_lat).any() or np.isnan(people.elder_lat).any())
    coordless_floor = (
        float(opts.area_penalty_m + opts.continuity_bonus_m + opts.unknown_distance_m)
        if coordless
        else np.inf
    )

    # the distinct windows, and who is free in each: one lookup per (visit, candidate) later
    window_key, p_window = np.unique(p_lo * 64 + p_hi, return_inverse=True)
    free_in_window = cal.available(
        np.arange(len(workers))[:, None], (window_key // 64)[None, :], (window_key % 64)[None, :]
    )
    # the slot an overdue visit frees once it has moved (index len(workers): none)
    is_overdue = np.array([c == REASON_OVERDUE for c in pending.cause], dtype=bool)
    overdue_holder = np.where(is_overdue & (p_prev >= 0), p_prev, len(workers))
    # Global solves: when the nearest workers of some elders fill up, add the nearest
    # workers who still have room to those elders' candidates and solve everything again.
    todo = np.arange(n, dtype=np.int64)
    # elders who already have a visit this month (done, missed or kept with its holder)
    covered = np.zeros(len(elders), dtype=bool)
    covered[np.array(fixed.elder, dtype=np.int64)] = True
    pool = active & (room > 0)
    extra_e = extra_w = np.empty(0, dtype=np.int64)
    got = np.empty(0, dtype=np.int64)
    for round_no in range(max(opts.max_passes, 1)):
        if n == 0:
            break
        t0 = time.perf_counter()
        cands = build_candidates(
            people, p_elder, pool, (k, k_wide), opts.max_area_candidates, (extra_e, extra_w)
        )
        pair_cost = _base_cost(cands.contact, cands.continuity, cands.distance_m, opts)
        in_k = cands.listed | cands.continuity | (cands.knn_rank < k)
        ex = _expand(cands, in_k, todo, p_elder, p_window, free_in_window, p_prev, room)
        stats["candidates_s"] += time.perf_counter() - t0
        got, solve_stats = _solve(
            cands, ex, todo, p_elder, pair_cost, room, len(workers), p_resort, resort_cost, covered
        )
        for key, value in solve_stats.items():
            stats[key] += value
        stats["global_solves"] = float(round_no + 1)
        left = p_elder[got < 0]
        if len(left) == 0 or round_no == opts.max_passes - 1:
            break
        room_after = room - np.bincount(cands.worker[got[got >= 0]], minlength=len(workers))
        more_e, more_w = nearest_workers(people, left, active & (room_after > 0), k)
        if len(more_e) == 0:
            break
        extra_e = np.concatenate((extra_e, more_e))
        extra_w = np.concatenate((extra_w, more_w))

    if n:
        t2 = time.perf_counter()
        stats["candidate_pairs"] = float(len(cands))
        local = np.searchsorted(todo, ex.visit)
        n_cands[todo] = np.bincount(local, minlength=len(todo))
        n_avail[todo] = np.bincount(local, weights=ex.available, minlength=len(todo))
        lower_solved, lower_solved_wide, relaxed = _lower_bounds(
            people,
            active,
            cands,
            ex,
            todo,
            p_elder,
            p_window,
            free_in_window,
            p_prev,
            got,
            pair_cost,
            room,
            k,
            k_wide,
            opts,
            coordless_floor,
        )
        stats["relaxed_lower_bound"] = relaxed
        stats["lower_bound_s"] += time.perf_counter() - t2
        placed = got >= 0
        got_worker = cands.worker[got[placed]]
        assigned[todo[placed]] = got_worker
        room -= np.bincount(got_worker, minlength=len(workers))
        room += np.bincount(overdue_holder[todo[placed]], minlength=len(workers) + 1)[:-1]
        p_cost[todo[placed]] = pair_cost[got[placed]]
        todo = todo[~placed]

    # What is still unplaced gets the leftovers, nearest first, as a later plan would try:
    # until nothing more can be placed, so that a second plan finds nothing to do.
    for _ in range(32):
        if len(todo) == 0:
            break
        t0 = time.perf_counter()
        cands = build_candidates(
            people, p_elder[todo], active & (room > 0), (k,), opts.max_area_candidates
        )
        pair_cost = _base_cost(cands.contact, cands.continuity, cands.distance_m, opts)
        in_k = cands.listed | cands.continuity | (cands.knn_rank < k)
        ex = _expand(cands, in_k, todo, p_elder, p_window, free_in_window, p_prev, room)
        stats["candidates_s"] += time.perf_counter() - t0
        covered[p_elder[assigned >= 0]] = True
        got, solve_stats = _solve(
            cands, ex, todo, p_elder, pair_cost, room, len(workers), p_resort, resort_cost, covered
        )
        for key, value in solve_stats.items():
            stats[key] += value
        stats["leftover_passes"] += 1
        placed = got >= 0
        if not placed.any():
            break
        got_worker = cands.worker[got[placed]]
        assigned[todo[placed]] = got_worker
        room -= np.bincount(got_worker, minlength=len(workers))
        room += np.bincount(overdue_holder[todo[placed]], minlength=len(workers) + 1)[:-1]
        p_cost[todo[placed]] = pair_cost[got[placed]]
        todo = todo[~placed]

    return _assemble(
        inp,
        cal,
        people,
        pending,
        fixed,
        cancelled,
        assigned,
        p_cost,
        lower_solved,
        lower_solved_wide,
        n_cands,
        n_avail,
        capacity,
        overdue_only,
        dict(stats),
        t_start,
    )


def _assemble(
    inp: PlanInput,
    cal: _Calendar,
    people: People,
    pending: _Pending,
    fixed: _Fixed,
    cancelled: list[Cancelled],
    assigned: IntArray,
    p_cost: IntArray,
    lower_solved: int,
    lower_solved_wide: int,
    n_cands: IntArray,
    n_avail: IntArray,
    capacity: IntArray,
    overdue_only: bool,
    stats: dict[str, float],
    t_start: float,
) -> Plan:
    """Due dates, reasons and figures for the visits placed; the plan object."""
    t0 = time.perf_counter()
    opts = inp.options
    elders, workers = inp.elders, inp.workers
    n_workers = len(workers)
    n = len(pending)
    p_elder = np.array(pending.elder, dtype=np.int64)
    placed = np.flatnonzero(assigned >= 0)
    base_load = np.zeros((n_workers, cal.days), dtype=np.int64)
    np.add.at(
        base_load,
        (np.array(fixed.kept_worker, dtype=np.int64), np.array(fixed.kept_due, dtype=np.int64)),
        1,
    )
    due = spread_due_days(
        assigned[placed],
        np.array(pending.lo, dtype=np.int64)[placed],
        np.array(pending.hi, dtype=np.int64)[placed],
        cal.free,
        cal.working,
        base_load,
    )
    contact = _pair_contact(people, p_elder[placed], assigned[placed])
    dist = _distances(people, p_elder[placed], assigned[placed])
    days = [cal.day(d) for d in range(cal.days)]
    elder_ids = [e.id for e in elders]
    worker_ids = [w.id for w in workers]
    km = np.round(dist / 1000.0, 3)
    visits = [
        PlannedVisit(
            elder_id=elder_ids[pending.elder[i]],
            seq=pending.seq[i],
            worker_id=worker_ids[w],
            window_start=pending.window_start[i],
            due_date=days[d],
            distance_km=None if k != k else k,  # NaN: a coordinate is missing
            contact=_CONTACT_WORD[c],
            reason=pending.cause[i],
            new=pending.new[i],
            previous_worker_id=worker_ids[pending.previous[i]]
            if pending.previous[i] >= 0
            else None,
            visit_id=pending.visit_id[i],
        )
        for i, w, d, k, c in zip(
            placed.tolist(),
            assigned[placed].tolist(),
            due.tolist(),
            km.tolist(),
            contact.tolist(),
            strict=True,
        )
    ]
    unassigned: list[Unassigned] = []
    notices: list[Notice] = []
    late_elder: list[int] = []
    late_worker: list[int] = []
    cost_solved = int(p_cost.sum())
    for i in np.flatnonzero(assigned < 0).tolist():
        prev = pending.previous[i]
        elder = elders[pending.elder[i]]
        code, detail = _unassigned_reason(
            int(n_cands[i]), int(n_avail[i]), pending.cause[i], prev >= 0
        )
        if pending.cause[i] == REASON_OVERDUE:
            # nobody else can take it: it stays with its holder, late (and costs as unplaced)
            late_elder.append(pending.elder[i])
            late_worker.append(prev)
            notices.append(
                Notice(
                    elder.id,
                    pending.seq[i],
                    workers[prev].id,
                    "overdue_not_moved",
                    f"overdue, and no other worker can take it: {detail}",
                    pending.visit_id[i],
                )
            )
            continue
        old_due = pending.old_due[i]
        unassigned.append(
            Unassigned(
                elder_id=elder.id,
                seq=pending.seq[i],
                window_start=pending.window_start[i],
                due_date=old_due if old_due is not None else cal.day(pending.hi[i]),
                reason=code,
                detail=detail,
                cause=pending.cause[i],
                new=pending.new[i],
                previous_worker_id=workers[prev].id if prev >= 0 else None,
                visit_id=pending.visit_id[i],
            )
        )

    # the month as it stands after the plan
    f_elder = np.array(fixed.elder, dtype=np.int64)
    f_worker = np.array(fixed.worker, dtype=np.int64)
    f_contact = _pair_contact(people, f_elder, f_worker)
    f_dist = _distances(people, f_elder, f_worker)
    f_cost = (
        _base_cost(f_contact, f_worker == people.last_visitor[f_elder], f_dist, opts)
        if len(f_elder)
        else np.zeros(0, dtype=np.int64)
    )
    cost_fixed = int(f_cost.sum())
    l_elder = np.array(late_elder, dtype=np.int64)
    l_worker = np.array(late_worker, dtype=np.int64)
    all_contact = np.concatenate((f_contact, _pair_contact(people, l_elder, l_worker), contact))
    all_dist = np.concatenate((f_dist, _distances(people, l_elder, l_worker), dist))
    final_load = np.bincount(
        np.concatenate((f_worker, l_worker, assigned[placed])), minlength=n_workers
    )
    with_room = capacity > 0
    max_load_ratio = (
        float((final_load[with_room] / capacity[with_room]).max()) if with_room.any() else 0.0
    )
    known = ~np.isnan(all_dist)
    by_contact = {
        "primary": int((all_contact == PRIMARY).sum()),
        "secondary": int((all_contact == SECONDARY).sum()),
        "other": int((all_contact >= AREA).sum()),
    }
    cost = cost_fixed + cost_solved
    lower = cost_fixed + lower_solved
    lower_wide = cost_fixed + lower_solved_wide
    owed = len(all_contact) + len(unassigned)
    summary = PlanSummary(
        month=inp.month,
        elders=sum(1 for e in elders if e.enrolled_on is None or e.enrolled_on <= cal.last),
        visits=owed,
        unassigned=len(unassigned),
        by_contact=by_contact,
        mean_km=round(float(all_dist[known].mean()) / 1000.0, 3) if known.any() else 0.0,
        max_load_ratio=round(max_load_ratio, 4),
        cost=cost,
        lower_bound=lower,
        lower_bound_wider=lower_wide,
    )
    stats.update(
        {
            "pending": float(n),
            "placed": float(len(placed)),
            "solved_cost": float(cost_solved),
            "solved_lower_bound": float(lower_solved),
            "due_dates_s": time.perf_counter() - t0,
            "total_s": time.perf_counter() - t_start,
            "overdue_only": float(overdue_only),
        }
    )
    return Plan(
        month=inp.month,
        visits=visits,
        unassigned=unassigned,
        cancelled=cancelled,
        notices=notices,
        cost=cost,
        lower_bound=lower,
        lower_bound_wider=lower_wide,
        summary=summary,
        stats=stats,
    )


def _distances(people: People, elder: IntArray, worker: IntArray) -> NDArray[np.float64]:
    """Great-circle metres of (elder, worker) index pairs; NaN where a coordinate is missing."""
    if len(elder) == 0:
        return np.zeros(0, dtype=np.float64)
    return great_circle_many_m(
        people.elder_lat[elder],
        people.elder_lon[elder],
        people.worker_lat[worker],
        people.worker_lon[worker],
    )

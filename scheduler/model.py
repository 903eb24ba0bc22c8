"""The planner's plain data: what goes in (elders, workers, existing visits) and what comes out.

Ids are the database's ids, but nothing here knows about a database: a loader builds these
from rows and a persister writes a `Plan`'s changes back.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from types import MappingProxyType
from typing import Any, Literal

Contact = Literal["primary", "secondary", "other"]

# Visits per calendar month by risk tier (SPEC section 6).
VISITS_PER_TIER: Mapping[str, int] = MappingProxyType({"standard": 1, "elevated": 2, "high": 4})

# Why a visit got (or changed) its worker; the words of VisitAssignment.reason.
REASON_PLANNED = "planned"
REASON_DEACTIVATED = "deactivated"
REASON_LEAVE = "leave"
REASON_OVERDUE = "overdue"
REASON_CAPACITY = "capacity"

# Why a visit has no worker.
UNASSIGNED_NO_CANDIDATE = "no_candidate"
UNASSIGNED_UNAVAILABLE = "unavailable"
UNASSIGNED_NO_CAPACITY = "no_capacity"


@dataclass(frozen=True, slots=True)
class ElderIn:
    """An active elder to plan for; coordinates may be missing (distance then unknown)."""

    id: int
    lat: float | None
    lon: float | None
    tier: str
    grid_id: int | None = None
    community_id: int | None = None
    primary_id: int | None = None
    secondary_id: int | None = None
    last_visitor_id: int | None = None  # who visited last month: continuity
    enrolled_on: date | None = None


@dataclass(frozen=True, slots=True)
class WorkerIn:
    """A worker who may take routine visits; `leave` holds inclusive local date ranges."""

    id: int
    lat: float | None
    lon: float | None
    capacity: int  # visits per month
    grid_ids: frozenset[int] = frozenset()
    community_ids: frozenset[int] = frozenset()
    leave: tuple[tuple[date, date], ...] = ()
    active: bool = True


@dataclass(frozen=True, slots=True)
class ExistingVisit:
    """A routine visit of the month already stored (status planned, done, missed, cancelled)."""

    elder_id: int
    seq: int
    worker_id: int | None
    status: str
    due_date: date
    window_start: date | None = None
    visit_id: int | None = None


@dataclass(frozen=True)
class PlanOptions:
    """Knobs of the planner; the costs are in metres of travel.

    A visit's cost is the distance from the worker's base to the elder's home (capped at
    `max_distance_m`), plus a penalty by how the worker relates to the elder (primary
    contact 0, secondary, a worker of the grid or community, anyone else), minus
    `continuity_bonus_m` for last month's visitor. Each penalty step is larger than the
    largest distance plus the bonus, so a closer worker lower in the contact order can never
    beat a contact with room: the order of SPEC section 6 wins whenever capacity allows.
    """

    candidates: int = 20  # nearest workers per elder, beside contacts, area and last visitor
    wider_factor: float = 1.5  # the second lower bound looks this many times further
    max_area_candidates: int = 30  # nearest workers of a large grid or community
    secondary_penalty_m: int = 1_000_000
    area_penalty_m: int = 2_000_000
    other_penalty_m: int = 3_000_000
    continuity_bonus_m: int = 5_000
    max_distance_m: int = 500_000
    unknown_distance_m: int = 10_000  # a home or base without coordinates
    unassigned_penalty_m: int = 10_000_000  # what an unassigned visit adds to the reported cost
    overdue_grace_days: int = 3  # an overdue visit's new holder gets this many days
    max_passes: int = 3  # whole-month solves, widening candidates where workers filled up
    visits_per_tier: Mapping[str, int] = field(default_factory=lambda: dict(VISITS_PER_TIER))
    working_weekdays: frozenset[int] = frozenset({0, 1, 2, 3, 4})
    holidays: frozenset[date] = frozenset()

    def __post_init__(self) -> None:
        step = self.max_distance_m + self.continuity_bonus_m
        penalties = (
            0,
            self.secondary_penalty_m,
            self.area_penalty_m,
            self.other_penalty_m,
        )
        if any(b - a <= step for a, b in itertools.pairwise(penalties)):
            raise ValueError("each contact penalty step must exceed max_distance + bonus")
        if self.unassigned_penalty_m <= self.other_penalty_m + self.max_distance_m:
            raise ValueError("unassigned_penalty_m must exceed any assignment's cost")
        if self.candidates < 1 or self.wider_factor < 1:
            raise ValueError("candidates must be at least 1 and wider_factor at least 1")
        if self.unknown_distance_m > self.max_distance_m:
            raise ValueError("unknown_distance_m must not exceed max_distance_m")


@dataclass(frozen=True)
class PlanInput:
    """Everything a plan depends on; `today` is the local date in TANFANG_TIMEZONE."""

    month: str
    today: date
    elders: Sequence[ElderIn]
    workers: Sequence[WorkerIn]
    existing: Sequence[ExistingVisit] = ()
    options: PlanOptions = field(default_factory=PlanOptions)


@dataclass(frozen=True, slots=True)
class PlannedVisit:
    """A visit given a worker: a new visit (`new`) or an existing one that moved."""

    elder_id: int
    seq: int
    worker_id: int
    window_start: date
    due_date: date
    distance_km: float | None
    contact: Contact
    reason: str  # planned, deactivated, leave, overdue, capacity
    new: bool
    previous_worker_id: int | None = None
    visit_id: int | None = None


@dataclass(frozen=True, slots=True)
class Unassigned:
    """A visit left without a worker: `reason` is a code, `detail` says it in words.

    `cause` says why the visit needed a worker (planned for a new visit; deactivated, leave
    or capacity when its holder had to give it up). `new` visits are to be created without a
    worker; an existing one with a `previous_worker_id` loses its worker.
    """

    elder_id: int
    seq: int
    window_start: date
    due_date: date
    reason: str
    detail: str
    cause: str
    new: bool
    previous_worker_id: int | None = None
    visit_id: int | None = None

    @property
    def changed(self) -> bool:
        """Whether persisting this changes anything (not an already-unassigned visit)."""
        return self.new or self.previous_worker_id is not None


@dataclass(frozen=True, slots=True)
class Cancelled:
    """An open visit that is no longer owed (the elder's tier went down)."""

    elder_id: int
    seq: int
    worker_id: int | None
    reason: str
    visit_id: int | None = None


@dataclass(frozen=True, slots=True)
class Notice:
    """Something that needs a person's eye but changed nothing (an overdue visit no other
    worker can take stays with its holder)."""

    elder_id: int
    seq: int
    worker_id: int | None
    reason: str
    detail: str
    visit_id: int | None = None


@dataclass(frozen=True)
class PlanSummary:
    """The month after the plan, as `tanfang plan --json` reports it (SPEC section 6)."""

    month: str
    elders: int
    visits: int
    unassigned: int
    by_contact: dict[str, int]
    mean_km: float
    max_load_ratio: float
    cost: int
    lower_bound: int
    lower_bound_wider: int

    def as_dict(self) -> dict[str, Any]:
        """The summary as plain JSON-able values."""
        return {
            "month": self.month,
            "elders": self.elders,
            "visits": self.visits,
            "unassigned": self.unassigned,
            "by_contact": dict(self.by_contact),
            "mean_km": self.mean_km,
            "max_load_ratio": self.max_load_ratio,
            "cost": self.cost,
            "lower_bound": self.lower_bound,
            "lower_bound_wider": self.lower_bound_wider,
        }


@dataclass(frozen=True)
class Plan:
    """The changes a plan makes to the month, and what it knows about the result.

    `visits` and `cancelled` are the delta to persist; `unassigned` lists every open visit
    left without a worker (see `Unassigned.changed`). `cost` and both lower bounds cover the
    whole month: visits the plan did not decide (done, or kept) add their cost to each.
    """

    month: str
    visits: list[PlannedVisit]
    unassigned: list[Unassigned]
    cancelled: list[Cancelled]
    notices: list[Notice]
    cost: int
    lower_bound: int
    lower_bound_wider: int
    summary: PlanSummary
    stats: dict[str, float]

    @property
    def changes_nothing(self) -> bool:
        """True when persisting the plan would change no stored visit."""
        return (
            not self.visits and not self.cancelled and not any(u.changed for u in self.unassigned)
        )

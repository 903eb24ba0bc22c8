"""Area scoping: the one place that decides which rows a person may see.

Every list and every single-row read of elders, visits, cases and reports goes through
these functions. A supervisor sees what lies in the areas they oversee (and below); a
grid worker or volunteer sees the elders they are a contact for or hold a visit of; agency
staff see the cases routed to their agency; an admin sees everything.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, false, or_, select, true
from sqlalchemy.orm import Session

from server.models import Area, Case, Elder, Visit, Worker, WorkerArea


@dataclass(frozen=True)
class Scope:
    """What one signed-in person may see."""

    worker_id: int
    role: str
    agency_id: int | None
    area_ids: tuple[int, ...]
    area_paths: tuple[str, ...]

    @property
    def is_admin(self) -> bool:
        """Admins see every area."""
        return self.role == "admin"

    @property
    def is_supervisor(self) -> bool:
        """Supervisors see the areas they oversee and everything below them."""
        return self.role == "supervisor"


def scope_for(session: Session, worker: Worker) -> Scope:
    """The scope of `worker`, from their role, agency and areas."""
    rows = session.execute(
        select(Area.id, Area.path)
        .join(WorkerArea, WorkerArea.area_id == Area.id)
        .where(WorkerArea.worker_id == worker.id)
        .order_by(Area.path)
    ).all()
    return Scope(
        worker_id=worker.id,
        role=worker.role,
        agency_id=worker.agency_id,
        area_ids=tuple(r[0] for r in rows),
        area_paths=tuple(r[1] for r in rows),
    )


def area_condition(scope: Scope) -> ColumnElement[bool]:
    """A condition on `Area` true for the areas within the scope's oversight."""
    if scope.is_admin:
        return true()
    if not scope.area_paths:
        return false()
    return or_(*(Area.path.startswith(path, autoescape=True) for path in scope.area_paths))


def _areas_in_scope(scope: Scope) -> ColumnElement[bool]:
    """A condition on `Elder` true when the elder's grid lies in the scope's areas."""
    return Elder.grid_id.in_(select(Area.id).where(area_condition(scope)))


def _serves(scope: Scope) -> ColumnElement[bool]:
    """A condition on `Elder`: this person is a contact of the elder or holds a live visit."""
    own_visits = select(Visit.elder_id).where(
        Visit.worker_id == scope.worker_id, Visit.status != "cancelled"
    )
    return or_(
        Elder.primary_contact_id == scope.worker_id,
        Elder.secondary_contact_id == scope.worker_id,
        Elder.id.in_(own_visits),
    )


def elder_condition(scope: Scope) -> ColumnElement[bool]:
    """A condition on `Elder` true for the elders this person may see."""
    if scope.is_admin:
        return true()
    if scope.is_supervisor:
        return _areas_in_scope(scope)
    conditions: list[ColumnElement[bool]] = [_serves(scope)]
    if scope.role == "social_worker" and scope.agency_id is not None:
        conditions.append(
            Elder.id.in_(select(Case.elder_id).where(Case.agency_id == scope.agency_id))
        )
    return or_(*conditions)


def visit_condition(scope: Scope) -> ColumnElement[bool]:
    """A condition on `Visit`: a supervisor's area, otherwise one's own visits of elders
    one may still see."""
    if scope.is_admin:
        return true()
    if scope.is_supervisor:
        return Visit.elder_id.in_(select(Elder.id).where(_areas_in_scope(scope)))
    # A visit cancelled when the work moved to someone else must drop from the old worker
    # together with its elder (LESSONS: reassignment), so never a visit of an unseen elder.
    return and_(
        Visit.worker_id == scope.worker_id,
        Visit.elder_id.in_(select(Elder.id).where(elder_condition(scope))),
    )


def case_condition(scope: Scope) -> ColumnElement[bool]:
    """A condition on `Case`: area for supervisors, agency for its staff, own for workers."""
    if scope.is_admin:
        return true()
    if scope.is_supervisor:
        return Case.elder_id.in_(select(Elder.id).where(_areas_in_scope(scope)))
    conditions: list[ColumnElement[bool]] = [Case.owner_id == scope.worker_id]
    if scope.role == "social_worker" and scope.agency_id is not None:
        conditions.append(Case.agency_id == scope.agency_id)
    if scope.role in ("grid_worker", "volunteer"):
        conditions.append(
            Case.elder_id.in_(
                select(Elder.id).where(
                    or_(
                        Elder.primary_contact_id == scope.worker_id,
                        Elder.secondary_contact_id == scope.worker_id,
                    )
                )
            )
        )
    return or_(*conditions)


def worker_condition(scope: Scope) -> ColumnElement[bool]:
    """A condition on `Worker`: supervisors see workers serving their areas."""
    if scope.is_admin:
        return true()
    if scope.is_supervisor:
        return Worker.id.in_(
            select(WorkerArea.worker_id)
            .join(Area, Area.id == WorkerArea.area_id)
            .where(area_condition(scope))
        )
    return Worker.id == scope.worker_id


def visible_elder(session: Session, scope: Scope, elder_id: int) -> Elder | None:
    """The elder if this person may see them, else None (callers answer 404)."""
    return session.scalar(select(Elder).where(Elder.id == elder_id, elder_condition(scope)))


def visible_visit(session: Session, scope: Scope, visit_id: int) -> Visit | None:
    """The visit if this person may see it, else None."""
    return session.scalar(select(Visit).where(Visit.id == visit_id, visit_condition(scope)))


def known_visit(session: Session, scope: Scope, visit_id: int) -> Visit | None:
    """The visit if this person may learn that it exists (they see its elder), else None.

    Acting on someone else's visit is then 403; a visit of an unseen elder is 404, so ids
    cannot be probed across areas.
    """
    return session.scalar(
        select(Visit).where(
            Visit.id == visit_id, Visit.elder_id.in_(select(Elder.id).where(elder_condition(scope)))
        )
    )


def served_elder_ids(session: Session, scope: Scope, elder_ids: Iterable[int]) -> set[int]:
    """Of `elder_ids`, the elders this person serves (as a contact or holding a live visit).

    Lists show an elder's name and contact details only to those who serve them; everyone
    else gets them masked and reads the full record one elder at a time (audited).
    """
    wanted = set(elder_ids)
    if not wanted:
        return set()
    return set(session.scalars(select(Elder.id).where(Elder.id.in_(wanted), _serves(scope))))


def visible_case(session: Session, scope: Scope, case_id: int) -> Case | None:
    """The case if this person may see it, else None."""
    return session.scalar(select(Case).where(Case.id == case_id, case_condition(scope)))


def visible_area(session: Session, scope: Scope, code: str) -> Area | None:
    """The area by code if it lies within this person's oversight, else None."""
    return session.scalar(select(Area).where(Area.code == code, area_condition(scope)))

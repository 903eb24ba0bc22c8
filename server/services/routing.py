"""Who is responsible for an elder: the agency serving their area most specifically, the
supervisors above them, their contacts."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.models import Agency, AgencyArea, Area, Elder, Worker, WorkerArea


def _grid_path(session: Session, elder: Elder) -> str:
    path = session.scalar(select(Area.path).where(Area.id == elder.grid_id))
    return path or ""


def agency_for(session: Session, elder: Elder) -> Agency | None:
    """The active agency whose service area covers the elder's grid most specifically
    (a street's own Warm Heart Home before the county's agency)."""
    grid_path = _grid_path(session, elder)
    best: tuple[int, int, Agency] | None = None
    rows = session.execute(
        select(Agency, Area.path)
        .join(AgencyArea, AgencyArea.agency_id == Agency.id)
        .join(Area, Area.id == AgencyArea.area_id)
        .where(Agency.active.is_(True))
    ).all()
    for agency, path in rows:
        if grid_path.startswith(path):
            key = (len(path.split("/")), -agency.id)
            if best is None or key > best[:2]:
                best = (key[0], key[1], agency)
    return best[2] if best else None


def supervisors_for(session: Session, elder: Elder, levels_up: int = 0) -> list[Worker]:
    """Active supervisors over the elder's grid, nearest level first; `levels_up` skips that
    many of the nearest levels (the next level up for a second escalation). With no
    supervisor anywhere above the elder, the active administrators."""
    grid_path = _grid_path(session, elder)
    rows = session.execute(
        select(Worker, Area.path)
        .join(WorkerArea, WorkerArea.worker_id == Worker.id)
        .join(Area, Area.id == WorkerArea.area_id)
        .where(Worker.role == "supervisor", Worker.active.is_(True))
    ).all()
    by_depth: dict[int, list[Worker]] = {}
    for worker, path in rows:
        if grid_path.startswith(path):
            by_depth.setdefault(len(path.split("/")), []).append(worker)
    levels = [by_depth[d] for d in sorted(by_depth, reverse=True)]
    if not levels:
        # Nobody supervises this part of the tree: the administrators stand in, so that an
        # escalation or a crisis never goes to no one.
        return list(
            session.scalars(
                select(Worker)
                .where(Worker.role == "admin", Worker.active.is_(True))
                .order_by(Worker.id)
            )
        )
    return levels[min(levels_up, len(levels) - 1)]


def agency_staff(session: Session, agency: Agency) -> list[Worker]:
    """The agency's active social workers."""
    return list(
        session.scalars(
            select(Worker)
            .where(
                Worker.agency_id == agency.id,
                Worker.active.is_(True),
                Worker.role == "social_worker",
            )
            .order_by(Worker.id)
        )
    )

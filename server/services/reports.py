"""Completion against the 100% monthly visit target (SPEC section 9)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, case, exists, func, select
from sqlalchemy.orm import Session

from server.models import Area, CheckIn, Elder, Visit


@dataclass
class Completion:
    """One area's figures for one month, with its child areas."""

    month: str
    area: str
    name: str
    level: str
    elders: int = 0
    visited: int = 0
    visits_required: int = 0
    visits_done: int = 0
    children: list[Completion] = field(default_factory=list)

    @property
    def rate(self) -> float:
        """visited / elders (1.0 when there is nobody to visit)."""
        return self.visited / self.elders if self.elders else 1.0

    def as_dict(self) -> dict[str, Any]:
        """The JSON shape of SPEC section 9."""
        return {
            "month": self.month,
            "area": self.area,
            "name": self.name,
            "level": self.level,
            "elders": self.elders,
            "visited": self.visited,
            "rate": round(self.rate, 4),
            "visits_required": self.visits_required,
            "visits_done": self.visits_done,
            "children": [c.as_dict() for c in self.children],
        }


def completion(session: Session, month: str, area: Area, depth: int = 1) -> Completion:
    """Completion of `area` in `month`, with `depth` levels of child areas.

    Counted elders have a visit in the month that is not cancelled; an elder is visited
    when one of those visits has a check-in with outcome `seen` dated in the month.
    """
    seen = exists().where(
        CheckIn.visit_id == Visit.id, CheckIn.outcome == "seen", CheckIn.month == month
    )
    per_elder = (
        select(
            Visit.elder_id.label("elder_id"),
            func.count().label("required"),
            func.sum(case((Visit.status == "done", 1), else_=0)).label("done"),
            func.max(case((seen, 1), else_=0)).label("visited"),
        )
        .where(Visit.month == month, Visit.status != "cancelled")
        .group_by(Visit.elder_id)
        .subquery()
    )
    rows = session.execute(
        select(
            Area.path,
            func.count(per_elder.c.elder_id),
            func.sum(per_elder.c.visited),
            func.sum(per_elder.c.required),
            func.sum(per_elder.c.done),
        )
        .select_from(per_elder)
        .join(Elder, Elder.id == per_elder.c.elder_id)
        .join(
            Area, and_(Area.id == Elder.grid_id, Area.path.startswith(area.path, autoescape=True))
        )
        .group_by(Area.path)
    ).all()
    by_grid = [
        (path, int(e or 0), int(v or 0), int(r or 0), int(d or 0)) for path, e, v, r, d in rows
    ]
    return _rollup(session, month, area, by_grid, depth)


def _rollup(
    session: Session,
    month: str,
    area: Area,
    by_grid: list[tuple[str, int, int, int, int]],
    depth: int,
) -> Completion:
    node = Completion(month=month, area=area.code, name=area.name, level=area.level)
    for path, elders, visited, required, done in by_grid:
        if path.startswith(area.path):
            node.elders += elders
            node.visited += visited
            node.visits_required += required
            node.visits_done += done
    if depth > 0:
        children = session.scalars(
            select(Area).where(Area.parent_id == area.id).order_by(Area.code)
        ).all()
        mine = [row for row in by_grid if row[0].startswith(area.path)]
        node.children = [_rollup(session, month, child, mine, depth - 1) for child in children]
    return node

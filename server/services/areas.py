"""The area tree: adding nodes, keeping materialised paths right, walking up and down."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from server.models import Area
from server.vocab import AREA_LEVELS

LEVEL_RANK = {level: rank for rank, level in enumerate(AREA_LEVELS)}


def child_level_ok(parent_level: str | None, level: str) -> bool:
    """A child sits strictly below its parent (levels may be skipped, never reversed)."""
    if parent_level is None:
        return True
    return LEVEL_RANK[level] > LEVEL_RANK[parent_level]


def add_area(session: Session, code: str, name: str, level: str, parent: Area | None) -> Area:
    """Create an area under `parent` with its path set."""
    area = Area(code=code, name=name, level=level, parent_id=parent.id if parent else None)
    session.add(area)
    session.flush()
    area.path = f"{parent.path if parent else '/'}{area.id}/"
    return area


def move_area(session: Session, area: Area, parent: Area | None) -> None:
    """Re-parent `area`, rewriting the paths of its whole subtree."""
    old = area.path
    new = f"{parent.path if parent else '/'}{area.id}/"
    if old == new:
        return
    if parent is not None and parent.path.startswith(old):
        raise ValueError(f"{area.code}: cannot move an area under its own descendant")
    area.parent_id = parent.id if parent else None
    session.flush()
    descendants = session.scalars(select(Area).where(Area.path.startswith(old, autoescape=True)))
    for node in descendants:
        node.path = new + node.path[len(old) :]
    session.flush()


def ancestors(session: Session, area: Area) -> list[Area]:
    """The area and its ancestors, nearest first."""
    ids = [int(part) for part in area.path.strip("/").split("/") if part]
    rows = {a.id: a for a in session.scalars(select(Area).where(Area.id.in_(ids)))}
    return [rows[i] for i in reversed(ids) if i in rows]


def subtree_ids(session: Session, area: Area) -> list[int]:
    """Ids of the area and everything below it."""
    return list(
        session.scalars(select(Area.id).where(Area.path.startswith(area.path, autoescape=True)))
    )


def rebuild_paths(session: Session) -> None:
    """Recompute every path from parent links (after bulk loads)."""
    rows = session.execute(select(Area.id, Area.parent_id)).all()
    children: dict[int | None, list[int]] = {}
    for area_id, parent_id in rows:
        children.setdefault(parent_id, []).append(area_id)
    paths: dict[int, str] = {}
    stack = [(root, f"/{root}/") for root in children.get(None, [])]
    while stack:
        area_id, path = stack.pop()
        paths[area_id] = path
        stack.extend((c, f"{path}{c}/") for c in children.get(area_id, []))
    if paths:
        session.execute(update(Area), [{"id": k, "path": v} for k, v in paths.items()])

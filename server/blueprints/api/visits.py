"""The caller's visits (a supervisor's: those in their areas)."""

from __future__ import annotations

from flask import Response, jsonify
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from server.blueprints.api import bp
from server.blueprints.api.errors import ApiError
from server.blueprints.api.params import choice_arg, month_arg, page_args
from server.blueprints.api.serialize import visit_json
from server.models import Visit
from server.runtime import db_session
from server.security import api_login_required, current_scope
from server.services.scope import served_elder_ids, visible_visit, visit_condition

STATUS_FILTERS = {
    "open": ("planned",),
    "done": ("done",),
    "all": ("planned", "done", "missed", "cancelled"),
}


@bp.get("/visits")
@api_login_required()
def list_visits() -> Response:
    """`?month=YYYY-MM&status=open|done|all`, open first by due date."""
    scope = current_scope()
    month = month_arg()
    status = choice_arg("status", tuple(STATUS_FILTERS), "all") or "all"
    limit, offset = page_args(default_size=500, max_size=2000)
    session = db_session()
    rows = session.scalars(
        select(Visit)
        .where(
            visit_condition(scope),
            Visit.month == month,
            Visit.status.in_(STATUS_FILTERS[status]),
        )
        .options(selectinload(Visit.elder), selectinload(Visit.worker))
        .order_by(Visit.status != "planned", Visit.due_date, Visit.id)
        .limit(limit)
        .offset(offset)
    ).all()
    serves = served_elder_ids(session, scope, (v.elder_id for v in rows))
    return jsonify(month=month, visits=[visit_json(v, serves=v.elder_id in serves) for v in rows])


@bp.get("/visits/<int:visit_id>")
@api_login_required()
def get_visit(visit_id: int) -> Response:
    """One visit in scope."""
    scope = current_scope()
    session = db_session()
    visit = visible_visit(session, scope, visit_id)
    if visit is None:
        raise ApiError(404, "not_found", "no such visit")
    serves = visit.elder_id in served_elder_ids(session, scope, [visit.elder_id])
    return jsonify(visit=visit_json(visit, serves=serves))

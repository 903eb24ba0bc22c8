"""Completion reports for the caller's areas."""

from __future__ import annotations

from flask import Response, jsonify, request
from sqlalchemy import select

from server.blueprints.api import bp
from server.blueprints.api.errors import ApiError
from server.blueprints.api.params import month_arg
from server.models import Area
from server.runtime import db_session
from server.security import api_login_required, current_scope
from server.services.reports import completion
from server.services.scope import Scope, visible_area


def report_area(scope: Scope, code: str | None) -> Area:
    """The area asked for, if in scope; else the caller's own top area."""
    session = db_session()
    if code:
        area = visible_area(session, scope, code)
        if area is None:
            raise ApiError(404, "not_found", "no such area in your scope")
        return area
    if scope.area_ids:
        area = session.get(Area, scope.area_ids[0])
    else:
        area = session.scalar(select(Area).where(Area.parent_id.is_(None)).order_by(Area.id))
    if area is None or (not scope.is_admin and not scope.area_ids):
        raise ApiError(404, "not_found", "no area to report on")
    return area


@bp.get("/reports/completion")
@api_login_required("supervisor", "admin")
def completion_report() -> Response:
    """`?month=YYYY-MM&area=CODE`: SPEC section 9."""
    scope = current_scope()
    area = report_area(scope, request.args.get("area"))
    return jsonify(completion(db_session(), month_arg(), area).as_dict())

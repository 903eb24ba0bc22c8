"""Elders, as far as the caller's scope reaches."""

from __future__ import annotations

from flask import Response, jsonify, request
from sqlalchemy import func, or_, select
from sqlalchemy.orm import selectinload

from server.blueprints.api import bp
from server.blueprints.api.errors import ApiError
from server.blueprints.api.params import choice_arg, page_args
from server.blueprints.api.serialize import elder_json
from server.models import Area, Elder
from server.runtime import db_session
from server.security import api_login_required, current_scope
from server.services.audit import record
from server.services.scope import (
    elder_condition,
    served_elder_ids,
    visible_area,
    visible_elder,
)
from server.vocab import ELDER_STATUSES, RISK_TIERS


@bp.get("/elders")
@api_login_required()
def list_elders() -> Response:
    """`?area=CODE&tier=&status=&q=&limit=&offset=`: elders in scope, phones masked (and
    names, unless the caller serves the elder)."""
    scope = current_scope()
    session = db_session()
    limit, offset = page_args()
    query = select(Elder).where(elder_condition(scope))
    area_code = request.args.get("area")
    if area_code:
        area = visible_area(session, scope, area_code)
        if area is None and not scope.is_admin:
            raise ApiError(404, "not_found", "no such area in your scope")
        if area is None:
            raise ApiError(404, "not_found", "no such area")
        below = select(Area.id).where(Area.path.startswith(area.path, autoescape=True))
        query = query.where(Elder.grid_id.in_(below))
    tier = choice_arg("tier", RISK_TIERS, None)
    if tier:
        query = query.where(Elder.risk_tier == tier)
    status = choice_arg("status", (*ELDER_STATUSES, "all"), "active")
    if status != "all":
        query = query.where(Elder.status == status)
    text = (request.args.get("q") or "").strip()
    if text:
        like = f"%{text}%"
        query = query.where(
            or_(Elder.code == text.upper(), Elder.external_id == text, Elder.name.like(like))
        )
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    rows = session.scalars(
        query.options(
            selectinload(Elder.grid),
            selectinload(Elder.primary_contact),
            selectinload(Elder.secondary_contact),
        )
        .order_by(Elder.id)
        .limit(limit)
        .offset(offset)
    ).all()
    serves = served_elder_ids(session, scope, (e.id for e in rows))
    return jsonify(
        total=total, elders=[elder_json(e, full=False, serves=e.id in serves) for e in rows]
    )


@bp.get("/elders/<int:elder_id>")
@api_login_required()
def get_elder(elder_id: int) -> Response:
    """One elder with every field; the read is audited."""
    scope = current_scope()
    session = db_session()
    elder = visible_elder(session, scope, elder_id)
    if elder is None:
        raise ApiError(404, "not_found", "no such elder")
    record(session, scope.worker_id, "read_elder", "elder", elder.id)
    session.commit()
    return jsonify(elder=elder_json(elder, full=True))

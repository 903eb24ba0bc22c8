"""Cases routed to the caller's agency or lying in their areas."""

from __future__ import annotations

from flask import Response, jsonify
from sqlalchemy import case as sql_case
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from server.blueprints.api import bp
from server.blueprints.api.errors import ApiError
from server.blueprints.api.params import choice_arg, json_body, page_args
from server.blueprints.api.serialize import case_json, iso
from server.models import Case
from server.runtime import config, db_session
from server.security import api_login_required, current_scope, current_user
from server.services import cases as case_service
from server.services.scope import case_condition, visible_case
from server.vocab import CASE_KINDS, CASE_PRIORITIES, CASE_STATUSES

PRIORITY_ORDER = sql_case({p: i for i, p in enumerate(CASE_PRIORITIES)}, value=Case.priority)


@bp.get("/cases")
@api_login_required()
def list_cases() -> Response:
    """`?status=open|acknowledged|resolved&kind=...`, most urgent and oldest first."""
    status = choice_arg("status", CASE_STATUSES, None)
    kind = choice_arg("kind", CASE_KINDS, None)
    limit, offset = page_args()
    query = select(Case).where(case_condition(current_scope()))
    if status:
        query = query.where(Case.status == status)
    if kind:
        query = query.where(Case.kind == kind)
    rows = db_session().scalars(
        query.options(selectinload(Case.elder), selectinload(Case.agency), selectinload(Case.owner))
        .order_by(PRIORITY_ORDER, Case.created_at, Case.id)
        .limit(limit)
        .offset(offset)
    ).all()
    return jsonify(cases=[case_json(c) for c in rows])


def _case(case_id: int) -> Case:
    found = visible_case(db_session(), current_scope(), case_id)
    if found is None:
        raise ApiError(404, "not_found", "no such case")
    return found


@bp.get("/cases/<int:case_id>")
@api_login_required()
def get_case(case_id: int) -> Response:
    """One case with its timeline."""
    found = _case(case_id)
    data = case_json(found)
    data["timeline"] = [
        {
            "at": iso(e.at),
            "kind": e.kind,
            "actor": e.actor.external_id if e.actor else None,
            "note": e.note,
        }
        for e in found.events
    ]
    return jsonify(case=data)


@bp.post("/cases/<int:case_id>/ack")
@api_login_required()
def ack_case(case_id: int) -> Response:
    """Acknowledge a case."""
    found = _case(case_id)
    try:
        case_service.acknowledge(db_session(), found, current_user())
    except case_service.CaseError as exc:
        raise ApiError(409, exc.code, str(exc)) from exc
    db_session().commit()
    return jsonify(case=case_json(found))


@bp.post("/cases/<int:case_id>/resolve")
@api_login_required()
def resolve_case(case_id: int) -> Response:
    """Resolve a case: `{note}` is required."""
    found = _case(case_id)
    note = json_body().get("note")
    if not isinstance(note, str) or not note.strip():
        raise ApiError(422, "invalid", "a note is required", {"note": "required"})
    try:
        case_service.resolve(db_session(), found, current_user(), note, tz=config().tz)
    except case_service.CaseError as exc:
        raise ApiError(409, exc.code, str(exc)) from exc
    db_session().commit()
    return jsonify(case=case_json(found))

"""What the worker PWA needs beyond the core API: the elder card shown before a visit."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify
from sqlalchemy import select
from sqlalchemy.orm import Session

from server.blueprints.api import bp
from server.blueprints.api.errors import ApiError
from server.blueprints.api.serialize import iso
from server.models import Case, CheckIn, Visit
from server.runtime import db_session
from server.security import api_login_required, current_scope
from server.services.audit import record
from server.services.scope import visible_elder


def _last_checkin(session: Session, elder_id: int) -> CheckIn | None:
    """The latest check-in at any visit of the elder."""
    return session.scalar(
        select(CheckIn)
        .join(Visit, Visit.id == CheckIn.visit_id)
        .where(Visit.elder_id == elder_id)
        .order_by(CheckIn.occurred_at.desc(), CheckIn.id.desc())
        .limit(1)
    )


def _open_cases(session: Session, elder_id: int) -> list[Case]:
    """The elder's cases that are not resolved yet, oldest first."""
    return list(
        session.scalars(
            select(Case)
            .where(Case.elder_id == elder_id, Case.status != "resolved")
            .order_by(Case.created_at, Case.id)
        )
    )


@bp.get("/elders/<int:elder_id>/card")
@api_login_required()
def elder_card(elder_id: int) -> Response:
    """The card a worker reads before a visit: who, where, how to call, the last visit and
    its note, and the open cases (kind, priority and status only). The read is audited."""
    scope = current_scope()
    session = db_session()
    elder = visible_elder(session, scope, elder_id)
    if elder is None:
        raise ApiError(404, "not_found", "no such elder")
    last = _last_checkin(session, elder.id)
    last_visit: dict[str, Any] | None = None
    if last is not None:
        last_visit = {
            "occurred_at": iso(last.occurred_at),
            "outcome": last.outcome,
            "mood": last.mood,
            "by_me": last.worker_id == scope.worker_id,
            "note": last.note,
        }
    cases = [
        {"kind": c.kind, "priority": c.priority, "status": c.status}
        for c in _open_cases(session, elder.id)
    ]
    record(session, scope.worker_id, "read_elder", "elder", elder.id, {"view": "card"})
    session.commit()
    return jsonify(
        card={
            "id": elder.id,
            "code": elder.code,
            "name": elder.name,
            "phone": elder.phone,
            "address": elder.address,
            "lat": elder.lat,
            "lon": elder.lon,
            "risk_tier": elder.risk_tier,
            "lives_alone": elder.lives_alone,
            "last_visit": last_visit,
            "open_cases": cases,
        }
    )

"""Check-ins from the PWA: `POST /api/v1/visits/{id}/checkins`, idempotent by client_id."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from server.blueprints.api import bp
from server.blueprints.api.errors import ApiError
from server.blueprints.api.params import json_body
from server.blueprints.api.serialize import iso
from server.db import utcnow
from server.models import CheckIn
from server.runtime import config, db_session, runtime
from server.security import api_login_required, current_scope, current_user
from server.services.checkins import (
    CheckInConflict,
    CheckInForbidden,
    CheckInInvalid,
    parse_checkin,
    record_checkin,
)
from server.services.followups import after_checkin
from server.services.scope import known_visit


def checkin_json(checkin: CheckIn) -> dict[str, Any]:
    """A check-in as the API returns it."""
    return {
        "id": checkin.id,
        "client_id": checkin.client_id,
        "visit_id": checkin.visit_id,
        "channel": checkin.channel,
        "occurred_at": iso(checkin.occurred_at),
        "received_at": iso(checkin.received_at),
        "lat": checkin.lat,
        "lon": checkin.lon,
        "accuracy_m": checkin.accuracy_m,
        "distance_m": round(checkin.distance_m, 1) if checkin.distance_m is not None else None,
        "far_from_home": checkin.far_from_home,
        "outcome": checkin.outcome,
        "mood": checkin.mood,
        "phq2": (
            [checkin.phq2_interest, checkin.phq2_mood]
            if checkin.phq2_interest is not None
            else None
        ),
        "needs": checkin.needs,
        "services": checkin.services,
        "note": checkin.note,
    }


@bp.post("/visits/<int:visit_id>/checkins")
@api_login_required()
def create_checkin(visit_id: int) -> tuple[Response, int]:
    """201 with the new record; 200 with the stored one when the client id was seen."""
    session = db_session()
    worker = current_user()
    # Say 403 (not 404) only to someone who could know of the visit anyway: a visit of an
    # elder outside one's scope is not found, so ids cannot be probed across areas.
    visit = known_visit(session, current_scope(), visit_id)
    if visit is None:
        raise ApiError(404, "not_found", "no such visit")
    if visit.worker_id != worker.id:
        raise ApiError(403, "forbidden", "this visit is assigned to someone else")
    try:
        data = parse_checkin(json_body())
        now = utcnow()
        checkin, created = record_checkin(session, visit, worker, data, "pwa", config().tz, now)
        if created:
            rt = runtime()
            after_checkin(session, visit, checkin, worker, now, rules=rt.rules, tz=rt.config.tz)
        session.commit()
    except CheckInInvalid as exc:
        session.rollback()
        raise ApiError(422, "invalid", "some fields are not valid", exc.fields) from exc
    except CheckInForbidden as exc:
        session.rollback()
        raise ApiError(403, "forbidden", str(exc)) from exc
    except CheckInConflict as exc:
        session.rollback()
        raise ApiError(409, "conflict", str(exc)) from exc
    except IntegrityError:
        # The same client id arrived twice at once; the other request stored it.
        session.rollback()
        stored = session.scalar(select(CheckIn).where(CheckIn.client_id == data.client_id))
        if stored is None or stored.visit_id != visit.id:
            raise
        return jsonify(checkin=checkin_json(stored)), 200
    return jsonify(checkin=checkin_json(checkin)), 201 if created else 200

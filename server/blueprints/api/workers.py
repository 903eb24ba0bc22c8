"""Workers in the caller's scope."""

from __future__ import annotations

from flask import Response, jsonify
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from server.blueprints.api import bp
from server.blueprints.api.errors import ApiError
from server.blueprints.api.params import page_args
from server.blueprints.api.serialize import worker_json
from server.models import Worker
from server.runtime import db_session
from server.security import api_login_required, current_scope
from server.services.scope import worker_condition


@bp.get("/workers")
@api_login_required("supervisor", "admin")
def list_workers() -> Response:
    """Workers serving the caller's areas; phones masked."""
    limit, offset = page_args()
    rows = db_session().scalars(
        select(Worker)
        .where(worker_condition(current_scope()))
        .options(selectinload(Worker.areas), selectinload(Worker.agency))
        .order_by(Worker.external_id)
        .limit(limit)
        .offset(offset)
    ).all()
    return jsonify(workers=[worker_json(w, full=False) for w in rows])


@bp.get("/workers/<int:worker_id>")
@api_login_required()
def get_worker(worker_id: int) -> Response:
    """One worker in scope (everyone may read their own record)."""
    worker = db_session().scalar(
        select(Worker).where(Worker.id == worker_id, worker_condition(current_scope()))
    )
    if worker is None:
        raise ApiError(404, "not_found", "no such worker")
    return jsonify(worker=worker_json(worker, full=True))

"""Signing in to the API: PIN or one-time code for a bearer token; logout revokes it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Response, g, jsonify
from sqlalchemy import select

from server.blueprints.api import bp
from server.blueprints.api.errors import ApiError
from server.blueprints.api.params import json_body
from server.blueprints.api.serialize import iso, worker_json
from server.db import utcnow
from server.models import Worker
from server.runtime import config, db_session
from server.security import api_login_required
from server.services import auth
from server.services.audit import record
from server.services.outbox import enqueue
from server.services.phones import PhoneError, normalize_phone

OTP_PER_WINDOW = 3
OTP_WINDOW = timedelta(minutes=10)


def _phone(data: dict[str, Any]) -> str:
    raw = data.get("phone")
    if not isinstance(raw, str) or not raw.strip():
        raise ApiError(422, "invalid", "phone is required", {"phone": "required"})
    try:
        return normalize_phone(raw)
    except PhoneError as exc:
        raise ApiError(
            422, "invalid", "phone is not valid", {"phone": "not a phone number"}
        ) from exc


def _policy() -> auth.LoginPolicy:
    cfg = config()
    return auth.LoginPolicy(cfg.max_failed_logins, timedelta(minutes=cfg.lockout_minutes))


@bp.post("/auth/token")
def issue_token() -> tuple[Response, int]:
    """`{phone, pin}` or `{phone, otp}` -> `{token, expires_at, user}`."""
    data = json_body()
    phone = _phone(data)
    pin, otp = data.get("pin"), data.get("otp")
    session = db_session()
    try:
        if isinstance(otp, str | int) and str(otp).strip():
            worker = auth.authenticate_otp(session, phone, str(otp).strip(), config().pepper)
        elif isinstance(pin, str | int) and str(pin).strip():
            worker = auth.authenticate_pin(
                session, phone, str(pin).strip(), config().pepper, _policy()
            )
        else:
            raise ApiError(422, "invalid", "pin or otp is required", {"pin": "required"})
    except auth.AuthError as exc:
        session.commit()  # keep the failure count
        if exc.code == "locked" and exc.locked_until is not None:
            retry = max(1, int((exc.locked_until - utcnow()).total_seconds()))
            response = jsonify(
                error={"code": "locked", "message": "too many failed attempts", "fields": {}}
            )
            response.headers["Retry-After"] = str(retry)
            return response, 429
        raise ApiError(401, exc.code, str(exc)) from exc
    token, row = auth.issue_token(session, worker, "api", timedelta(hours=config().token_ttl_hours))
    record(session, worker.id, "login", "worker", worker.id, {"channel": "api"})
    session.commit()
    return jsonify(
        token=token, expires_at=iso(row.expires_at), user=worker_json(worker, full=True)
    ), 200


@bp.post("/auth/otp")
def send_otp() -> tuple[Response, int]:
    """`{phone}`: send a one-time code by SMS. The answer does not reveal unknown phones."""
    phone = _phone(json_body())
    session = db_session()
    worker = session.scalar(select(Worker).where(Worker.phone == phone, Worker.active.is_(True)))
    if worker is not None:
        sent = auth.recent_otp_count(session, worker.id, utcnow() - OTP_WINDOW)
        if sent >= OTP_PER_WINDOW:
            raise ApiError(429, "throttled", "too many codes requested; try again later")
        code = auth.create_otp(session, worker, config().pepper)
        enqueue(
            session,
            phone=worker.phone,
            template="otp_code",
            params={"otp": code, "minutes": 10},
            locale=worker.locale,
            urgent=True,
            worker_id=worker.id,
        )
        session.commit()
    return jsonify(status="sent"), 202


@bp.post("/auth/logout")
@api_login_required()
def logout() -> tuple[Response, int]:
    """Revoke the bearer token used for this request."""
    session = db_session()
    auth.revoke_token(session, g.auth_token)
    session.commit()
    return jsonify(status="logged_out"), 200


@bp.get("/me")
@api_login_required()
def me() -> Response:
    """The signed-in person."""
    return jsonify(user=worker_json(g.user, full=True))

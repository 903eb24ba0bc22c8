"""POST /sms/status: Twilio's status callbacks for the messages we sent (SPEC section 7).

Signed like every Twilio webhook (403 otherwise) and exempt from CSRF (Twilio cannot carry a
token). The answer is an empty TwiML document; a database failure is a 500, so Twilio may try
again rather than be told all is well.
"""

from __future__ import annotations

from flask import Blueprint, Response, request

from server.blueprints.twilio_auth import twilio_signed
from server.db import utcnow
from server.runtime import config, db_session
from server.services.sms.dispatch import DispatchPolicy, record_status

bp = Blueprint("sms_status", __name__)

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'


@bp.post("/sms/status")
@twilio_signed
def status_callback() -> Response:
    """Record a message's new status (MessageStatus, ErrorCode) found by its MessageSid."""
    form = request.form
    sid = form.get("MessageSid") or form.get("SmsSid") or ""
    status = form.get("MessageStatus") or form.get("SmsStatus") or ""
    if sid and status:
        session = db_session()
        record_status(
            session,
            sid=sid,
            status=status,
            error_code=_error_code(form.get("ErrorCode")),
            now=utcnow(),
            policy=DispatchPolicy.from_config(config()),
        )
        session.commit()
    return Response(EMPTY_TWIML, status=200, mimetype="text/xml")


def _error_code(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None

"""`POST /sms/inbound`: Twilio's webhook for a received SMS, answered with TwiML.

A database failure answers 503 so Twilio retries; a 200 would lose the message.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response
from flask import request as flask_request
from sqlalchemy.exc import SQLAlchemyError
from twilio.twiml.messaging_response import MessagingResponse

from server.blueprints.twilio_auth import twilio_signed
from server.db import utcnow
from server.runtime import runtime
from server.services.sms.inbound import handle_inbound_on

bp = Blueprint("sms_inbound", __name__)
log = logging.getLogger(__name__)


def _twiml_parts() -> tuple[str, str, str]:
    """The empty answer, and what goes before and after the text of a one-message answer."""
    answer = MessagingResponse()
    answer.message("_")
    before, after = str(answer).split("_")
    return str(MessagingResponse()), before, after


_EMPTY, _OPEN, _CLOSE = _twiml_parts()


def twiml_text(text: str | None) -> str:
    """The TwiML document of one message, or of nothing: the same text as twilio's
    MessagingResponse, which builds it through ElementTree (escaping &, < and > in the text),
    without building the tree for every answer."""
    if not text:
        return _EMPTY
    return _OPEN + text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;") + _CLOSE


def twiml(text: str | None) -> Response:
    """A TwiML answer: one message, or nothing."""
    return Response(twiml_text(text), mimetype="application/xml")


@bp.post("/sms/inbound")
@twilio_signed
def inbound() -> Response:
    """Store and handle one inbound SMS; reply in the sender's language."""
    form = flask_request.form
    sid = form.get("MessageSid") or form.get("SmsSid") or None
    rt = runtime()
    try:
        # A connection of its own, in one transaction: committed when handling succeeds,
        # rolled back on any error (no ORM session unless the message needs one).
        with rt.engine.begin() as connection:
            result = handle_inbound_on(
                connection,
                rt.inbound_context(),
                sender=form.get("From", ""),
                body=form.get("Body", ""),
                sid=sid,
                now=utcnow(),
            )
    except SQLAlchemyError as exc:
        log.error("inbound SMS not stored (%s); asking Twilio to retry", type(exc).__name__)
        return Response("database unavailable", status=503, mimetype="text/plain")
    log.info("inbound SMS handled as %s", result.handled_as)
    return twiml(result.reply_text)

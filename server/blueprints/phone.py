"""`/phone`: a phone simulator for the console SMS backend (demo and training).

Anyone can act as a worker's or an elder's phone: send a text through the same handling as
the webhook and see the replies and the messages the outbox sends to that number. The
blueprint is registered only when TANFANG_SMS_BACKEND is `console`.
"""

from __future__ import annotations

from urllib.parse import urlencode

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select
from werkzeug.wrappers import Response

from server.db import utcnow
from server.models import SmsMessage
from server.runtime import db_session, runtime
from server.services.phones import PhoneError, normalize_phone
from server.services.sms.inbound import handle_inbound

bp = Blueprint("phone", __name__)

SHOWN = 30


@bp.get("/phone")
def phone() -> str:
    """The simulator: a number to act as, a text box, and that number's conversation."""
    number = request.args.get("as", "")
    messages: list[SmsMessage] = []
    if number:
        try:
            number = normalize_phone(number)
        except PhoneError:
            flash(_("That is not a phone number."))
            number = ""
    if number:
        messages = list(
            db_session().scalars(
                select(SmsMessage)
                .where(SmsMessage.phone == number)
                .order_by(SmsMessage.created_at.desc(), SmsMessage.id.desc())
                .limit(SHOWN)
            )
        )
        messages.reverse()
    return render_template("phone.html", number=number, messages=messages)


@bp.post("/phone")
def phone_send() -> Response:
    """Send one SMS as the chosen phone, through the webhook's own handling."""
    raw, text = request.form.get("as", ""), request.form.get("text", "")
    try:
        number = normalize_phone(raw)
    except PhoneError:
        flash(_("That is not a phone number."))
        return redirect(url_for("phone.phone"))
    if text.strip():
        session = db_session()
        handle_inbound(
            session, runtime().inbound_context(), sender=number, body=text, sid=None,
            now=utcnow(),
        )  # fmt: skip
        session.commit()
    # the number is the simulator's own state, not personal data of a real person
    return redirect(url_for("phone.phone") + "?" + urlencode({"as": number}))

"""A crisis in the middle of the night: the signed webhook answers with the hotline at once,
and one dispatch run carries the notices to the agency, the primary contact and the
supervisor through the real Twilio SDK, quiet hours or not."""

from __future__ import annotations

import random
import xml.etree.ElementTree as ET
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from twilio.request_validator import RequestValidator

from server.adapters.sms.twilio_backend import TwilioBackend
from server.app import create_app
from server.config import Config
from server.db import make_session_factory
from server.models import Case
from server.runtime import runtime
from server.services.sms.dispatch import Dispatcher, DispatchPolicy, template_renderer
from tests.factories import build_region
from tests.support.twilio_double import ACCOUNT_SID, AUTH_TOKEN, TwilioDouble

PUBLIC = "https://tanfang.example.org"
TZ = Config().tz
# 02:00 tomorrow in Yinchuan: deep in the quiet hours, and after the rows are written
TWO_AM = datetime.combine(
    datetime.now(TZ).date() + timedelta(days=1), time(2, 0), tzinfo=TZ
).astimezone(UTC)


def test_a_crisis_at_night_reaches_three_people_in_one_dispatch(
    config: Config, engine: Engine, session: Session
) -> None:
    region = build_region(session)
    session.commit()
    county = region.counties["xq"]
    elder = county.elders[0]
    app = create_app(replace(config, twilio_auth_token=AUTH_TOKEN, public_url=PUBLIC))
    form = {
        "MessageSid": "SMcrisis1",
        "From": elder.phone or "",
        "To": "+15005550006",
        "Body": "老伴走了，儿子也走了，我真不想活了",
    }
    signature = RequestValidator(AUTH_TOKEN).compute_signature(f"{PUBLIC}/sms/inbound", form)
    try:
        response = app.test_client().post(
            "/sms/inbound", data=form, headers={"X-Twilio-Signature": signature}
        )
    finally:
        runtime(app).dispose()
    assert response.status_code == 200
    reply = ET.fromstring(response.get_data(as_text=True)).findtext("Message") or ""
    assert "12356" in reply and "120" in reply

    case = session.scalar(select(Case))
    assert case is not None and (case.kind, case.priority) == ("crisis", "urgent")

    with TwilioDouble() as double:
        dispatcher = Dispatcher(
            sessions=make_session_factory(engine),
            backend=TwilioBackend(
                ACCOUNT_SID, AUTH_TOKEN, from_="+15005550006", api_url=double.url, timeout=2.0
            ),
            renderer=template_renderer(config),
            policy=DispatchPolicy.from_config(config, rate=1000.0),
            clock=lambda: TWO_AM,
            rng=random.Random(1),
        )
        dispatcher.run_once()
        to = {post.form["To"] for post in double.posts if post.status == 201}
    assert county.home.phone in to  # the agency's duty phone
    assert county.workers[0].phone in to  # the primary contact
    assert county.supervisor.phone in to
    bodies = " ".join(post.form["Body"] for post in double.posts)
    assert elder.code in bodies and "不想活" not in bodies  # no health detail in any SMS

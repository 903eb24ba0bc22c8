"""The phone simulator of the console SMS backend."""

from __future__ import annotations

from dataclasses import replace

from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from server.app import create_app
from server.config import Config
from server.models import CheckIn
from server.runtime import runtime
from server.services.months import current_month
from tests.factories import build_region, make_visit
from tests.helpers import csrf_token


def test_acting_as_a_workers_phone_completes_a_visit(client: FlaskClient, session: Session) -> None:
    region = build_region(session)
    county = region.counties["xq"]
    visit = make_visit(session, county.elders[0], county.workers[0], current_month(Config().tz))
    session.commit()
    phone = county.workers[0].phone
    token = csrf_token(client, f"/phone?as={phone}")
    response = client.post(
        "/phone",
        data={"as": phone, "text": f"完成{visit.elder.code}", "csrf_token": token},
        follow_redirects=True,
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert f"完成{visit.elder.code}" in html and "【暖心探访】" in html
    checkin = session.scalar(select(CheckIn))
    assert checkin is not None and checkin.channel == "sms"


def test_the_simulator_exists_only_with_the_console_backend(config: Config) -> None:
    app = create_app(replace(config, sms_backend="twilio"))
    try:
        assert app.test_client().get("/phone").status_code == 404
    finally:
        runtime(app).dispose()

"""Check-ins through the API: recorded once, whatever the network does."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server.models import Case, CheckIn, SmsMessage, Visit
from tests.factories import PIN, Region, build_region, make_visit
from tests.helpers import api_token

MONTH = "2026-11"


def _setup(session: Session) -> tuple[Region, Visit]:
    region = build_region(session)
    county = region.counties["xq"]
    visit = make_visit(session, county.elders[0], county.workers[0], MONTH)
    session.commit()
    return region, visit


def _body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "client_id": "c-0001",
        "occurred_at": "2026-11-20T10:15:00+08:00",
        "lat": 38.47,
        "lon": 106.29,
        "accuracy_m": 12,
        "outcome": "seen",
        "mood": 4,
        "phq2": [0, 1],
        "needs": ["policy"],
        "services": ["visit", "policy_advice"],
        "note": "精神不错，询问了护理补贴。",
    }
    body.update(overrides)
    return body


def test_checkin_completes_the_visit_and_a_resend_changes_nothing(
    client: FlaskClient, session: Session
) -> None:
    region, visit = _setup(session)
    headers = api_token(client, region.counties["xq"].workers[0].phone, PIN)
    first = client.post(f"/api/v1/visits/{visit.id}/checkins", json=_body(), headers=headers)
    assert first.status_code == 201, first.get_json()
    record = first.get_json()["checkin"]
    assert record["outcome"] == "seen" and record["phq2"] == [0, 1]
    again = client.post(f"/api/v1/visits/{visit.id}/checkins", json=_body(), headers=headers)
    assert again.status_code == 200
    assert again.get_json()["checkin"]["id"] == record["id"]
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(CheckIn)) == 1
    stored = session.get(Visit, visit.id)
    assert stored is not None and stored.status == "done" and stored.channel == "pwa"

    listed = client.get(f"/api/v1/visits?month={MONTH}&status=done", headers=headers)
    assert [v["id"] for v in listed.get_json()["visits"]] == [visit.id]


def test_someone_elses_visit_is_forbidden(client: FlaskClient, session: Session) -> None:
    region, visit = _setup(session)
    other = region.counties["xq"].workers[1]
    headers = api_token(client, other.phone, PIN)
    response = client.post(f"/api/v1/visits/{visit.id}/checkins", json=_body(), headers=headers)
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "forbidden"
    assert session.scalar(select(func.count()).select_from(CheckIn)) == 0


def test_bad_fields_are_named(client: FlaskClient, session: Session) -> None:
    region, visit = _setup(session)
    headers = api_token(client, region.counties["xq"].workers[0].phone, PIN)
    response = client.post(
        f"/api/v1/visits/{visit.id}/checkins",
        json=_body(
            outcome="maybe",
            mood=9,
            phq2=[1],
            lat=200,
            needs=["money"],
            occurred_at="2026-11-20 10:15",
        ),
        headers=headers,
    )
    assert response.status_code == 422
    fields = response.get_json()["error"]["fields"]
    assert set(fields) >= {"outcome", "mood", "phq2", "lat", "needs", "occurred_at"}


def test_far_from_home_is_accepted_but_flagged(client: FlaskClient, session: Session) -> None:
    region, visit = _setup(session)
    headers = api_token(client, region.counties["xq"].workers[0].phone, PIN)
    response = client.post(
        f"/api/v1/visits/{visit.id}/checkins",
        json=_body(lat=38.48, lon=106.29),  # about 1.1 km north of the home
        headers=headers,
    )
    assert response.status_code == 201
    record = response.get_json()["checkin"]
    assert record["far_from_home"] is True
    assert 1000 < record["distance_m"] < 1200


@pytest.mark.parametrize(
    ("occurred_at", "month"),
    [
        ("2026-11-30T15:30:00Z", "2026-11"),  # 23:30 on the 30th in Ningxia
        ("2026-11-30T16:30:00Z", "2026-12"),  # 00:30 on 1 December in Ningxia
    ],
)
def test_month_is_counted_in_local_time(
    client: FlaskClient, session: Session, occurred_at: str, month: str
) -> None:
    region, visit = _setup(session)
    headers = api_token(client, region.counties["xq"].workers[0].phone, PIN)
    response = client.post(
        f"/api/v1/visits/{visit.id}/checkins",
        json=_body(occurred_at=occurred_at),
        headers=headers,
    )
    assert response.status_code == 201
    stored = session.scalar(select(CheckIn))
    assert stored is not None and stored.month == month


def test_completion_report_counts_a_seen_checkin(client: FlaskClient, session: Session) -> None:
    region, visit = _setup(session)
    county = region.counties["xq"]
    make_visit(session, county.elders[1], county.workers[0], MONTH)
    session.commit()
    headers = api_token(client, county.workers[0].phone, PIN)
    client.post(f"/api/v1/visits/{visit.id}/checkins", json=_body(), headers=headers)
    sup = api_token(client, county.supervisor.phone, PIN)
    report = client.get(f"/api/v1/reports/completion?month={MONTH}", headers=sup).get_json()
    assert (report["elders"], report["visited"], report["rate"]) == (2, 1, 0.5)
    assert report["visits_required"] == 2 and report["visits_done"] == 1
    assert report["area"] == county.area.code


def test_a_seen_checkin_asks_the_elder_to_rate_and_low_mood_refers_to_the_agency(
    client: FlaskClient, session: Session
) -> None:
    region, visit = _setup(session)
    county = region.counties["xq"]
    headers = api_token(client, county.workers[0].phone, PIN)
    response = client.post(
        f"/api/v1/visits/{visit.id}/checkins",
        json=_body(mood=2, phq2=[2, 2], needs=["emotional"]),
        headers=headers,
    )
    assert response.status_code == 201
    rating = session.scalar(select(SmsMessage).where(SmsMessage.template == "elder_rating_request"))
    assert rating is not None and rating.question == "rating" and rating.visit_id == visit.id
    case = session.scalar(select(Case))
    assert case is not None and case.kind == "psych_support"
    assert case.agency_id == county.home.id
    # the offline queue resends: nothing happens twice
    client.post(f"/api/v1/visits/{visit.id}/checkins", json=_body(mood=2), headers=headers)
    assert session.scalar(select(func.count()).select_from(Case)) == 1
    assert (
        session.scalar(
            select(func.count())
            .select_from(SmsMessage)
            .where(SmsMessage.template == "elder_rating_request")
        )
        == 1
    )

"""The API's contract (SPEC section 7): errors have one shape, every route but signing in
needs a bearer token, personal data is never cached, and every route is documented."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from server.models import Case
from tests.factories import PIN, Region, build_region
from tests.helpers import api_token, page_login

PUBLIC = {"/api/v1/auth/token", "/api/v1/auth/otp", "/api/v1/openapi.json"}


def api_routes(app: Flask) -> list[tuple[str, str]]:
    """(method, rule) of every /api/v1 route."""
    return sorted(
        (method, rule.rule)
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1/")
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}
    )


def concrete(rule: str) -> str:
    """A URL for a rule, with 1 for every id."""
    return re.sub(r"<(?:\w+:)?\w+>", "1", rule)


def assert_error(response: TestResponse, status: int, code: str) -> dict[str, Any]:
    """`{"error": {"code", "message", "fields"}}` with this status and code."""
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True))
    assert response.is_json
    body = response.get_json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "fields"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert isinstance(body["error"]["fields"], dict)
    error: dict[str, Any] = body["error"]
    return error


@pytest.fixture
def region(session: Session) -> Region:
    """The test region, committed, with one open case in xq."""
    region = build_region(session)
    elder = region.counties["xq"].elders[0]
    session.add(Case(elder_id=elder.id, kind="help", priority="high", open_key=f"{elder.id}:help"))
    session.commit()
    return region


def test_every_api_route_but_signing_in_needs_a_token(app: Flask, client: FlaskClient) -> None:
    routes = [(m, r) for m, r in api_routes(app) if r not in PUBLIC]
    assert routes
    for method, rule in routes:
        for headers in ({}, {"Authorization": "Bearer not-a-token"}, {"Authorization": "Basic x"}):
            response = client.open(concrete(rule), method=method, headers=headers, json={})
            assert_error(response, 401, "unauthorized")
            assert "no-store" in response.headers["Cache-Control"]


def test_a_page_session_does_not_open_the_api(client: FlaskClient, region: Region) -> None:
    # Browsers attach cookies by themselves; the API must only trust bearer tokens (no CSRF).
    page_login(client, region.counties["xq"].supervisor.phone, PIN)
    assert client.get("/dashboard").status_code == 200
    assert_error(client.get("/api/v1/elders"), 401, "unauthorized")
    assert_error(client.post("/api/v1/cases/1/ack"), 401, "unauthorized")


def test_a_bearer_token_does_not_open_the_pages(client: FlaskClient, region: Region) -> None:
    headers = api_token(client, region.counties["xq"].supervisor.phone, PIN)
    response = client.get("/elders", headers=headers)
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_forbidden_and_not_found_have_the_error_shape(client: FlaskClient, region: Region) -> None:
    worker = api_token(client, region.counties["xq"].workers[0].phone, PIN)
    assert_error(client.get("/api/v1/workers", headers=worker), 403, "forbidden")
    assert_error(client.get("/api/v1/reports/completion", headers=worker), 403, "forbidden")
    supervisor = api_token(client, region.counties["xq"].supervisor.phone, PIN)
    for url in (
        "/api/v1/elders/999999",
        "/api/v1/visits/999999",
        "/api/v1/cases/999999",
        "/api/v1/workers/999999",
        "/api/v1/reports/completion?area=NOPE",
        "/api/v1/elders?area=NOPE",
    ):
        assert_error(client.get(url, headers=supervisor), 404, "not_found")
    assert_error(client.get("/api/v1/no-such-thing", headers=supervisor), 404, "not_found")
    assert_error(client.delete("/api/v1/elders", headers=supervisor), 405, "method_not_allowed")


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/api/v1/visits?month=2026-13", "month"),
        ("/api/v1/visits?month=26-01", "month"),
        ("/api/v1/reports/completion?month=2026-13", "month"),
        ("/api/v1/visits?status=late", "status"),
        ("/api/v1/cases?status=closed", "status"),
        ("/api/v1/cases?kind=gossip", "kind"),
        ("/api/v1/elders?tier=extreme", "tier"),
        ("/api/v1/elders?limit=lots", "limit"),
        ("/api/v1/elders?limit=0", "limit"),
    ],
)
def test_a_bad_query_is_422_naming_the_field(
    url: str, field: str, client: FlaskClient, region: Region
) -> None:
    headers = api_token(client, region.counties["xq"].supervisor.phone, PIN)
    error = assert_error(client.get(url, headers=headers), 422, "invalid")
    assert field in error["fields"] and error["fields"][field]


def test_bad_bodies_and_conflicts_have_the_error_shape(
    client: FlaskClient, region: Region, session: Session
) -> None:
    headers = api_token(client, region.counties["xq"].supervisor.phone, PIN)
    case_id = session.scalar(select(Case.id))
    url = f"/api/v1/cases/{case_id}/resolve"
    assert_error(client.post(url, headers=headers, data="note"), 400, "bad_request")
    error = assert_error(client.post(url, headers=headers, json={"note": " "}), 422, "invalid")
    assert "note" in error["fields"]
    assert client.post(url, headers=headers, json={"note": "电话回访，已解决"}).status_code == 200
    assert_error(client.post(url, headers=headers, json={"note": "again"}), 409, "conflict")
    error = assert_error(client.post("/api/v1/auth/token", json={"pin": PIN}), 422, "invalid")
    assert "phone" in error["fields"]
    assert_error(
        client.post("/api/v1/auth/token", json={"phone": region.admin.phone, "pin": "999999"}),
        401,
        "invalid_credentials",
    )


def test_every_api_route_is_in_the_openapi_document(app: Flask, client: FlaskClient) -> None:
    document = client.get("/api/v1/openapi.json").get_json()
    documented = {
        (method.upper(), path) for path, item in document["paths"].items() for method in item
    }
    missing = [
        f"{method} {rule}"
        for method, rule in api_routes(app)
        if rule != "/api/v1/openapi.json"
        and (method, re.sub(r"<(?:\w+:)?\w+>", "{id}", rule.removeprefix("/api/v1")))
        not in documented
    ]
    assert not missing, f"not in /api/v1/openapi.json: {missing}"

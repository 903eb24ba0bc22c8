"""Signing in and out: PINs, lockout, bearer tokens, page sessions."""

from __future__ import annotations

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from tests.factories import PIN, build_region
from tests.helpers import csrf_token, page_login


def _token(client: FlaskClient, phone: str, pin: str = PIN) -> str:
    response = client.post("/api/v1/auth/token", json={"phone": phone, "pin": pin})
    assert response.status_code == 200, response.get_json()
    token: str = response.get_json()["token"]
    return token


def test_pin_login_gives_a_token_that_logout_revokes(client: FlaskClient, session: Session) -> None:
    region = build_region(session)
    session.commit()
    worker = region.counties["xq"].workers[0]
    token = _token(client, worker.phone[3:])  # typed without +86
    headers = {"Authorization": f"Bearer {token}"}
    me = client.get("/api/v1/me", headers=headers)
    assert me.status_code == 200
    assert me.get_json()["user"]["external_id"] == worker.external_id
    assert client.post("/api/v1/auth/logout", headers=headers).status_code == 200
    again = client.get("/api/v1/me", headers=headers)
    assert again.status_code == 401
    assert again.get_json()["error"]["code"] == "unauthorized"


def test_wrong_pin_locks_the_login_after_five_failures(
    client: FlaskClient, session: Session
) -> None:
    region = build_region(session)
    session.commit()
    phone = region.counties["xq"].workers[0].phone
    for _ in range(4):
        bad = client.post("/api/v1/auth/token", json={"phone": phone, "pin": "000000"})
        assert bad.status_code == 401
    locked = client.post("/api/v1/auth/token", json={"phone": phone, "pin": "000000"})
    assert locked.status_code == 429
    assert int(locked.headers["Retry-After"]) > 60
    # even the right PIN is refused while locked
    right = client.post("/api/v1/auth/token", json={"phone": phone, "pin": PIN})
    assert right.status_code == 429


def test_page_session_ends_at_logout(client: FlaskClient, session: Session) -> None:
    region = build_region(session)
    session.commit()
    sup = region.counties["xq"].supervisor
    page_login(client, sup.phone, PIN)
    cookie = client.get_cookie("tanfang_session")
    assert cookie is not None and cookie.http_only and cookie.same_site == "Lax"
    assert client.get("/dashboard").status_code == 200
    client.post("/logout", data={"csrf_token": csrf_token(client, "/dashboard")})
    # replaying the old cookie does not bring the session back
    client.set_cookie("tanfang_session", cookie.value)
    assert client.get("/dashboard").status_code == 302


def test_healthz_answers_ok(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_logout_without_csrf_token_is_refused(client: FlaskClient, session: Session) -> None:
    region = build_region(session)
    session.commit()
    page_login(client, region.counties["xq"].supervisor.phone, PIN)
    assert client.post("/logout").status_code == 400
    assert client.get("/dashboard").status_code == 200

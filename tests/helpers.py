"""Helpers for tests that drive the pages and the API like a person would."""

from __future__ import annotations

from flask.testing import FlaskClient


def csrf_token(client: FlaskClient, path: str = "/login") -> str:
    """The CSRF token a page's form carries (forms must send it back)."""
    import re

    html = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def page_login(client: FlaskClient, phone: str, pin: str) -> None:
    """Sign in to the pages through the login form."""
    token = csrf_token(client)
    response = client.post("/login", data={"phone": phone, "pin": pin, "csrf_token": token})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]


def api_token(client: FlaskClient, phone: str, pin: str) -> dict[str, str]:
    """Sign in to the API; the Authorization header to send."""
    response = client.post("/api/v1/auth/token", json={"phone": phone, "pin": pin})
    assert response.status_code == 200, response.get_json()
    return {"Authorization": f"Bearer {response.get_json()['token']}"}

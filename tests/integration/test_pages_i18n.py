"""Pages speak the person's language: their own setting, then the browser's, then the default."""

from __future__ import annotations

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from tests.factories import PIN, build_region
from tests.helpers import page_login


def test_login_page_defaults_to_chinese(client: FlaskClient) -> None:
    html = client.get("/login").get_data(as_text=True)
    assert "登录" in html and 'lang="zh-CN"' in html


def test_login_page_follows_accept_language(client: FlaskClient) -> None:
    html = client.get("/login", headers={"Accept-Language": "en-US,en;q=0.9"}).get_data(
        as_text=True
    )
    assert "Sign in" in html and "登录" not in html


def test_signed_in_persons_locale_beats_the_browser(client: FlaskClient, session: Session) -> None:
    region = build_region(session)
    supervisor = region.counties["xq"].supervisor
    supervisor.locale = "en"
    session.commit()
    page_login(client, supervisor.phone, PIN)
    html = client.get("/dashboard", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert "Dashboard" in html and "Needs attention" in html


def test_dashboard_in_chinese_formats_numbers_with_babel(
    client: FlaskClient, session: Session
) -> None:
    region = build_region(session)
    session.commit()
    page_login(client, region.counties["jf"].supervisor.phone, PIN)
    html = client.get("/dashboard").get_data(as_text=True)
    assert "工作台" in html and "需要关注" in html
    assert "目标 100%" in html

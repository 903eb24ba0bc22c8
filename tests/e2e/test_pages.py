"""The staff pages in a real browser: a county supervisor signs in, reads the dashboard, and
works a psychological-support case from the list to its resolution; the agency's social worker
sees the same case, and the other county's supervisor does not."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from server.db import utcnow
from server.models import Case, CaseEvent, Visit
from server.services.months import current_month
from tests.e2e.conftest import LiveServer
from tests.factories import PIN, Region, build_region, make_visit
from tests.helpers import api_token

DESK = {"width": 1280, "height": 800}


@pytest.fixture
def desk(browser: Any, live_server: LiveServer) -> Iterator[Any]:
    """A desktop browser in Chinese; any script error fails the test."""
    context = browser.new_context(
        base_url=live_server.url, viewport=DESK, locale="zh-CN", timezone_id="Asia/Shanghai"
    )
    context.set_default_timeout(15000)
    errors: list[str] = []
    context.on("weberror", lambda error: errors.append(str(error.error)))
    try:
        yield context
    finally:
        context.close()
    assert not errors, errors


def sign_in(page: Any, phone: str) -> None:
    page.goto("/dashboard")  # not signed in: the login page, which comes back here
    page.fill('input[name="phone"]', phone)
    page.fill('input[name="pin"]', PIN)
    page.click('button[type="submit"]')
    page.wait_for_url("**/dashboard")


@pytest.mark.browser
def test_a_supervisor_works_a_case_from_the_dashboard_to_its_resolution(
    session: Session, client: FlaskClient, desk: Any, artifacts: Path
) -> None:
    region: Region = build_region(session)
    xq = region.counties["xq"]
    month = current_month(ZoneInfo("Asia/Shanghai"))
    worker = xq.workers[0]
    elder = next(e for e in xq.elders if e.primary_contact_id == worker.id)
    visits = [make_visit(session, e, worker, month) for e in xq.elders]
    visit = next(v for v in visits if v.elder_id == elder.id)
    session.commit()

    # The worker records a visit whose PHQ-2 answers open a psychological-support case.
    headers = api_token(client, worker.phone, PIN)
    answer = client.post(
        f"/api/v1/visits/{visit.id}/checkins",
        headers=headers,
        json={
            "client_id": "pages-1",
            "occurred_at": utcnow().isoformat(),
            "outcome": "seen",
            "mood": 2,
            "phq2_interest": 2,
            "phq2_mood": 2,
            "note": "老伴去世后一直睡不好",
        },
    )
    assert answer.status_code == 201, answer.get_json()
    case = session.scalar(select(Case).where(Case.elder_id == elder.id))
    assert case is not None and case.kind == "psych_support"

    page = desk.new_page()
    sign_in(page, xq.supervisor.phone)
    dashboard = page.inner_text("main")
    assert "工作台" in page.title() or "工作台" in dashboard
    assert "目标 100%" in dashboard
    page.screenshot(path=str(artifacts / "dashboard-1280x800.png"), full_page=True)

    page.goto("/cases")
    row = page.locator("tr", has_text=elder.code)
    assert row.count() == 1
    row.locator("a.case-link").click()
    page.wait_for_selector("#actions")
    assert elder.code in page.inner_text("main")
    page.click('form[action$="/ack"] button')
    page.wait_for_selector("text=个案已确认")
    page.fill('form[action$="/notes"] textarea', "已电话联系老人，约定周三上门")
    page.click('form[action$="/notes"] button')
    page.wait_for_selector("text=已电话联系老人，约定周三上门")

    # Resolving needs a note: the browser itself refuses an empty one (required).
    page.click('form[action$="/resolve"] button')
    assert page.url.endswith(f"/cases/{case.id}")
    page.fill('form[action$="/resolve"] textarea', "社工已上门两次，情绪好转，转入常规探访")
    page.click('form[action$="/resolve"] button')
    page.wait_for_selector("text=个案已解决")
    page.screenshot(path=str(artifacts / "case-resolved-1280x800.png"), full_page=True)

    session.expire_all()
    case = session.get(Case, case.id)
    assert case is not None and case.status == "resolved"
    assert case.resolution_note == "社工已上门两次，情绪好转，转入常规探访"
    assert case.acknowledged_by_id == xq.supervisor.id
    kinds = [e.kind for e in session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id))]
    assert "note" in kinds and "resolved" in kinds
    timeline = page.inner_text("ol.timeline")
    assert "已安排回访" in timeline and "follow_up" not in timeline
    # A resolved psychological-support case brings a follow-up visit.
    follow_up = session.scalars(
        select(Visit).where(Visit.elder_id == elder.id, Visit.id != visit.id)
    ).all()
    assert follow_up, "no follow-up visit after the case was resolved"

    # The other county's supervisor does not see the case, even by its address.
    other = desk.new_page()
    desk.clear_cookies()
    sign_in(other, region.counties["jf"].supervisor.phone)
    other.goto("/cases?status=resolved")
    assert elder.code not in other.inner_text("main")
    response = other.goto(f"/cases/{case.id}")
    assert response is not None and response.status == 404

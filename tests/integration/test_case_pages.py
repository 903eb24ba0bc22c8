"""Pages for working cases (issue 6 item 6): the list by priority and age, one case with the
elder's recent visits, messages and timeline, and acknowledge, note, reassign and resolve
through forms, in Chinese and English, never across a county's border."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from babel.dates import format_datetime
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from server.db import utcnow
from server.i18n import mask_name
from server.models import AuditEntry, Case, CaseEvent, Elder, SmsMessage, Worker
from server.services.months import current_month
from tests.factories import PIN, Region, build_region, make_visit
from tests.helpers import csrf_token, page_login

TZ = ZoneInfo("Asia/Shanghai")


def add_case(
    session: Session,
    elder: Elder,
    kind: str,
    priority: str,
    *,
    agency_id: int | None = None,
    owner: Worker | None = None,
    age: timedelta = timedelta(hours=1),
    ack_in: timedelta = timedelta(hours=1),
    status: str = "open",
) -> Case:
    """A case about `elder` opened `age` ago, with its `opened` event."""
    opened = utcnow() - age
    case = Case(
        elder_id=elder.id,
        kind=kind,
        priority=priority,
        status=status,
        trigger="elder_reply",
        agency_id=agency_id,
        owner_id=owner.id if owner else None,
        created_at=opened,
        ack_due_at=opened + ack_in,
        open_key=f"{elder.id}:{kind}",
    )
    if status == "acknowledged":
        case.acknowledged_at = opened + timedelta(minutes=5)
    session.add(case)
    session.flush()
    session.add(CaseEvent(case_id=case.id, at=opened, kind="opened", data={"trigger": "checkin"}))
    return case


@dataclass
class Cases:
    """The test region with cases in both counties."""

    region: Region
    # xq, in the order a supervisor must see them: priority first, then the oldest
    xq: list[Case]
    jf: Case


@pytest.fixture
def cases(session: Session) -> Cases:
    region = build_region(session)
    xq, jf = region.counties["xq"], region.counties["jf"]
    e = xq.elders
    normal_old = add_case(session, e[0], "help", "normal", age=timedelta(days=3))
    urgent_new = add_case(
        session, e[1], "crisis", "urgent", agency_id=xq.home.id, age=timedelta(minutes=20)
    )
    high_older = add_case(
        session,
        e[2],
        "psych_support",
        "high",
        agency_id=xq.home.id,
        owner=xq.social_worker,
        age=timedelta(days=2),
        ack_in=timedelta(hours=72),
    )
    high_newer = add_case(
        session,
        e[3],
        "unreachable",
        "high",
        agency_id=xq.agency.id,
        owner=xq.supervisor,
        age=timedelta(hours=5),
        status="acknowledged",
    )
    # created first, but resolved: not on the list
    done = add_case(session, e[3], "help", "low", age=timedelta(days=9))
    done.status, done.resolved_at, done.open_key = "resolved", utcnow(), None
    done.resolution_note = "已处理"
    theirs = add_case(session, jf.elders[0], "crisis", "urgent", agency_id=jf.home.id)
    session.commit()
    return Cases(region, [urgent_new, high_older, high_newer, normal_old], theirs)


def signed_in(app: Flask, worker: Worker) -> FlaskClient:
    """A page session of `worker`."""
    client = app.test_client()
    page_login(client, worker.phone, PIN)
    return client


def html_of(client: FlaskClient, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return response.get_data(as_text=True)


def post_form(client: FlaskClient, case: Case, action: str, **fields: str) -> Any:
    """Submit one of the case page's forms the way a browser does, CSRF token included."""
    token = csrf_token(client, f"/cases/{case.id}")
    return client.post(f"/cases/{case.id}/{action}", data={"csrf_token": token, **fields})


def linked_cases(html: str) -> list[int]:
    """The case ids of the list's rows, top to bottom."""
    ids = re.findall(r'class="case-link" href="/cases/(\d+)"', html)
    return [int(i) for i in ids]


def stored(session: Session, case: Case) -> Case:
    """The case as the database has it now."""
    session.expire_all()
    found = session.get(Case, case.id)
    assert found is not None
    return found


def case_rows(engine: Engine) -> list[tuple[Any, ...]]:
    """Every case and event row, read on a fresh connection."""
    with engine.connect() as conn:
        return [
            *(tuple(r) for r in conn.execute(select(Case.__table__).order_by(Case.id))),
            *(tuple(r) for r in conn.execute(select(CaseEvent.__table__).order_by(CaseEvent.id))),
        ]


# --------------------------------------------------------------------------- the list


def test_a_supervisor_sees_their_countys_cases_by_priority_then_age(
    app: Flask, cases: Cases
) -> None:
    xq = cases.region.counties["xq"]
    html = html_of(signed_in(app, xq.supervisor), "/cases")
    assert linked_cases(html) == [c.id for c in cases.xq]
    assert cases.jf.elder.code not in html
    # agency, owner, and the elder's name masked: a supervisor does not serve these elders
    assert xq.home.name in html and xq.social_worker.name in html
    for case in cases.xq:
        assert case.elder.code in html
        assert mask_name(case.elder.name) in html


def test_the_list_highlights_a_passed_acknowledgement_deadline(
    app: Flask, session: Session, cases: Cases
) -> None:
    late = add_case(
        session,
        cases.region.counties["xq"].elders[0],
        "unreachable",
        "low",
        age=timedelta(hours=3),
        ack_in=timedelta(hours=1),
    )
    session.commit()
    html = html_of(signed_in(app, cases.region.counties["xq"].supervisor), "/cases")
    rows = re.findall(r'<tr class="([^"]*)">(.*?)</tr>', html, re.S)
    late_rows = [body for cls, body in rows if cls == "late"]
    # open and past the deadline: the new one and the three-day-old help request; an
    # acknowledged case is never late, however old
    assert sorted(linked_cases("".join(late_rows))) == sorted([late.id, cases.xq[3].id])
    assert all("已超时" in row for row in late_rows)


def test_the_list_filters_by_status_and_kind(app: Flask, cases: Cases) -> None:
    client = signed_in(app, cases.region.counties["xq"].supervisor)
    urgent_new, high_older, high_newer, normal_old = cases.xq
    assert linked_cases(html_of(client, "/cases?status=acknowledged")) == [high_newer.id]
    assert linked_cases(html_of(client, "/cases?status=open")) == [
        urgent_new.id,
        high_older.id,
        normal_old.id,
    ]
    assert linked_cases(html_of(client, "/cases?kind=crisis")) == [urgent_new.id]
    assert linked_cases(html_of(client, "/cases?status=open&kind=unreachable")) == []
    resolved = html_of(client, "/cases?status=resolved")
    assert len(linked_cases(resolved)) == 1 and "已解决" in resolved
    # an unknown filter value is ignored, not an error
    assert linked_cases(html_of(client, "/cases?status=bogus&kind=x")) == [c.id for c in cases.xq]


def test_agency_staff_see_the_cases_routed_to_their_agency(
    app: Flask, cases: Cases, session: Session
) -> None:
    xq = cases.region.counties["xq"]
    client = signed_in(app, xq.social_worker)
    urgent_new, high_older, high_newer, normal_old = cases.xq
    assert linked_cases(html_of(client, "/cases")) == [urgent_new.id, high_older.id]
    # their case's page names the elder in full; that read is audited
    page = html_of(client, f"/cases/{high_older.id}")
    assert high_older.elder.name in page and str(high_older.elder.phone) in page
    audit = session.scalars(select(AuditEntry).where(AuditEntry.action == "read_elder")).all()
    assert [(a.actor_id, a.object_id) for a in audit] == [
        (xq.social_worker.id, str(high_older.elder_id))
    ]
    for other in (high_newer, normal_old, cases.jf):
        assert client.get(f"/cases/{other.id}").status_code == 404


def test_the_elders_own_contact_sees_the_name_in_the_list(app: Flask, cases: Cases) -> None:
    normal_old = cases.xq[3]
    contact = normal_old.elder.primary_contact
    assert contact is not None
    html = html_of(signed_in(app, contact), "/cases")
    assert normal_old.id in linked_cases(html)
    assert normal_old.elder.name in html


# --------------------------------------------------------------------------- scoping


def test_another_countys_case_is_not_found_and_cannot_be_touched(
    app: Flask, cases: Cases, engine: Engine
) -> None:
    xq = cases.region.counties["xq"]
    jf = cases.region.counties["jf"]
    client = signed_in(app, xq.supervisor)
    before = case_rows(engine)
    response = client.get(f"/cases/{cases.jf.id}")
    assert response.status_code == 404
    assert cases.jf.elder.code not in response.get_data(as_text=True)
    token = csrf_token(client, "/cases")
    for action, fields in (
        ("ack", {}),
        ("notes", {"note": "越权备注"}),
        ("reassign", {"owner": str(jf.social_worker.id)}),
        ("resolve", {"note": "越权关闭"}),
    ):
        response = client.post(
            f"/cases/{cases.jf.id}/{action}", data={"csrf_token": token, **fields}
        )
        assert response.status_code == 404, action
    assert case_rows(engine) == before


def test_a_form_without_its_csrf_token_is_refused(app: Flask, cases: Cases, engine: Engine) -> None:
    client = signed_in(app, cases.region.counties["xq"].supervisor)
    case = cases.xq[0]
    before = case_rows(engine)
    for action, fields in (
        ("ack", {}),
        ("notes", {"note": "备注"}),
        ("resolve", {"note": "已解决"}),
        ("reassign", {"owner": str(cases.region.counties["xq"].social_worker.id)}),
    ):
        assert client.post(f"/cases/{case.id}/{action}", data=fields).status_code == 400
        forged = {"csrf_token": "forged", **fields}
        assert client.post(f"/cases/{case.id}/{action}", data=forged).status_code == 400
    assert case_rows(engine) == before


def test_signed_out_people_are_sent_to_the_login(client: FlaskClient, cases: Cases) -> None:
    response = client.get(f"/cases/{cases.xq[0].id}")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


# --------------------------------------------------------------------------- working a case


def test_acknowledge_note_reassign_and_resolve_through_the_forms(
    app: Flask, cases: Cases, session: Session
) -> None:
    xq = cases.region.counties["xq"]
    sup = xq.supervisor
    client = signed_in(app, sup)
    case = cases.xq[0]  # the crisis at the street's Warm Heart Home, no owner yet

    response = post_form(client, case, "ack")
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/cases/{case.id}")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "个案已确认。" in page
    now = stored(session, case)
    assert (now.status, now.acknowledged_by_id, now.owner_id) == ("acknowledged", sup.id, sup.id)
    # acknowledged: the acknowledge form is gone, the others remain
    assert f"/cases/{case.id}/ack" not in page and f"/cases/{case.id}/resolve" in page

    response = post_form(client, case, "notes", note="  已电话联系老人，情绪稳定。 ")
    assert response.status_code == 302
    assert "已添加备注。" in client.get(f"/cases/{case.id}").get_data(as_text=True)

    # Hand it to the home's social worker, who may see it (agency staff); they are told by SMS.
    page = html_of(client, f"/cases/{case.id}")
    choices = re.findall(r'<option value="(\d+)"', page)
    assert str(xq.social_worker.id) in choices and str(sup.id) not in choices
    assert str(cases.region.counties["jf"].social_worker.id) not in choices
    response = post_form(
        client, case, "reassign", owner=str(xq.social_worker.id), note="社工明天上门"
    )
    assert response.status_code == 302
    assert xq.social_worker.name in client.get(f"/cases/{case.id}").get_data(as_text=True)
    assert stored(session, case).owner_id == xq.social_worker.id
    told = session.scalars(select(SmsMessage).where(SmsMessage.case_id == case.id)).all()
    assert [(m.worker_id, m.template) for m in told] == [
        (xq.social_worker.id, "case_notify_supervisor")
    ]
    assert "社工明天上门" not in str(told[0].params)

    response = post_form(client, case, "resolve", note="社工上门疏导，已联系家属陪伴。")
    assert response.status_code == 302
    page = client.get(f"/cases/{case.id}").get_data(as_text=True)
    assert "个案已解决。" in page
    done = stored(session, case)
    assert (done.status, done.resolved_by_id, done.open_key) == ("resolved", sup.id, None)
    assert done.resolution_note == "社工上门疏导，已联系家属陪伴。"

    # The timeline: who did what, in order.
    timeline = [(e.kind, e.actor_id, e.note) for e in done.events]
    assert timeline == [
        ("opened", None, None),
        ("acknowledged", sup.id, None),
        ("note", sup.id, "已电话联系老人，情绪稳定。"),
        ("reassigned", sup.id, "社工明天上门"),
        ("notified", None, None),
        ("resolved", sup.id, "社工上门疏导，已联系家属陪伴。"),
    ]
    reassigned = done.events[3]
    assert reassigned.data == {"from": sup.id, "to": xq.social_worker.id}
    # A resolved case shows its resolution and no forms.
    assert "处理结果" in page and "社工上门疏导，已联系家属陪伴。" in page
    assert f"从{sup.name}转给{xq.social_worker.name}" in page
    for action in ("ack", "notes", "reassign", "resolve"):
        assert f"/cases/{case.id}/{action}" not in page
    assert 'name="csrf_token"' not in page.split("<main>")[1]


def test_resolving_without_a_note_is_refused_with_a_clear_message(
    app: Flask, cases: Cases, engine: Engine
) -> None:
    client = signed_in(app, cases.region.counties["xq"].supervisor)
    case = cases.xq[1]
    before = case_rows(engine)
    for note in ("", "   "):
        response = post_form(client, case, "resolve", note=note)
        assert response.status_code == 422
        html = response.get_data(as_text=True)
        assert "必须填写处理情况才能结案" in html
        assert f"/cases/{case.id}/resolve" in html  # the form is there to try again
    assert case_rows(engine) == before


def test_reassigning_to_someone_who_may_not_see_the_case_is_refused(
    app: Flask, cases: Cases, engine: Engine
) -> None:
    client = signed_in(app, cases.region.counties["xq"].supervisor)
    case = cases.xq[1]
    before = case_rows(engine)
    for owner in (str(cases.region.counties["jf"].supervisor.id), "", "999999", "abc"):
        response = post_form(client, case, "reassign", owner=owner, note="转给别人")
        assert response.status_code == 422, owner
        html = response.get_data(as_text=True)
        assert "转给别人" in html  # what was typed is kept
    assert case_rows(engine) == before


def test_an_empty_note_is_refused(app: Flask, cases: Cases, engine: Engine) -> None:
    client = signed_in(app, cases.region.counties["xq"].supervisor)
    before = case_rows(engine)
    response = post_form(client, cases.xq[1], "notes", note=" ")
    assert response.status_code == 422 and "请先填写备注" in response.get_data(as_text=True)
    assert case_rows(engine) == before


def test_acting_on_a_case_resolved_meanwhile_changes_nothing(
    app: Flask, cases: Cases, session: Session, engine: Engine
) -> None:
    client = signed_in(app, cases.region.counties["xq"].supervisor)
    case = cases.xq[3]
    token = csrf_token(client, f"/cases/{case.id}")
    # resolved in another tab while this page is still open
    assert post_form(client, case, "resolve", note="已在另一页处理").status_code == 302
    before = case_rows(engine)
    for action, fields in (
        ("ack", {}),
        ("notes", {"note": "晚到的备注"}),
        ("reassign", {"owner": str(cases.region.counties["xq"].social_worker.id)}),
        ("resolve", {"note": "再次"}),
    ):
        response = client.post(f"/cases/{case.id}/{action}", data={"csrf_token": token, **fields})
        assert response.status_code == 302
        assert "已经结案" in client.get(response.headers["Location"]).get_data(as_text=True)
    assert case_rows(engine) == before


# --------------------------------------------------------------------------- in two languages


def months_back(n: int) -> str:
    """The month `n` months before this one, YYYY-MM."""
    year, month = (int(p) for p in current_month(TZ).split("-"))
    y, m = divmod(year * 12 + month - 1 - n, 12)
    return f"{y}-{m + 1:02d}"


@pytest.fixture
def detailed(cases: Cases, session: Session) -> Case:
    """The psych_support case with visits, messages and a timeline worth reading."""
    case = cases.xq[1]
    elder = case.elder
    worker = elder.primary_contact
    seen = make_visit(session, elder, worker, current_month(TZ))
    seen.status, seen.outcome = "done", "seen"
    make_visit(session, elder, worker, months_back(4))  # not recent: not shown
    at = datetime(2026, 1, 5, 1, 30, tzinfo=UTC)  # 09:30 in Yinchuan
    recent = utcnow() - timedelta(days=2)
    session.add_all(
        [
            SmsMessage(
                direction="out",
                phone=str(elder.phone),
                elder_id=elder.id,
                template="elder_wellness_check",
                params={},
                locale="zh_CN",
                body="【暖心探访】自动问候正文不应出现",
                status="delivered",
                created_at=recent,
            ),
            SmsMessage(
                direction="in",
                phone=str(elder.phone),
                elder_id=elder.id,
                body="我最近晚上睡不着",
                status="received",
                created_at=recent + timedelta(minutes=3),
            ),
        ]
    )
    case.created_at = at
    case.events[0].at = at
    session.add(
        CaseEvent(
            case_id=case.id,
            at=at + timedelta(minutes=1),
            kind="notified",
            data={
                "to": [
                    {"agency_id": case.agency_id, "to": "agency"},
                    {
                        "worker_id": cases.region.counties["xq"].social_worker.id,
                        "to": "agency_staff",
                    },
                ]
            },
        )
    )
    session.commit()
    return case


def test_the_case_page_in_chinese(app: Flask, cases: Cases, detailed: Case) -> None:
    xq = cases.region.counties["xq"]
    html = html_of(signed_in(app, xq.supervisor), f"/cases/{detailed.id}")
    elder = detailed.elder
    assert 'lang="zh-CN"' in html
    for text in ("心理疏导", "高", "待处理", xq.home.name, xq.social_worker.name, "确认期限"):
        assert text in html, text
    # the elder in full (the supervisor may see them), visits and messages
    assert elder.code in html and elder.name in html and str(elder.address) in html
    assert "近3个月的探访" in html and "见到本人" in html and current_month(TZ) in html
    assert months_back(4) not in html
    assert "自动问候正文不应出现" not in html  # automated bodies are never shown
    assert "平安问候" in html and "我最近晚上睡不着" in html and "已送达" in html
    # the timeline, times in the local zone and the reader's locale
    opened = format_datetime(detailed.created_at, "short", tzinfo=TZ, locale="zh_CN")
    assert "09:30" in opened and opened in html
    assert "个案已创建" in html and "探访签到" in html
    assert f"{xq.home.name}（机构值班电话）" in html
    assert "探访系统（自动）" in html
    for form in ("确认接收", "添加备注", "转交", "结案"):
        assert form in html, form


def test_the_case_page_in_english(
    app: Flask, cases: Cases, detailed: Case, session: Session
) -> None:
    xq = cases.region.counties["xq"]
    xq.supervisor.locale = "en"
    session.commit()
    html = html_of(signed_in(app, xq.supervisor), f"/cases/{detailed.id}")
    assert 'lang="en"' in html
    for text in (
        "Psychological support",
        "High",
        "Open",
        "Acknowledge by",
        "Visits in the last 3 months",
        "Seen",
        "Wellness check",
        "Reply",
        "From the elder",
        "Delivered",
        "Timeline",
        "Case opened",
        "Visit check-in",
        "People notified",
        "agency duty phone",
        "Tanfang (automatic)",
        "Acknowledge",
        "Add a note",
        "Reassign",
        "Resolve the case",
    ):
        assert text in html, text
    opened = format_datetime(detailed.created_at, "short", tzinfo=TZ, locale="en")
    assert opened in html
    assert "自动问候正文不应出现" not in html and "我最近晚上睡不着" in html
    assert "个案" not in html and "确认" not in html  # nothing left in Chinese but the data

"""Escalation rules end to end: signals open the right cases, deadlines escalate them, and
quiet elders get an extra visit."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from scheduler import tasks
from server.app import create_app
from server.config import Config, ConfigError
from server.models import Case, CaseEvent, CheckIn, SmsMessage, Visit, WorkerLeave
from server.runtime import Runtime
from server.services.checkins import CheckInInput, record_checkin
from server.services.followups import after_checkin
from server.services.rules import load_rules
from server.services.signals import signal
from server.services.sms.notices import send_wellness_checks
from tests.factories import Region, build_region, make_visit, make_worker

TZ = Config().tz
T0 = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)  # Monday 10:00 in Ningxia


def _region(session: Session) -> Region:
    region = build_region(session)
    # a city-level supervisor above both counties, for the second escalation
    make_worker(session, "SUP-city", "银川市督导", "supervisor", [region.city], capacity=0)
    session.commit()
    return region


def test_a_bad_rule_stops_start_up_naming_file_rule_and_problem(
    config: Config, tmp_path: Path
) -> None:
    bad = tmp_path / "rules.toml"
    bad.write_text(
        '[[rule]]\nname = "sad"\ntrigger = "checkin"\nwhen = { mood_below = 2 }\n'
        'kind = "psych_support"\nroute_to = ["agency"]\nack_within = "48h"\n',
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as error:
        create_app(replace(config, rules_path=str(bad)))
    message = str(error.value)
    assert str(bad) in message and "sad" in message and "mood_below" in message
    bad.write_text(
        '[[rule]]\nname = "x"\ntrigger = "checkin"\nkind = "crisis"\n'
        'route_to = ["agency"]\nack_within = "soon"\n',
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match="ack_within"):
        create_app(replace(config, rules_path=str(bad)))


def test_an_unacknowledged_case_goes_to_the_supervisor_then_one_level_up(
    config: Config, session: Session
) -> None:
    region = _region(session)
    county = region.counties["xq"]
    elder = county.elders[0]
    rules = load_rules()
    result = signal(
        session, rules, "elder_reply", elder, {"question": "wellness", "answer": 3}, tz=TZ, now=T0
    )
    session.commit()
    case = result.cases[0].case
    assert (case.kind, case.agency_id) == ("psych_support", county.home.id)
    assert case.ack_due_at == T0 + timedelta(hours=48)
    rt = Runtime.build(config)
    try:
        tasks.escalation_sweep(rt, T0 + timedelta(hours=47))
        session.expire_all()
        assert session.get(Case, case.id).escalation_level == 0  # type: ignore[union-attr]

        tasks.escalation_sweep(rt, T0 + timedelta(hours=49))
        session.expire_all()
        first = session.get(Case, case.id)
        assert first is not None and first.escalation_level == 1
        assert first.owner_id == county.supervisor.id
        escalated_to = session.scalars(
            select(SmsMessage.worker_id).where(SmsMessage.template == "case_escalated")
        ).all()
        assert escalated_to == [county.supervisor.id]

        tasks.escalation_sweep(rt, T0 + timedelta(hours=49 + 49))
        session.expire_all()
        second = session.get(Case, case.id)
        assert second is not None and second.escalation_level == 2
        city = session.scalar(
            select(SmsMessage.worker_id)
            .where(SmsMessage.template == "case_escalated")
            .order_by(SmsMessage.id.desc())
        )
        assert city is not None and city != county.supervisor.id
        kinds = [
            e.kind
            for e in session.scalars(
                select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id)
            )
        ]
        assert kinds.count("escalated") == 2 and kinds[0] == "opened"
    finally:
        rt.dispose()


def test_an_acknowledged_case_is_not_escalated(config: Config, session: Session) -> None:
    region = _region(session)
    elder = region.counties["jf"].elders[0]
    result = signal(
        session, load_rules(), "elder_reply", elder, {"crisis_words": True}, tz=TZ, now=T0
    )
    case = result.cases[0].case
    assert case.priority == "urgent" and case.ack_due_at == T0 + timedelta(hours=1)
    case.status = "acknowledged"
    session.commit()
    rt = Runtime.build(config)
    try:
        tasks.escalation_sweep(rt, T0 + timedelta(hours=5))
    finally:
        rt.dispose()
    session.expire_all()
    assert session.get(Case, case.id).escalation_level == 0  # type: ignore[union-attr]


def _checkin(session: Session, visit: Visit, outcome: str, n: int, now: datetime) -> None:
    worker = visit.worker
    assert worker is not None
    checkin, _ = record_checkin(
        session, visit, worker,
        CheckInInput(client_id=f"c{n}", occurred_at=now, outcome=outcome), "pwa", TZ, now,
    )  # fmt: skip
    after_checkin(session, visit, checkin, worker, now, rules=load_rules(), tz=TZ)


def test_two_visits_in_a_row_with_no_one_seen_make_the_elder_unreachable(
    session: Session,
) -> None:
    region = _region(session)
    county = region.counties["xq"]
    visit = make_visit(session, county.elders[1], county.workers[0], "2026-12")
    _checkin(session, visit, "not_home", 1, T0)
    assert session.scalar(select(func.count()).select_from(Case)) == 0
    _checkin(session, visit, "not_home", 2, T0 + timedelta(days=2))
    case = session.scalar(select(Case))
    assert case is not None and case.kind == "unreachable"
    assert case.owner_id == county.supervisor.id
    assert session.scalar(select(func.count()).select_from(CheckIn)) == 2


def test_no_reply_to_two_wellness_checks_schedules_an_extra_visit(session: Session) -> None:
    region = _region(session)
    elder = region.counties["xq"].elders[0]
    rules = load_rules()
    intervals = {"high": 3, "elevated": 7, "standard": 14}
    kw = {"tz": TZ, "intervals": intervals, "elder_external_id": None, "rules": rules}
    for weeks in (0, 2, 4):
        send_wellness_checks(session, now=T0 + timedelta(weeks=weeks), **kw)  # type: ignore[arg-type]
        session.execute(
            SmsMessage.__table__.update()
            .where(SmsMessage.template == "elder_wellness_check")
            .values(status="delivered")
        )
        session.commit()
    extra = session.scalars(select(Visit).where(Visit.kind == "extra")).all()
    assert {v.elder_id for v in extra} == {e.id for c in region.counties.values() for e in c.elders}
    mine = next(v for v in extra if v.elder_id == elder.id)
    assert mine.worker_id == elder.primary_contact_id
    assert mine.due_date == (T0 + timedelta(weeks=4)).astimezone(TZ).date() + timedelta(days=3)


def test_month_end_opens_an_overdue_case_for_each_elder_not_seen(
    config: Config, session: Session
) -> None:
    region = _region(session)
    county = region.counties["jf"]
    visited = make_visit(session, county.elders[0], county.workers[0], "2026-12")
    make_visit(session, county.elders[1], county.workers[1], "2026-12")
    _checkin(session, visited, "seen", 9, datetime(2026, 12, 10, 2, tzinfo=UTC))
    session.commit()
    rt = Runtime.build(config)
    try:
        tasks.month_end(rt, datetime(2026, 12, 31, 10, 0, tzinfo=UTC))
    finally:
        rt.dispose()
    cases = session.scalars(select(Case).where(Case.kind == "overdue")).all()
    assert [c.elder_id for c in cases] == [county.elders[1].id]


def test_resolving_a_psychological_support_case_schedules_a_follow_up_visit(
    client: object, session: Session
) -> None:
    from flask.testing import FlaskClient

    from tests.factories import PIN
    from tests.helpers import api_token

    assert isinstance(client, FlaskClient)
    region = _region(session)
    county = region.counties["xq"]
    elder = county.elders[1]
    case = (
        signal(
            session,
            load_rules(),
            "elder_reply",
            elder,
            {"question": "wellness", "answer": 3},
            tz=TZ,
            now=T0,
        )
        .cases[0]
        .case
    )
    session.commit()
    headers = api_token(client, county.social_worker.phone, PIN)
    assert client.post(f"/api/v1/cases/{case.id}/ack", headers=headers).status_code == 200
    refused = client.post(f"/api/v1/cases/{case.id}/resolve", json={"note": " "}, headers=headers)
    assert refused.status_code == 422
    done = client.post(
        f"/api/v1/cases/{case.id}/resolve",
        json={"note": "已电话疏导，约好下周再聊"},
        headers=headers,
    )
    assert done.status_code == 200 and done.get_json()["case"]["status"] == "resolved"
    follow_up = session.scalar(select(Visit).where(Visit.kind == "follow_up"))
    assert follow_up is not None and follow_up.elder_id == elder.id
    assert follow_up.worker_id == elder.primary_contact_id
    # a new signal after resolution opens a new case
    again = signal(
        session,
        load_rules(),
        "elder_reply",
        elder,
        {"question": "wellness", "answer": 3},
        tz=TZ,
        now=T0 + timedelta(days=9),
    )
    assert again.cases[0].created and again.cases[0].case.id != case.id


def test_a_case_for_the_primary_contact_goes_to_the_secondary_while_the_primary_is_on_leave(
    session: Session,
) -> None:
    region = _region(session)
    county = region.counties["xq"]
    elder = county.elders[0]
    primary, secondary = county.workers[0], county.workers[1]
    assert (elder.primary_contact_id, elder.secondary_contact_id) == (primary.id, secondary.id)
    session.add(
        WorkerLeave(worker_id=primary.id, starts_on=date(2026, 12, 1), ends_on=date(2026, 12, 31))
    )
    session.commit()
    rules = load_rules()
    for trigger, facts in (
        ("elder_reply", {"question": "wellness", "answer": 2}),  # help, to the contact
        ("elder_reply", {"crisis_words": True}),  # crisis, to agency, contact and supervisor
    ):
        case = signal(session, rules, trigger, elder, facts, tz=TZ, now=T0).cases[0].case
        session.commit()
        told = session.scalars(
            select(SmsMessage.worker_id).where(
                SmsMessage.case_id == case.id, SmsMessage.template == "case_notify_contact"
            )
        ).all()
        assert told == [secondary.id], case.kind
        if case.kind == "help":
            assert case.owner_id == secondary.id

    # back from leave: the primary contact gets the cases again
    after = T0 + timedelta(days=30)
    other = county.elders[1]
    assert other.primary_contact_id == primary.id
    facts = {"question": "wellness", "answer": 2}
    case = signal(session, rules, "elder_reply", other, facts, tz=TZ, now=after).cases[0].case
    session.commit()
    assert case.owner_id == primary.id


def test_with_no_supervisor_over_the_area_an_escalation_reaches_the_administrator(
    config: Config, session: Session
) -> None:
    """An area nobody supervises must not swallow an escalation: the administrator is told
    and owns the case, and a crisis there reaches them from the start."""
    region = build_region(session)
    county = region.counties["xq"]
    county.supervisor.active = False
    session.commit()
    elder = county.elders[0]
    crisis = signal(
        session, load_rules(), "elder_reply", elder, {"crisis_words": True}, tz=TZ, now=T0
    ).cases[0].case
    session.commit()
    told = session.scalars(
        select(SmsMessage.worker_id).where(SmsMessage.template == "case_notify_supervisor")
    ).all()
    assert told == [region.admin.id]

    help_case = signal(
        session, load_rules(), "elder_reply", elder, {"question": "wellness", "answer": 3},
        tz=TZ, now=T0,
    ).cases[0].case  # fmt: skip
    session.commit()
    rt = Runtime.build(config)
    try:
        tasks.escalation_sweep(rt, T0 + timedelta(hours=49))
    finally:
        rt.dispose()
    session.expire_all()
    escalated = session.get(Case, help_case.id)
    assert escalated is not None and escalated.escalation_level == 1
    assert escalated.owner_id == region.admin.id
    assert region.admin.id in session.scalars(
        select(SmsMessage.worker_id).where(SmsMessage.template == "case_escalated")
    ).all()
    assert crisis.id != help_case.id

"""Opening and routing cases: one open case per elder and kind, an owner always, the right
people told by SMS (no health detail in any text), and a deadline to acknowledge.

`Route` is what a rule of the rules file (SPEC section 10, server.services.rules) decides.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from server.db import utcnow
from server.models import Agency, Case, CaseEvent, Elder, Worker, WorkerLeave
from server.services.outbox import enqueue
from server.services.routing import agency_for, agency_staff, supervisors_for


@dataclass(frozen=True)
class Route:
    """What a rule decides for a signal: the case kind and priority, whom to tell, and how
    long they have to acknowledge before it goes to `escalate_to`."""

    rule: str
    kind: str
    priority: str
    notify: tuple[str, ...]
    ack_within: timedelta
    escalate_to: str | None = "supervisor"


@dataclass
class CaseOutcome:
    """The case a signal landed on, whether it was new, and who was told."""

    case: Case
    created: bool
    notified: list[dict[str, Any]] = field(default_factory=list)


def open_key(elder_id: int, kind: str) -> str:
    """The key that keeps one open case per elder and kind."""
    return f"{elder_id}:{kind}"


def raise_signal(
    session: Session,
    elder: Elder,
    route: Route,
    trigger: str,
    *,
    note: str | None = None,
    actor_id: int | None = None,
    data: dict[str, Any] | None = None,
    now: datetime | None = None,
    today: date | None = None,
) -> CaseOutcome:
    """Open a case for `elder` per `route`, or add the signal to the open one of that kind.

    `today` (the local date) lets a primary contact on leave hand the case to the secondary.
    """
    now = now or utcnow()
    key = open_key(elder.id, route.kind)
    existing = session.scalar(select(Case).where(Case.open_key == key))
    if existing is not None:
        session.add(
            CaseEvent(
                case=existing,
                at=now,
                kind="signal",
                actor_id=actor_id,
                note=note,
                data={"trigger": trigger, "rule": route.rule, **(data or {})},
            )
        )
        return CaseOutcome(existing, created=False)

    agency = agency_for(session, elder) if "agency" in route.notify else None
    case = Case(
        elder_id=elder.id,
        kind=route.kind,
        priority=route.priority,
        status="open",
        rule=route.rule,
        trigger=trigger,
        agency_id=agency.id if agency else None,
        owner_id=_owner(session, elder, route, agency, today),
        created_at=now,
        ack_due_at=now + route.ack_within,
        open_key=key,
    )
    try:
        with session.begin_nested():
            session.add(case)
            session.flush()
    except IntegrityError:
        # Another signal opened the same case a moment ago: add to that one instead.
        return raise_signal(
            session,
            elder,
            route,
            trigger,
            note=note,
            actor_id=actor_id,
            data=data,
            now=now,
            today=today,
        )
    session.add(
        CaseEvent(
            case=case,
            at=now,
            kind="opened",
            actor_id=actor_id,
            note=note,
            data={"trigger": trigger, "rule": route.rule, **(data or {})},
        )
    )
    notified = notify_case(session, case, elder, route.notify, agency, now=now, today=today)
    return CaseOutcome(case, created=True, notified=notified)


def case_contact(session: Session, elder: Elder, today: date | None = None) -> Worker | None:
    """The contact who answers for the elder in a case: the primary contact, or the secondary
    while the primary is deactivated or on leave `today` (the primary still, when the
    secondary is away too)."""
    primary, secondary = elder.primary_contact, elder.secondary_contact
    if primary is not None and primary.active and not _on_leave(session, primary, today):
        return primary
    if secondary is not None and secondary.active and not _on_leave(session, secondary, today):
        return secondary
    return primary if primary is not None and primary.active else None


def _on_leave(session: Session, worker: Worker, today: date | None) -> bool:
    if today is None:
        return False
    return (
        session.scalar(
            select(WorkerLeave.id)
            .where(
                WorkerLeave.worker_id == worker.id,
                WorkerLeave.starts_on <= today,
                WorkerLeave.ends_on >= today,
            )
            .limit(1)
        )
        is not None
    )


def _owner(
    session: Session, elder: Elder, route: Route, agency: Agency | None, today: date | None
) -> int | None:
    """Every case has an owner: agency staff, else the elder's contact (the secondary while
    the primary is away), else a supervisor."""
    if agency is not None:
        staff = agency_staff(session, agency)
        if staff:
            return staff[0].id
    contact = case_contact(session, elder, today)
    prefers_contact = "primary_contact" in route.notify or "supervisor" not in route.notify
    if prefers_contact and contact is not None:
        return contact.id
    if prefers_contact and elder.primary_contact_id is not None:
        return elder.primary_contact_id
    supervisors = supervisors_for(session, elder)
    if supervisors:
        return supervisors[0].id
    if contact is not None:
        return contact.id
    if elder.primary_contact_id is not None:
        return elder.primary_contact_id
    admin = session.scalar(
        select(Worker.id).where(Worker.role == "admin", Worker.active.is_(True)).limit(1)
    )
    return admin


def notify_case(
    session: Session,
    case: Case,
    elder: Elder,
    targets: tuple[str, ...],
    agency: Agency | None,
    *,
    levels_up: int = 0,
    now: datetime | None = None,
    today: date | None = None,
) -> list[dict[str, Any]]:
    """Queue the case notices for `targets`; returns who was told (ids, no phones).

    `primary_contact` means the contact who answers for the elder `today` (`case_contact`).
    """
    urgent = case.priority == "urgent"
    told: list[dict[str, Any]] = []
    seen_phones: set[str] = set()

    def send(
        phone: str | None, template: str, locale: str, who: dict[str, Any], params: dict[str, Any]
    ) -> None:
        if not phone or phone in seen_phones:
            return
        seen_phones.add(phone)
        enqueue(
            session,
            phone=phone,
            template=template,
            params=params,
            locale=locale,
            urgent=urgent,
            case_id=case.id,
            elder_id=None,
            worker_id=who.get("worker_id"),
            agency_id=who.get("agency_id"),
        )
        told.append(who)

    base = {"case_id": case.id, "elder_code": elder.code, "priority": case.priority}
    for target in targets:
        if target == "agency" and agency is not None:
            send(
                agency.phone,
                "case_notify_agency",
                "zh_CN",
                {"agency_id": agency.id, "to": "agency"},
                base,
            )
            for staff in agency_staff(session, agency):
                send(
                    staff.phone,
                    "case_notify_agency",
                    staff.locale,
                    {"worker_id": staff.id, "to": "agency_staff"},
                    base,
                )
        elif target == "primary_contact":
            contact = case_contact(session, elder, today)
            if contact is not None:
                send(
                    contact.phone,
                    "case_notify_contact",
                    contact.locale,
                    {"worker_id": contact.id, "to": "primary_contact"},
                    base,
                )
        elif target == "supervisor":
            for sup in supervisors_for(session, elder, levels_up=levels_up):
                send(
                    sup.phone,
                    "case_notify_supervisor",
                    sup.locale,
                    {"worker_id": sup.id, "to": "supervisor"},
                    base,
                )
    if told:
        session.add(CaseEvent(case=case, at=now or utcnow(), kind="notified", data={"to": told}))
    return told


MAX_ESCALATIONS = 3


def escalate_overdue(
    session: Session,
    rules_by_kind: dict[str, Route],
    now: datetime | None = None,
    today: date | None = None,
) -> list[Case]:
    """Cases nobody acknowledged in time go to the next level: the nearest supervisors first
    (or the next level up when supervisors were told from the start), then one level further
    at each further miss. Everyone told before is told again."""
    now = now or utcnow()
    due = session.scalars(
        select(Case)
        .where(Case.status == "open", Case.ack_due_at.is_not(None), Case.ack_due_at < now)
        .order_by(Case.ack_due_at)
        .with_for_update(skip_locked=True)
    ).all()
    escalated = []
    for case in due:
        route = rules_by_kind.get(case.kind)
        if route is None or route.escalate_to is None:
            continue
        if case.escalation_level >= MAX_ESCALATIONS:
            continue
        elder = case.elder
        assert case.ack_due_at is not None
        waited_h = max(1, int((now - case.created_at).total_seconds() // 3600))
        case.escalation_level += 1
        base = 1 if "supervisor" in route.notify else 0
        supervisors = supervisors_for(session, elder, levels_up=base + case.escalation_level - 1)
        urgent = case.priority == "urgent"
        told: list[dict[str, Any]] = []
        for sup in supervisors:
            enqueue(
                session, phone=sup.phone, template="case_escalated", locale=sup.locale,
                params={"case_id": case.id, "elder_code": elder.code, "hours": waited_h},
                urgent=urgent, case_id=case.id, worker_id=sup.id, now=now,
            )  # fmt: skip
            told.append({"worker_id": sup.id, "to": "supervisor"})
        agency = session.get(Agency, case.agency_id) if case.agency_id else None
        told += notify_case(session, case, elder, route.notify, agency, now=now, today=today)
        if supervisors:
            case.owner_id = supervisors[0].id
        case.ack_due_at = now + route.ack_within
        session.add(
            CaseEvent(
                case=case, at=now, kind="escalated",
                data={"level": case.escalation_level, "to": told},
            )
        )  # fmt: skip
        escalated.append(case)
    return escalated

"""Working a case: acknowledge, note, reassign, resolve. Only a person closes a case."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, literal, select
from sqlalchemy.orm import Session

from server.db import utcnow
from server.models import Area, Case, CaseEvent, Worker, WorkerArea
from server.services.outbox import enqueue
from server.services.routing import agency_staff
from server.services.scope import scope_for, visible_case


class CaseError(Exception):
    """A case action that is not allowed in the case's state."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def acknowledge(session: Session, case: Case, actor: Worker, now: datetime | None = None) -> Case:
    """Mark an open case acknowledged by `actor` (idempotent for an acknowledged case)."""
    now = now or utcnow()
    if case.status == "resolved":
        raise CaseError("conflict", "the case is already resolved")
    if case.status == "acknowledged":
        return case
    case.status = "acknowledged"
    case.acknowledged_at = now
    case.acknowledged_by_id = actor.id
    if case.owner_id is None:
        case.owner_id = actor.id
    session.add(CaseEvent(case=case, at=now, kind="acknowledged", actor_id=actor.id))
    return case


def add_note(session: Session, case: Case, actor: Worker, note: str) -> CaseEvent:
    """Add a note to the case's timeline."""
    text = note.strip()
    if not text:
        raise CaseError("invalid", "the note is empty")
    event = CaseEvent(case=case, kind="note", actor_id=actor.id, note=text)
    session.add(event)
    return event


FOLLOW_UP_WITHIN = timedelta(days=7)


def resolve(
    session: Session,
    case: Case,
    actor: Worker,
    note: str,
    now: datetime | None = None,
    *,
    tz: ZoneInfo | None = None,
) -> Case:
    """Close a case with a note; a new signal afterwards opens a new case.

    A resolved psychological-support case gets a follow-up visit by the elder's contact
    within a week (closing a referral triggers a follow-up), counted in `tz`'s calendar.
    """
    now = now or utcnow()
    text = (note or "").strip()
    if not text:
        raise CaseError("invalid", "a note is required to resolve a case")
    if case.status == "resolved":
        raise CaseError("conflict", "the case is already resolved")
    if case.acknowledged_at is None:
        case.acknowledged_at = now
        case.acknowledged_by_id = actor.id
    case.status = "resolved"
    case.resolved_at = now
    case.resolved_by_id = actor.id
    case.resolution_note = text
    case.open_key = None
    session.add(CaseEvent(case=case, at=now, kind="resolved", actor_id=actor.id, note=text))
    if case.kind == "psych_support" and tz is not None:
        from server.services.signals import schedule_extra_visit

        visit = schedule_extra_visit(
            session, case.elder, FOLLOW_UP_WITHIN, f"follow_up:case{case.id}",
            tz=tz, now=now, kind="follow_up",
        )  # fmt: skip
        if visit is not None:
            session.add(
                CaseEvent(case=case, at=now, kind="follow_up", actor_id=actor.id,
                          data={"visit_id": visit.id, "due": visit.due_date.isoformat()})
            )  # fmt: skip
    return case


@dataclass(frozen=True)
class Candidate:
    """Someone a case may be handed to, and why they may take it."""

    worker: Worker
    relation: str  # agency_staff, primary_contact, secondary_contact, supervisor


def reassign_candidates(session: Session, case: Case) -> list[Candidate]:
    """Who may own `case`: its agency's staff, the elder's contacts and the supervisors over
    the elder's area; active, able to see the case, and not its current owner."""
    elder = case.elder
    found: list[Candidate] = []
    if case.agency is not None and case.agency.active:
        found += [Candidate(w, "agency_staff") for w in agency_staff(session, case.agency)]
    for contact, relation in (
        (elder.primary_contact, "primary_contact"),
        (elder.secondary_contact, "secondary_contact"),
    ):
        if contact is not None:
            found.append(Candidate(contact, relation))
    grid_path = session.scalar(select(Area.path).where(Area.id == elder.grid_id)) or ""
    supervisors = session.scalars(
        select(Worker)
        .join(WorkerArea, WorkerArea.worker_id == Worker.id)
        .join(Area, Area.id == WorkerArea.area_id)
        .where(Worker.role == "supervisor", literal(grid_path).startswith(Area.path))
        .order_by(func.length(Area.path).desc(), Worker.id)
    ).all()
    found += [Candidate(w, "supervisor") for w in supervisors]
    allowed: list[Candidate] = []
    seen = {case.owner_id}
    for candidate in found:
        worker = candidate.worker
        if worker.id in seen or not worker.active:
            continue
        seen.add(worker.id)
        # The one definition of who sees a case is the scope; a candidate it does not
        # admit (say, a contact who is an agency's social worker elsewhere) is left out.
        if visible_case(session, scope_for(session, worker), case.id) is not None:
            allowed.append(candidate)
    return allowed


def reassign(
    session: Session,
    case: Case,
    actor: Worker,
    new_owner: Worker,
    note: str | None = None,
    now: datetime | None = None,
) -> Case:
    """Hand `case` to `new_owner` (one of `reassign_candidates`), recording who, why and when;
    the new owner is told by SMS unless they took the case themselves."""
    now = now or utcnow()
    if case.status == "resolved":
        raise CaseError("conflict", "the case is already resolved")
    if new_owner.id == case.owner_id:
        raise CaseError("invalid", "this person already owns the case")
    if new_owner.id not in {c.worker.id for c in reassign_candidates(session, case)}:
        raise CaseError("forbidden", "this person may not take the case")
    previous = case.owner_id
    case.owner_id = new_owner.id
    case.owner = new_owner
    session.add(
        CaseEvent(
            case=case,
            at=now,
            kind="reassigned",
            actor_id=actor.id,
            note=(note or "").strip() or None,
            data={"from": previous, "to": new_owner.id},
        )
    )
    if new_owner.id != actor.id:
        # Names the case and the elder's code only: no health detail in an SMS (SPEC 8).
        enqueue(
            session,
            phone=new_owner.phone,
            template="case_notify_supervisor",
            params={"case_id": case.id, "elder_code": case.elder.code, "priority": case.priority},
            locale=new_owner.locale,
            urgent=case.priority == "urgent",
            case_id=case.id,
            worker_id=new_owner.id,
            now=now,
        )
        session.add(
            CaseEvent(
                case=case,
                at=now,
                kind="notified",
                data={"to": [{"worker_id": new_owner.id, "to": "owner"}]},
            )
        )
    return case

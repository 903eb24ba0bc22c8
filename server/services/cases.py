"""Working a case: acknowledge, note, resolve. Only a person closes a case."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from server.db import utcnow
from server.models import Case, CaseEvent, Worker


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


def resolve(
    session: Session, case: Case, actor: Worker, note: str, now: datetime | None = None
) -> Case:
    """Close a case with a note; a new signal afterwards opens a new case."""
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
    return case

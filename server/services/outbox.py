"""The outbox: the only way a message leaves. Rows are written in the caller's transaction,
so a change that rolls back sends nothing; a dispatcher sends them later."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from server.db import utcnow
from server.models import OutboxItem, SmsMessage


def enqueue(
    session: Session,
    *,
    phone: str,
    template: str,
    params: dict[str, Any],
    locale: str,
    urgent: bool = False,
    not_before: datetime | None = None,
    worker_id: int | None = None,
    elder_id: int | None = None,
    agency_id: int | None = None,
    visit_id: int | None = None,
    case_id: int | None = None,
    question: str | None = None,
    now: datetime | None = None,
) -> SmsMessage:
    """Queue one templated message to `phone`; it is rendered in `locale` when sent."""
    now = now or utcnow()
    message = SmsMessage(
        created_at=now,
        direction="out",
        phone=phone,
        template=template,
        params=params,
        locale=locale,
        status="queued",
        worker_id=worker_id,
        elder_id=elder_id,
        agency_id=agency_id,
        visit_id=visit_id,
        case_id=case_id,
        question=question,
    )
    session.add(message)
    session.flush()
    session.add(OutboxItem(message_id=message.id, urgent=urgent, not_before=not_before or utcnow()))
    return message

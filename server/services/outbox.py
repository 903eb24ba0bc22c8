"""The outbox: the only way a message leaves. Rows are written in the caller's transaction,
so a change that rolls back sends nothing; a dispatcher sends them later."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from server.db import Base, utcnow
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


def enqueue_row(
    connection: Connection,
    *,
    phone: str,
    template: str,
    params: dict[str, Any],
    locale: str,
    worker_id: int | None = None,
    elder_id: int | None = None,
    now: datetime | None = None,
) -> int:
    """`enqueue` for a hot path: the same two rows written with two INSERTs on `connection`
    (the session's, in its transaction), no ORM objects; returns the message id."""
    now = now or utcnow()
    message_id = connection.scalar(
        _INSERT_MESSAGE,
        {
            "created_at": now,
            "direction": "out",
            "phone": phone,
            "template": template,
            "params": params,
            "locale": locale,
            "status": "queued",
            "worker_id": worker_id,
            "elder_id": elder_id,
        },
    )
    assert message_id is not None
    connection.execute(
        _INSERT_ITEM, {"message_id": message_id, "urgent": False, "not_before": utcnow()}
    )
    return int(message_id)


_messages = Base.metadata.tables[SmsMessage.__tablename__]
_INSERT_MESSAGE = insert(_messages).returning(_messages.c.id)
_INSERT_ITEM = insert(Base.metadata.tables[OutboxItem.__tablename__])

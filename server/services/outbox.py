"""The outbox: the only way a message leaves. Rows are written in the caller's transaction,
so a change that rolls back sends nothing; a dispatcher sends them later."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from server.db import Base, DriverStatement, utcnow
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
    """`enqueue` for a hot path: the same two rows, no ORM objects, written on `connection`
    (the session's, in its transaction); one statement on PostgreSQL, two elsewhere. Returns
    the message id."""
    now = now or utcnow()
    message = {
        "created_at": now,
        "direction": "out",
        "phone": phone,
        "template": template,
        "params": params,
        "locale": locale,
        "status": "queued",
        "body": "",  # rendered when it is sent
        "worker_id": worker_id,
        "elder_id": elder_id,
    }
    item = {"urgent": False, "not_before": utcnow(), "state": "pending", "attempts": 0}
    if connection.dialect.name == "postgresql":
        item["item_created_at"] = utcnow()
        message_id = _Q_ENQUEUE_PG.scalar(connection, {**message, **item})
    else:
        message_id = connection.scalar(_INSERT_MESSAGE, message)
        item["created_at"] = utcnow()
        connection.execute(_INSERT_ITEM, {"message_id": message_id, **item})
    assert message_id is not None
    return int(message_id)


_messages = Base.metadata.tables[SmsMessage.__tablename__]
_items = Base.metadata.tables[OutboxItem.__tablename__]
_INSERT_MESSAGE = insert(_messages).returning(_messages.c.id)
_INSERT_ITEM = insert(_items)
# WITH message AS (INSERT INTO sms_messages .. RETURNING id) INSERT INTO outbox .. SELECT
_QUEUED = ("created_at", "direction", "phone", "template", "params", "locale", "status")
_new_message = (
    insert(_messages)
    .values(
        {
            _messages.c[name]: bindparam(name, type_=_messages.c[name].type)
            for name in (*_QUEUED, "body", "worker_id", "elder_id")
        }
    )
    .returning(_messages.c.id)
    .cte("message")
)
_ENQUEUE_PG = (
    insert(_items)
    .from_select(
        ["message_id", "urgent", "not_before", "state", "attempts", "created_at"],
        select(
            _new_message.c.id,
            bindparam("urgent", type_=_items.c.urgent.type),
            bindparam("not_before", type_=_items.c.not_before.type),
            bindparam("state", type_=_items.c.state.type),
            bindparam("attempts", type_=_items.c.attempts.type),
            bindparam("item_created_at", type_=_items.c.created_at.type),
        ),
    )
    .returning(_items.c.message_id)
)
_Q_ENQUEUE_PG = DriverStatement(_ENQUEUE_PG)

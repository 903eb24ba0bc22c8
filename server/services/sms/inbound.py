"""An inbound SMS, from the webhook, the phone simulator or `tanfang sms inbound`: stored
once, opt-out first, then read as a worker's command or an elder's reply, and answered.

The immediate answer is returned (the webhook sends it as TwiML); messages to anyone else
go through the outbox in the same transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Integer, String, and_, bindparam, func, insert, select, text, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, joinedload

from server.db import Base, DriverStatement, UTCDateTime
from server.models import Elder, SmsMessage, Visit, Worker
from server.services.checkins import CheckInInput, record_checkin
from server.services.crisis import detect_crisis
from server.services.followups import after_checkin
from server.services.months import current_month
from server.services.outbox import enqueue, enqueue_row
from server.services.phones import PhoneError, is_short_code, normalize_phone
from server.services.rules import RuleSet
from server.services.signals import SignalResult, signal
from server.services.sms.grammar import (
    DigitReply,
    Done,
    FreeText,
    Help,
    ListVisits,
    Miss,
    OptIn,
    OptOut,
    Prepared,
    UsageError,
    WorkerMessage,
    parse_elder,
    parse_opt,
    parse_worker,
    prepare,
)
from server.services.sms.normalize import tidy
from server.services.sms.templates import TemplateSet

log = logging.getLogger(__name__)

# How long a question stays the meaning of a bare digit in reply.
QUESTION_MAX_AGE = {"wellness": timedelta(days=7), "rating": timedelta(days=14)}
UNKNOWN_SENDER_QUIET = timedelta(hours=24)


@dataclass(frozen=True)
class InboundContext:
    """What handling needs from the configuration."""

    tz: ZoneInfo
    templates: TemplateSet
    signature: str
    hotline: str
    rules: RuleSet


@dataclass(frozen=True)
class Reply:
    """The immediate answer: a template in the sender's locale."""

    template: str
    locale: str
    params: dict[str, Any] = field(default_factory=dict)
    # An elder's words for their primary contact, queued with the answer.
    forward: Forward | None = None


@dataclass(frozen=True)
class Forward:
    """An elder's message passed on to their primary contact through the outbox."""

    phone: str
    worker_id: int
    locale: str
    params: dict[str, Any]


@dataclass(frozen=True)
class InboundMessage:
    """The stored inbound message, as handling needs it."""

    id: int
    phone: str
    provider_sid: str | None
    worker_id: int | None
    elder_id: int | None


@dataclass
class InboundResult:
    """The stored message and the text to answer with (None: say nothing)."""

    message: InboundMessage | None
    reply_text: str | None
    duplicate: bool = False
    handled_as: str = ""


@dataclass(frozen=True)
class _WorkerRow:
    """The sender as a worker: what the common paths need, without loading the ORM object."""

    id: int
    locale: str
    # What the sender look-up read ahead for the command (PostgreSQL), else nothing.
    ahead: _ReadAhead | None = None


@dataclass(frozen=True)
class _ReadAhead:
    """What a worker's command needs, read in the sender look-up itself (PostgreSQL): the
    codes of `LIST` (None: not read) and the elders named by code (a code not in `by_code`
    was not read; None: no such elder)."""

    codes: tuple[str, ...] | None = None
    by_code: dict[str, _CodeRow | None] = field(default_factory=dict)


@dataclass(frozen=True)
class _ElderRow:
    """The sender as an elder, with their primary contact (for forwarding)."""

    id: int
    code: str
    locale: str
    status: str
    contact_id: int | None
    contact_phone: str | None
    contact_locale: str | None
    contact_active: bool | None
    # The last question sent to the elder (`_LAST_QUESTION`'s row, None: none), when the
    # sender look-up read it already (PostgreSQL); `asked_known` False: not read yet.
    asked: tuple[Any, ...] | None = None
    asked_known: bool = False


@dataclass(frozen=True)
class _CodeRow:
    """An elder named by code in a worker's command, with the worker's first open visit to
    them this month (None when there is none)."""

    id: int
    code: str
    primary_contact_id: int | None
    secondary_contact_id: int | None
    visit_id: int | None


# --- statements -----------------------------------------------------------------------------
# Built once: the common paths run them on the unit's connection (Core: no ORM objects,
# no statement construction and a cache hit in SQLAlchemy's compiled cache on every request).

_workers = Base.metadata.tables[Worker.__tablename__]
_elders = Base.metadata.tables[Elder.__tablename__]
_visits = Base.metadata.tables[Visit.__tablename__]
_messages = Base.metadata.tables[SmsMessage.__tablename__]
_contact = _workers.alias("contact")

# Who has the phone, in one statement: the active worker with it (phones of workers are
# unique) beside each elder with it, one row per elder or a single row when there are none.
# Written so that the plan is right without statistics (a fresh import, autovacuum off):
# elders are found by phone alone and the active ones kept by the caller (a condition on status
# too chose the (status, grid) index and read every active elder), and the primary contact is
# read by key in subqueries (a join read every worker).
_asked = select(bindparam("phone", type_=String()).label("phone")).subquery("asked")


def _of_contact(column: Any) -> Any:
    return (
        select(column)
        .where(_contact.c.id == _elders.c.primary_contact_id)
        .correlate(_elders)
        .scalar_subquery()
    )


_SENDER = (
    select(
        _workers.c.id,
        _workers.c.locale,
        _elders.c.id,
        _elders.c.code,
        _elders.c.locale,
        _elders.c.status,
        _elders.c.primary_contact_id,
        _of_contact(_contact.c.phone),
        _of_contact(_contact.c.locale),
        _of_contact(_contact.c.active),
    )
    .select_from(
        _asked.outerjoin(
            _workers, and_(_workers.c.phone == _asked.c.phone, _workers.c.active.is_(True))
        ).outerjoin(_elders, _elders.c.phone == _asked.c.phone)
    )
    .order_by(_elders.c.id)
)
# The inbound message, once per MessageSid: INSERT .. ON CONFLICT DO NOTHING RETURNING, the
# same statement on PostgreSQL and SQLite. Written as text because SQLAlchemy 2.0 does not
# cache dialect-specific INSERT .. ON CONFLICT constructs and would compile it every time.
_STORE_ONCE = (
    text(
        "INSERT INTO sms_messages"
        " (direction, phone, body, provider_sid, status, worker_id, elder_id, created_at,"
        " status_at)"
        " VALUES ('in', :phone, :body, :sid, 'received', :worker_id, :elder_id, :now, :now)"
        " ON CONFLICT (provider_sid) DO NOTHING RETURNING id"
    )
    .bindparams(bindparam("now", type_=UTCDateTime()))
    .columns(id=Integer)
)
_OPEN_CODES = (
    select(_elders.c.code)
    .join(_visits, _visits.c.elder_id == _elders.c.id)
    .where(
        _visits.c.worker_id == bindparam("worker_id"),
        _visits.c.month == bindparam("month"),
        _visits.c.status == "planned",
    )
    .order_by(_visits.c.due_date, _visits.c.id)
)
_OPEN_COUNT = (
    select(func.count())
    .select_from(_visits)
    .where(
        _visits.c.worker_id == bindparam("worker_id"),
        _visits.c.month == bindparam("month"),
        _visits.c.status == "planned",
    )
)
_FIRST_OPEN_VISIT = (
    select(_visits.c.id)
    .where(
        _visits.c.worker_id == bindparam("worker_id"),
        _visits.c.month == bindparam("month"),
        _visits.c.status == "planned",
        _visits.c.elder_id == _elders.c.id,
    )
    .order_by(_visits.c.due_date, _visits.c.id)
    .limit(1)
    .correlate(_elders)
    .scalar_subquery()
)
_ELDER_BY_CODE = select(
    _elders.c.id,
    _elders.c.code,
    _elders.c.primary_contact_id,
    _elders.c.secondary_contact_id,
    _FIRST_OPEN_VISIT,
).where(_elders.c.code == bindparam("code"))
_LAST_QUESTION = (
    select(
        _messages.c.id,
        _messages.c.question,
        _messages.c.visit_id,
        _messages.c.sent_at,
        _messages.c.created_at,
    )
    .where(
        _messages.c.direction == "out",
        _messages.c.elder_id == bindparam("elder_id"),
        _messages.c.question.is_not(None),
        # not yet or never sent (!= rather than NOT IN: no expanding parameter)
        *(_messages.c.status != status for status in ("queued", "held", "canceled", "failed")),
    )
    .order_by(_messages.c.created_at.desc(), _messages.c.id.desc())
    .limit(1)
)
_INSERT_MESSAGE = insert(_messages)
# The immediate answer, every column given (a driver statement computes no defaults).
_REPLY_COLUMNS = (
    "direction", "phone", "worker_id", "elder_id", "template", "params", "locale", "body",
    "status", "created_at", "sent_at", "in_reply_to_id",
)  # fmt: skip
_REPLY = insert(_messages).values(
    {_messages.c[name]: bindparam(name, type_=_messages.c[name].type) for name in _REPLY_COLUMNS}
)
_FORWARD_TEMPLATE = "elder_message_forward"
# PostgreSQL: an elder's words queued for their primary contact (as `enqueue_row`: the
# message and its outbox item) and the answer to the elder (as `_REPLY`), in one statement.
_FORWARD_AND_REPLY_PG = text(
    f"""
    WITH forward AS (
      INSERT INTO sms_messages (created_at, direction, phone, template, params, locale, status,
                                body, worker_id, elder_id)
      VALUES (:created_at, 'out', :forward_phone, '{_FORWARD_TEMPLATE}', :forward_params,
              :forward_locale, 'queued', '', :forward_worker_id, NULL)
      RETURNING id
    ), queued AS (
      INSERT INTO outbox (message_id, urgent, not_before, state, attempts, created_at)
      SELECT id, false, :created_at, 'pending', 0, :created_at FROM forward
    )
    INSERT INTO sms_messages ({", ".join(_REPLY_COLUMNS)})
    VALUES ({", ".join(":" + name for name in _REPLY_COLUMNS)})
    """
).bindparams(
    *(bindparam(name, type_=_messages.c[name].type) for name in _REPLY_COLUMNS),
    bindparam("forward_params", type_=_messages.c.params.type),
)
# PostgreSQL: who has the phone and the message stored once, in one statement. `_SENDER`'s
# columns, each elder's last question (`_LAST_QUESTION`'s five columns), what a worker's
# command needs (read ahead from the text before anyone knows who wrote it, and only for a
# worker): the open codes of `LIST` (`_OPEN_CODES`, as an array) and the elder named by
# :code or, failing that, by :alt_code (`_ELDER_BY_CODE`'s five columns); then the new
# message's id and the elder it was stored for (None when the MessageSid is already stored;
# the elder only when a single active one has the phone). Three round trips fewer than
# `_SENDER`, `_STORE_ONCE`, `_LAST_QUESTION` and a command's own look-up, on the path every
# inbound SMS takes.
_SENDER_AND_STORE_PG = (
    text(
        """
        WITH found AS (
          SELECT w.id AS worker_id, w.locale AS worker_locale, e.id AS elder_id, e.code,
                 e.locale AS elder_locale, e.status, e.primary_contact_id,
                 c.phone AS contact_phone, c.locale AS contact_locale, c.active AS contact_active,
                 q.id AS asked_id, q.question, q.visit_id AS asked_visit_id,
                 q.sent_at AS asked_sent_at, q.created_at AS asked_created_at,
                 oc.codes, bc.id AS by_code_id, bc.code AS by_code_code,
                 bc.primary_contact_id AS by_code_primary,
                 bc.secondary_contact_id AS by_code_secondary, bc.visit_id AS by_code_visit
          FROM (SELECT CAST(:phone AS VARCHAR(32)) AS phone) AS asked
          LEFT OUTER JOIN workers AS w ON w.phone = asked.phone AND w.active IS true
          LEFT OUTER JOIN elders AS e ON e.phone = asked.phone
          -- LATERAL: the contact read by key for each elder found, whatever the statistics
          LEFT OUTER JOIN LATERAL (
            SELECT phone, locale, active FROM workers WHERE workers.id = e.primary_contact_id
          ) AS c ON true
          -- the last question asked of the elder (as _LAST_QUESTION), for a digit reply
          LEFT OUTER JOIN LATERAL (
            SELECT m.id, m.question, m.visit_id, m.sent_at, m.created_at
            FROM sms_messages AS m
            WHERE m.direction = 'out' AND m.elder_id = e.id AND m.question IS NOT NULL
              AND m.status NOT IN ('queued', 'held', 'canceled', 'failed')
            ORDER BY m.created_at DESC, m.id DESC
            LIMIT 1
          ) AS q ON true
          -- LIST: the codes of the elders the worker still owes a visit this month
          LEFT OUTER JOIN LATERAL (
            SELECT ARRAY(
              SELECT oe.code FROM visits AS ov JOIN elders AS oe ON oe.id = ov.elder_id
              WHERE ov.worker_id = w.id AND ov.month = :month AND ov.status = 'planned'
              ORDER BY ov.due_date, ov.id
            ) AS codes
            WHERE CAST(:list_codes AS BOOLEAN) AND w.id IS NOT NULL
          ) AS oc ON true
          -- DONE, MISS, HELP: the elder named, with the worker's first open visit to them
          LEFT OUTER JOIN LATERAL (
            SELECT ce.id, ce.code, ce.primary_contact_id, ce.secondary_contact_id,
                   (SELECT cv.id FROM visits AS cv
                    WHERE cv.worker_id = w.id AND cv.month = :month AND cv.status = 'planned'
                      AND cv.elder_id = ce.id
                    ORDER BY cv.due_date, cv.id LIMIT 1) AS visit_id
            FROM elders AS ce
            WHERE w.id IS NOT NULL
              AND ce.code IN (CAST(:code AS VARCHAR), CAST(:alt_code AS VARCHAR))
            ORDER BY ce.code = CAST(:code AS VARCHAR) DESC
            LIMIT 1
          ) AS bc ON true
        ), stored AS (
          INSERT INTO sms_messages (direction, phone, body, provider_sid, status, worker_id,
                                    elder_id, created_at, status_at)
          SELECT 'in', :phone, :body, :sid, 'received',
                 (SELECT max(worker_id) FROM found),
                 (SELECT CASE WHEN count(*) = 1 THEN max(elder_id) END
                  FROM found WHERE status = 'active'),
                 :now, :now
          ON CONFLICT (provider_sid) DO NOTHING
          RETURNING id, elder_id
        )
        SELECT found.*, stored.id, stored.elder_id
        FROM found LEFT OUTER JOIN stored ON true
        ORDER BY found.elder_id
        """
    )
    .bindparams(bindparam("now", type_=UTCDateTime()))
)

# Run straight on the driver on PostgreSQL (see DriverStatement).
_Q_SENDER = DriverStatement(_SENDER)
_Q_SENDER_AND_STORE = DriverStatement(_SENDER_AND_STORE_PG)
_Q_STORE_ONCE = DriverStatement(_STORE_ONCE)
_Q_OPEN_CODES = DriverStatement(_OPEN_CODES)
_Q_OPEN_COUNT = DriverStatement(_OPEN_COUNT)
_Q_ELDER_BY_CODE = DriverStatement(_ELDER_BY_CODE)
_Q_LAST_QUESTION = DriverStatement(_LAST_QUESTION)
_Q_REPLY = DriverStatement(_REPLY)
_Q_FORWARD_AND_REPLY_PG = DriverStatement(_FORWARD_AND_REPLY_PG)


class _Unit:
    """The database work of one inbound SMS: a connection in its transaction, and an ORM
    session on it for the less common paths that load or change ORM objects. Without a
    session given, one is made only when such a path needs it: the common paths (LIST, an
    elder's reply, a code that is not the worker's) run Core statements alone and skip the
    ORM session's bookkeeping, about a tenth of a webhook's CPU."""

    def __init__(self, connection: Connection, session: Session | None = None) -> None:
        self.connection = connection
        self._session = session
        self._owned = session is None

    @property
    def session(self) -> Session:
        if self._session is None:
            # Joins the connection's transaction; it never commits or closes it.
            self._session = Session(
                bind=self.connection,
                expire_on_commit=False,
                join_transaction_mode="rollback_only",
            )
        return self._session

    def conn(self) -> Connection:
        """The connection, with any pending ORM change flushed first (what an ORM query would
        do by itself), so Core statements see everything done so far."""
        if self._session is not None:
            self._session.flush()
        return self.connection

    def flush(self) -> None:
        """Write what the session holds (the caller commits the connection)."""
        if self._session is not None:
            self._session.flush()

    def close(self) -> None:
        """Let go of a session made here (the connection and its transaction stay as they
        are)."""
        if self._owned and self._session is not None:
            self._session.close()
            self._session = None


def handle_inbound(
    session: Session,
    ctx: InboundContext,
    *,
    sender: str,
    body: str,
    sid: str | None,
    now: datetime,
) -> InboundResult:
    """Store and act on one inbound SMS in `session`'s transaction; the caller commits."""
    unit = _Unit(session.connection(), session)
    return _handle(unit, ctx, sender=sender, body=body, sid=sid, now=now)


def handle_inbound_on(
    connection: Connection,
    ctx: InboundContext,
    *,
    sender: str,
    body: str,
    sid: str | None,
    now: datetime,
) -> InboundResult:
    """`handle_inbound` on a connection in a transaction (begun by the caller, who commits
    it), with no ORM session unless the message needs one: the webhook's path."""
    if not connection.in_transaction():
        raise ValueError("begin the connection's transaction first")
    unit = _Unit(connection)
    try:
        result = _handle(unit, ctx, sender=sender, body=body, sid=sid, now=now)
        unit.flush()
        return result
    finally:
        unit.close()


def _handle(
    unit: _Unit,
    ctx: InboundContext,
    *,
    sender: str,
    body: str,
    sid: str | None,
    now: datetime,
) -> InboundResult:
    try:
        phone = normalize_phone(sender)
    except PhoneError:
        phone = sender.strip()[:32] or "unknown"
    short_code = is_short_code(sender)
    text = prepare(body or "")
    opt = parse_opt(text)
    # Read as a worker's command before anyone knows who wrote it: on PostgreSQL the sender
    # look-up also reads what that command needs (for a worker; an elder's text costs a
    # parse and nothing in the database).
    command = parse_worker(text) if opt is None else None
    month = current_month(ctx.tz, now)
    if not short_code and sid and unit.conn().dialect.name == "postgresql":
        worker, elders, message_id, stored_for = _sender_and_store(
            unit, phone, body, sid, now, command, month
        )
        elder = _elder_addressed(unit, elders) if elders else None
        if message_id is not None and elder is not None and elder.id != stored_for:
            # a phone shared by two elders: the message belongs to the one last asked
            unit.session.execute(
                update(SmsMessage).where(SmsMessage.id == message_id).values(elder_id=elder.id)
            )
    else:
        worker, elders = (None, []) if short_code else _sender(unit, phone)
        elder = _elder_addressed(unit, elders) if elders else None
        message_id = _store(unit, phone, body or "", sid, worker, elder, now)
    if message_id is None:
        # A MessageSid seen before (a retry, or a concurrent replay that got there first).
        stored = unit.session.scalar(
            select(SmsMessage).where(SmsMessage.provider_sid == sid, SmsMessage.direction == "in")
        )
        if stored is None:
            return InboundResult(None, None, duplicate=True, handled_as="duplicate")
        return _repeat(unit, stored)
    message = InboundMessage(
        message_id, phone, sid, worker.id if worker else None, elder.id if elder else None
    )
    if short_code:
        # Never answer automated senders: two robots would answer each other forever.
        return InboundResult(message, None, handled_as="short_code")

    reply: Reply | None
    if opt is not None:
        reply = _opt(unit, opt, phone, worker, elders, now)
        kind = "opt_in" if isinstance(opt, OptIn) else "opt_out"
    elif worker is not None:
        assert command is not None
        reply, kind = _worker(unit, ctx, message, worker, command, month, now), "worker"
    elif elder is not None:
        reply, kind = _elder(unit, ctx, message, elder, text, now)
    else:
        reply, kind = _unknown(unit, ctx, phone, body or "", now), "unknown_sender"
    return _answer(unit, ctx, message, reply, now, kind)


# --- answering -----------------------------------------------------------------------------


def _answer(
    unit: _Unit,
    ctx: InboundContext,
    message: InboundMessage,
    reply: Reply | None,
    now: datetime,
    kind: str,
) -> InboundResult:
    if reply is None:
        return InboundResult(message, None, handled_as=kind)
    text = ctx.templates.render(
        reply.template, reply.locale, reply.params, signature=ctx.signature, tz=ctx.tz
    )
    connection = unit.conn()
    answer = {
        "direction": "out",
        "phone": message.phone,
        "worker_id": message.worker_id,
        "elder_id": message.elder_id,
        "template": reply.template,
        "params": reply.params,
        "locale": reply.locale,
        "body": text,
        "status": "sent",  # handed to the provider in the webhook's TwiML answer
        "created_at": now,
        "sent_at": now,
        "in_reply_to_id": message.id,
    }
    forward = reply.forward
    if forward is not None and connection.dialect.name == "postgresql":
        _Q_FORWARD_AND_REPLY_PG.rows(
            connection,
            {
                **answer,
                "forward_phone": forward.phone,
                "forward_worker_id": forward.worker_id,
                "forward_locale": forward.locale,
                "forward_params": forward.params,
            },
        )
        return InboundResult(message, text, handled_as=kind)
    if forward is not None:
        enqueue_row(
            connection,
            phone=forward.phone,
            template=_FORWARD_TEMPLATE,
            params=forward.params,
            locale=forward.locale,
            worker_id=forward.worker_id,
            elder_id=None,
            now=now,
        )
    _Q_REPLY.rows(connection, answer)
    return InboundResult(message, text, handled_as=kind)


def _repeat(unit: _Unit, stored: SmsMessage) -> InboundResult:
    """A MessageSid seen before: nothing is done again; the same answer is given."""
    answer = unit.session.scalar(
        select(SmsMessage.body).where(SmsMessage.in_reply_to_id == stored.id).limit(1)
    )
    message = InboundMessage(
        stored.id, stored.phone, stored.provider_sid, stored.worker_id, stored.elder_id
    )
    return InboundResult(message, answer, duplicate=True, handled_as="duplicate")


def _store(
    unit: _Unit,
    phone: str,
    body: str,
    sid: str | None,
    worker: _WorkerRow | None,
    elder: _ElderRow | None,
    now: datetime,
) -> int | None:
    """Insert the inbound message; None when its MessageSid is already stored.

    One statement (INSERT .. ON CONFLICT DO NOTHING RETURNING): concurrent replays of one
    MessageSid wait for each other in the database and exactly one of them goes on.
    """
    conn = unit.conn()
    worker_id = worker.id if worker else None
    elder_id = elder.id if elder else None
    if not sid or conn.dialect.name not in ("postgresql", "sqlite"):
        values = {
            "direction": "in",
            "phone": phone,
            "body": body,
            "provider_sid": sid,
            "status": "received",
            "worker_id": worker_id,
            "elder_id": elder_id,
            "created_at": now,
            "status_at": now,
        }
        return conn.scalar(_INSERT_MESSAGE.returning(_messages.c.id), values)
    params = {
        "phone": phone,
        "body": body,
        "sid": sid,
        "worker_id": worker_id,
        "elder_id": elder_id,
        "now": now,
    }
    stored = _Q_STORE_ONCE.scalar(conn, params)
    return None if stored is None else int(stored)


# --- who wrote -----------------------------------------------------------------------------


def _sender(unit: _Unit, phone: str) -> tuple[_WorkerRow | None, list[_ElderRow]]:
    """The active worker and the active elders with this phone."""
    return _sender_of(_Q_SENDER.rows(unit.conn(), {"phone": phone}))


def _sender_of(
    rows: list[tuple[Any, ...]], *, with_questions: bool = False
) -> tuple[_WorkerRow | None, list[_ElderRow]]:
    """The sender from `_SENDER`'s rows (the first ten columns), and with `with_questions`
    each elder's last question from the next five."""
    worker: _WorkerRow | None = None
    elders: list[_ElderRow] = []
    for row in rows:
        if row[0] is not None:
            worker = _WorkerRow(row[0], row[1])
        if row[2] is not None and row[5] == "active":
            elder = _ElderRow(*row[2:10])
            if with_questions:
                asked = tuple(row[10:15]) if row[10] is not None else None
                elder = replace(elder, asked=asked, asked_known=True)
            elders.append(elder)
    return worker, elders


def _sender_and_store(
    unit: _Unit,
    phone: str,
    body: str,
    sid: str,
    now: datetime,
    command: WorkerMessage | None,
    month: str,
) -> tuple[_WorkerRow | None, list[_ElderRow], int | None, int | None]:
    """PostgreSQL: the sender, and the inbound message stored once per MessageSid, in one
    statement; the message's id (None: seen before) and the elder it was stored for. A
    worker comes with what `command` (the text read as a worker's command) needs."""
    code = alt_code = None
    if isinstance(command, Done | Miss | Help):
        code = command.code.upper()
        alternative = command.alternative() if isinstance(command, Done) else None
        alt_code = alternative.code.upper() if alternative is not None else None
    params = {
        "phone": phone,
        "body": body or "",
        "sid": sid,
        "now": now,
        "month": month,
        "list_codes": isinstance(command, ListVisits),
        "code": code,
        "alt_code": alt_code,
    }
    rows = _Q_SENDER_AND_STORE.rows(unit.conn(), params)
    worker, elders = _sender_of(rows, with_questions=True)
    first = rows[0]
    if worker is not None:
        by_code: dict[str, _CodeRow | None] = {}
        found = _CodeRow(*first[16:21]) if first[16] is not None else None
        for wanted in (code, alt_code):
            if wanted is not None:
                by_code[wanted] = found if found is not None and found.code == wanted else None
        codes = tuple(first[15]) if first[15] is not None else None
        worker = replace(worker, ahead=_ReadAhead(codes, by_code))
    return worker, elders, first[21], first[22]


def _elder_addressed(unit: _Unit, elders: list[_ElderRow]) -> _ElderRow:
    """Of elders sharing a phone (a couple), the one we last asked something."""
    if len(elders) == 1:
        return elders[0]
    last = unit.session.scalar(
        select(SmsMessage.elder_id)
        .where(
            SmsMessage.direction == "out",
            SmsMessage.elder_id.in_([e.id for e in elders]),
            SmsMessage.question.is_not(None),
        )
        .order_by(SmsMessage.created_at.desc(), SmsMessage.id.desc())
        .limit(1)
    )
    return next((e for e in elders if e.id == last), elders[0])


def _orm_elder(unit: _Unit, elder_id: int) -> Elder:
    """The ORM object of an elder, for the less common paths that change or route them."""
    found = unit.session.get(Elder, elder_id)
    assert found is not None  # read in this transaction
    return found


def _visit_held(
    unit: _Unit, visit_id: int, worker: _WorkerRow
) -> tuple[Visit, Worker] | None:
    """The ORM objects a check-in needs, in one statement: the visit (with its elder) and the
    worker holding it; None if the visit has changed hands since it was found."""
    row = unit.session.execute(
        select(Visit, Worker)
        .join(Worker, Worker.id == Visit.worker_id)
        .where(Visit.id == visit_id, Worker.id == worker.id)
        .options(joinedload(Visit.elder))
    ).first()
    return (row[0], row[1]) if row is not None else None


# --- opt-out and opt-in, before anything else ---------------------------------------------------


def _opt(
    unit: _Unit,
    opt: OptOut | OptIn,
    phone: str,
    worker: _WorkerRow | None,
    elders: list[_ElderRow],
    now: datetime,
) -> Reply:
    stop = isinstance(opt, OptOut)
    unit.session.execute(update(Worker).where(Worker.phone == phone).values(sms_opted_out=stop))
    for row in elders:
        elder = _orm_elder(unit, row.id)
        was = elder.sms_opted_out
        elder.sms_opted_out = stop
        elder.sms_opted_out_at = now if stop else None
        contact = elder.primary_contact
        if stop and not was and contact is not None and contact.active:
            # Visits go on; the contact is asked to call instead of relying on SMS.
            enqueue(
                unit.session,
                phone=contact.phone,
                template="contact_call_instead",
                params={"elder_code": elder.code},
                locale=contact.locale,
                worker_id=contact.id,
                now=now,
            )
    locale = worker.locale if worker else (elders[0].locale if elders else "zh_CN")
    if stop and not elders:  # a worker or a stranger: no visits to speak of
        return Reply("optout_confirm", locale)
    return Reply("elder_optout_confirm" if stop else "elder_optin_confirm", locale)


# --- workers ----------------------------------------------------------------------------------


def _elder_by_code(
    unit: _Unit, code: str, worker: _WorkerRow, month: str
) -> _CodeRow | None:
    """The elder with this code, with the worker's first open visit to them this month."""
    code = code.upper()
    if worker.ahead is not None and code in worker.ahead.by_code:
        return worker.ahead.by_code[code]
    row = _Q_ELDER_BY_CODE.first(
        unit.conn(), {"code": code, "worker_id": worker.id, "month": month}
    )
    return _CodeRow(*row) if row is not None else None


def _open_codes(unit: _Unit, worker: _WorkerRow, month: str) -> list[str]:
    """The codes of the elders the worker still owes a visit this month, soonest due first
    (an elder owed several visits once)."""
    if worker.ahead is not None and worker.ahead.codes is not None:
        found: Iterable[str] = worker.ahead.codes
    else:
        rows = _Q_OPEN_CODES.rows(unit.conn(), {"worker_id": worker.id, "month": month})
        found = (code for (code,) in rows)
    return list(dict.fromkeys(found))


def _open_count(unit: _Unit, worker: _WorkerRow, month: str) -> int:
    count = _Q_OPEN_COUNT.scalar(unit.conn(), {"worker_id": worker.id, "month": month})
    return int(count or 0)


def _worker(
    unit: _Unit,
    ctx: InboundContext,
    message: InboundMessage,
    worker: _WorkerRow,
    parsed: WorkerMessage,
    month: str,
    now: datetime,
) -> Reply:
    usage = "worker_usage_help"
    if isinstance(parsed, UsageError):
        return Reply(usage, worker.locale, parsed.params())
    if isinstance(parsed, ListVisits):
        codes = _open_codes(unit, worker, month)
        return Reply("worker_list_reply", worker.locale, {"count": len(codes), "codes": codes})
    if isinstance(parsed, Done | Miss):
        elder = _elder_by_code(unit, parsed.code, worker, month)
        if elder is None and isinstance(parsed, Done):
            alternative = parsed.alternative()
            if alternative is not None:
                elder = _elder_by_code(unit, alternative.code, worker, month)
                if elder is not None:
                    parsed = alternative
        if elder is None:
            return Reply(usage, worker.locale, {"problem": "unknown_code", "got": parsed.code})
        held = _visit_held(unit, elder.visit_id, worker) if elder.visit_id else None
        if held is None:
            return Reply(usage, worker.locale, {"problem": "no_open_visit", "got": elder.code})
        visit, person = held
        done = isinstance(parsed, Done)
        data = CheckInInput(
            client_id=f"sms-{message.provider_sid or message.id}"[:64],
            occurred_at=now,
            outcome="seen" if done else "not_home",
            mood=parsed.mood if isinstance(parsed, Done) else None,
            note=(parsed.note if isinstance(parsed, Done) else parsed.reason) or None,
        )
        checkin, created = record_checkin(unit.session, visit, person, data, "sms", ctx.tz, now)
        if created:
            after_checkin(unit.session, visit, checkin, person, now, rules=ctx.rules, tz=ctx.tz)
        remaining = _open_count(unit, worker, month)
        return Reply(
            "worker_checkin_ack",
            worker.locale,
            {
                "elder_code": elder.code,
                "outcome": "done" if done else "missed",
                "remaining": remaining,
            },
        )
    if isinstance(parsed, Help):
        elder = _elder_by_code(unit, parsed.code, worker, month)
        if elder is None or not _related(unit, worker, elder):
            return Reply(usage, worker.locale, {"problem": "unknown_code", "got": parsed.code})
        text = tidy(parsed.text)
        result = signal(
            unit.session, ctx.rules, "worker_help", _orm_elder(unit, elder.id),
            {"crisis_words": bool(text and detect_crisis(text) is not None)},
            tz=ctx.tz, now=now, actor_id=worker.id, note=text or None,
            data={"sms_id": message.id},
        )  # fmt: skip
        if result.first_case_id is None:
            return Reply(usage, worker.locale, {"problem": "unknown_command", "got": ""})
        return Reply(
            "worker_help_ack",
            worker.locale,
            {"elder_code": elder.code, "case_id": result.first_case_id},
        )
    return Reply(usage, worker.locale, {"problem": "unknown_command", "got": ""})


def _related(unit: _Unit, worker: _WorkerRow, elder: _CodeRow) -> bool:
    """A worker may raise help for elders they are a contact for or hold a visit of."""
    if worker.id in (elder.primary_contact_id, elder.secondary_contact_id):
        return True
    return bool(
        unit.session.scalar(
            select(func.count())
            .select_from(Visit)
            .where(Visit.elder_id == elder.id, Visit.worker_id == worker.id)
        )
    )


# --- elders -----------------------------------------------------------------------------------


def _signal(
    unit: _Unit,
    ctx: InboundContext,
    trigger: str,
    elder: _ElderRow,
    facts: dict[str, Any],
    *,
    now: datetime,
    data: dict[str, Any],
) -> SignalResult:
    """`signal` for the sender, loading the elder's ORM object only when a rule applies."""
    if not ctx.rules.matching(trigger, facts):
        return SignalResult()
    return signal(
        unit.session, ctx.rules, trigger, _orm_elder(unit, elder.id), facts,
        tz=ctx.tz, now=now, data=data,
    )  # fmt: skip


def _elder(
    unit: _Unit,
    ctx: InboundContext,
    message: InboundMessage,
    elder: _ElderRow,
    prepared: Prepared,
    now: datetime,
) -> tuple[Reply | None, str]:
    body = prepared.text
    if detect_crisis(body) is not None:
        _signal(
            unit, ctx, "elder_reply", elder, {"crisis_words": True},
            now=now, data={"sms_id": message.id},
        )  # fmt: skip
        return Reply("elder_crisis_reply", elder.locale, {"hotline": ctx.hotline}), "crisis"
    parsed = parse_elder(prepared)
    if isinstance(parsed, DigitReply):
        question = _last_question(unit, elder, now)
        if question is not None:
            answered = _answer_question(unit, ctx, message, elder, question, parsed.n, now)
            if answered is not None:
                return answered
    text = parsed.text if isinstance(parsed, DigitReply | FreeText) else body
    forward = None
    if elder.contact_id is not None and elder.contact_active and text.strip():
        assert elder.contact_phone is not None and elder.contact_locale is not None
        forward = Forward(
            elder.contact_phone,
            elder.contact_id,
            elder.contact_locale,
            {"elder_code": elder.code, "text": tidy(text)},
        )
    return Reply("elder_ack", elder.locale, forward=forward), "forwarded"


@dataclass(frozen=True)
class _Question:
    """The last question sent to an elder, still open."""

    id: int
    question: str
    visit_id: int | None


def _last_question(unit: _Unit, elder: _ElderRow, now: datetime) -> _Question | None:
    if elder.asked_known:
        row = elder.asked
    else:
        row = _Q_LAST_QUESTION.first(unit.conn(), {"elder_id": elder.id})
    if row is None:
        return None
    message_id, question, visit_id, sent_at, created_at = row
    if question not in QUESTION_MAX_AGE:
        return None
    if now - (sent_at or created_at) > QUESTION_MAX_AGE[question]:
        return None
    return _Question(message_id, question, visit_id)


def _answer_question(
    unit: _Unit,
    ctx: InboundContext,
    message: InboundMessage,
    elder: _ElderRow,
    question: _Question,
    n: int,
    now: datetime,
) -> tuple[Reply, str] | None:
    if question.question == "rating" and 1 <= n <= 5 and question.visit_id is not None:
        visit = unit.session.get(Visit, question.visit_id)
        if visit is None:
            return None
        visit.rating = n
        visit.rated_at = now
        unit.session.execute(
            update(SmsMessage).where(SmsMessage.id == message.id).values(visit_id=visit.id)
        )
        return Reply("elder_rating_thanks", elder.locale, {"rating": n}), "rating"
    if question.question == "wellness" and n in (1, 2, 3):
        # The rules decide what 2 and 3 open; the answer to the elder follows the digit.
        _signal(
            unit, ctx, "elder_reply", elder,
            {"question": "wellness", "answer": n, "crisis_words": False},
            now=now, data={"sms_id": message.id, "answer": n},
        )  # fmt: skip
        if n == 1:
            return Reply("elder_ack", elder.locale), "wellness_fine"
        if n == 2:
            return Reply("elder_help_ack", elder.locale), "wellness_help"
        return Reply("elder_talk_ack", elder.locale, {"hotline": ctx.hotline}), "wellness_talk"
    return None


# --- strangers ----------------------------------------------------------------------------------


def _unknown(
    unit: _Unit, ctx: InboundContext, phone: str, body: str, now: datetime
) -> Reply | None:
    """One polite answer a day at most to a number we do not know."""
    recent = unit.session.scalar(
        select(func.count())
        .select_from(SmsMessage)
        .where(
            SmsMessage.direction == "out",
            SmsMessage.phone == phone,
            SmsMessage.template == "unknown_sender_reply",
            SmsMessage.created_at > now - UNKNOWN_SENDER_QUIET,
        )
    )
    if recent:
        return None
    return Reply("unknown_sender_reply", guess_locale(body), {"hotline": ctx.hotline})


def guess_locale(text: str) -> str:
    """en for a message in Latin letters with no Chinese, else zh_CN."""
    has_cjk = any("\u4e00" <= ch <= "\u9fff" for ch in text)
    has_latin = any(ch.isascii() and ch.isalpha() for ch in text)
    return "en" if has_latin and not has_cjk else "zh_CN"

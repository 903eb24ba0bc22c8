"""An inbound SMS, from the webhook, the phone simulator or `tanfang sms inbound`: stored
once, opt-out first, then read as a worker's command or an elder's reply, and answered.

The immediate answer is returned (the webhook sends it as TwiML); messages to anyone else
go through the outbox in the same transaction.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from server.models import Elder, SmsMessage, Visit, Worker
from server.services.checkins import CheckInInput, record_checkin
from server.services.crisis import detect_crisis
from server.services.followups import after_checkin
from server.services.months import current_month
from server.services.outbox import enqueue
from server.services.phones import PhoneError, is_short_code, normalize_phone
from server.services.rules import RuleSet
from server.services.signals import signal
from server.services.sms.grammar import (
    DigitReply,
    Done,
    FreeText,
    Help,
    ListVisits,
    Miss,
    OptIn,
    OptOut,
    UsageError,
    parse_elder,
    parse_opt,
    parse_worker,
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


def handle_inbound(
    session: Session,
    ctx: InboundContext,
    *,
    sender: str,
    body: str,
    sid: str | None,
    now: datetime,
) -> InboundResult:
    """Store and act on one inbound SMS; the caller commits."""
    try:
        phone = normalize_phone(sender)
    except PhoneError:
        phone = sender.strip()[:32] or "unknown"
    short_code = is_short_code(sender)
    worker = (
        None
        if short_code
        else session.scalar(select(Worker).where(Worker.phone == phone, Worker.active.is_(True)))
    )
    elders = [] if short_code else _elders_with_phone(session, phone)
    elder = _elder_addressed(session, elders, now) if elders else None
    message_id = _store(session, phone, body or "", sid, worker, elder, now)
    if message_id is None:
        # A MessageSid seen before (a retry, or a concurrent replay that got there first).
        stored = session.scalar(
            select(SmsMessage).where(SmsMessage.provider_sid == sid, SmsMessage.direction == "in")
        )
        if stored is None:
            return InboundResult(None, None, duplicate=True, handled_as="duplicate")
        return _repeat(session, stored)
    message = InboundMessage(
        message_id, phone, sid, worker.id if worker else None, elder.id if elder else None
    )
    if short_code:
        # Never answer automated senders: two robots would answer each other forever.
        return InboundResult(message, None, handled_as="short_code")

    reply: Reply | None
    opt = parse_opt(body or "")
    if opt is not None:
        reply = _opt(session, opt, phone, worker, elders, now)
        kind = "opt_in" if isinstance(opt, OptIn) else "opt_out"
    elif worker is not None:
        reply, kind = _worker(session, ctx, message, worker, body or "", now), "worker"
    elif elder is not None:
        reply, kind = _elder(session, ctx, message, elder, body or "", now)
    else:
        reply, kind = _unknown(session, ctx, phone, body or "", now), "unknown_sender"
    return _answer(session, ctx, message, reply, now, kind)


# --- answering -----------------------------------------------------------------------------


def _answer(
    session: Session,
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
    session.execute(
        insert(SmsMessage).values(
            direction="out",
            phone=message.phone,
            worker_id=message.worker_id,
            elder_id=message.elder_id,
            template=reply.template,
            params=reply.params,
            locale=reply.locale,
            body=text,
            status="sent",  # handed to the provider in the webhook's TwiML answer
            created_at=now,
            sent_at=now,
            in_reply_to_id=message.id,
        )
    )
    return InboundResult(message, text, handled_as=kind)


def _repeat(session: Session, stored: SmsMessage) -> InboundResult:
    """A MessageSid seen before: nothing is done again; the same answer is given."""
    answer = session.scalar(
        select(SmsMessage.body).where(SmsMessage.in_reply_to_id == stored.id).limit(1)
    )
    message = InboundMessage(
        stored.id, stored.phone, stored.provider_sid, stored.worker_id, stored.elder_id
    )
    return InboundResult(message, answer, duplicate=True, handled_as="duplicate")


def _store(
    session: Session,
    phone: str,
    body: str,
    sid: str | None,
    worker: Worker | None,
    elder: Elder | None,
    now: datetime,
) -> int | None:
    """Insert the inbound message; None when its MessageSid is already stored.

    One statement (INSERT .. ON CONFLICT DO NOTHING RETURNING): concurrent replays of one
    MessageSid wait for each other in the database and exactly one of them goes on.
    """
    values = {
        "direction": "in",
        "phone": phone,
        "body": body,
        "provider_sid": sid,
        "status": "received",
        "worker_id": worker.id if worker else None,
        "elder_id": elder.id if elder else None,
        "created_at": now,
        "status_at": now,
    }
    dialect = session.get_bind().dialect.name
    if not sid or dialect not in ("postgresql", "sqlite"):
        return session.scalar(insert(SmsMessage).values(**values).returning(SmsMessage.id))
    from sqlalchemy.dialects import postgresql, sqlite

    upsert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (
        upsert(SmsMessage)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["provider_sid"])
        .returning(SmsMessage.id)
    )
    return session.scalar(statement)


# --- who wrote -----------------------------------------------------------------------------


def _elders_with_phone(session: Session, phone: str) -> list[Elder]:
    return list(
        session.scalars(
            select(Elder).where(Elder.phone == phone, Elder.status == "active").order_by(Elder.id)
        )
    )


def _elder_addressed(session: Session, elders: list[Elder], now: datetime) -> Elder:
    """Of elders sharing a phone (a couple), the one we last asked something."""
    if len(elders) == 1:
        return elders[0]
    last = session.scalar(
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


# --- opt-out and opt-in, before anything else ---------------------------------------------------


def _opt(
    session: Session,
    opt: OptOut | OptIn,
    phone: str,
    worker: Worker | None,
    elders: list[Elder],
    now: datetime,
) -> Reply:
    stop = isinstance(opt, OptOut)
    session.execute(update(Worker).where(Worker.phone == phone).values(sms_opted_out=stop))
    for elder in elders:
        was = elder.sms_opted_out
        elder.sms_opted_out = stop
        elder.sms_opted_out_at = now if stop else None
        contact = elder.primary_contact
        if stop and not was and contact is not None and contact.active:
            # Visits go on; the contact is asked to call instead of relying on SMS.
            enqueue(
                session,
                phone=contact.phone,
                template="contact_call_instead",
                params={"elder_name": elder.name},
                locale=contact.locale,
                worker_id=contact.id,
                now=now,
            )
    locale = worker.locale if worker else (elders[0].locale if elders else "zh_CN")
    return Reply("elder_optout_confirm" if stop else "elder_optin_confirm", locale)


# --- workers ----------------------------------------------------------------------------------


def _elder_by_code(session: Session, code: str) -> Elder | None:
    return session.scalar(select(Elder).where(Elder.code == code.upper()))


def _open_codes(session: Session, worker: Worker, month: str) -> list[str]:
    """The codes of the elders the worker still owes a visit this month, soonest due first."""
    codes: list[str] = []
    for code in session.scalars(
        select(Elder.code)
        .join(Visit, Visit.elder_id == Elder.id)
        .where(Visit.worker_id == worker.id, Visit.month == month, Visit.status == "planned")
        .order_by(Visit.due_date, Visit.id)
    ):
        if code not in codes:
            codes.append(code)
    return codes


def _open_count(session: Session, worker: Worker, month: str) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(Visit)
            .where(Visit.worker_id == worker.id, Visit.month == month, Visit.status == "planned")
        )
        or 0
    )


def _worker(
    session: Session,
    ctx: InboundContext,
    message: InboundMessage,
    worker: Worker,
    body: str,
    now: datetime,
) -> Reply:
    parsed = parse_worker(body)
    month = current_month(ctx.tz, now)
    usage = "worker_usage_help"
    if isinstance(parsed, UsageError):
        return Reply(usage, worker.locale, parsed.params())
    if isinstance(parsed, ListVisits):
        codes = _open_codes(session, worker, month)
        return Reply("worker_list_reply", worker.locale, {"count": len(codes), "codes": codes})
    if isinstance(parsed, Done | Miss):
        elder = _elder_by_code(session, parsed.code)
        if elder is None and isinstance(parsed, Done):
            alternative = parsed.alternative()
            if alternative is not None and _elder_by_code(session, alternative.code) is not None:
                parsed = alternative
                elder = _elder_by_code(session, parsed.code)
        if elder is None:
            return Reply(usage, worker.locale, {"problem": "unknown_code", "got": parsed.code})
        visit = session.scalar(
            select(Visit)
            .where(
                Visit.worker_id == worker.id,
                Visit.month == month,
                Visit.status == "planned",
                Visit.elder_id == elder.id,
            )
            .order_by(Visit.due_date, Visit.id)
            .limit(1)
        )
        if visit is None:
            return Reply(usage, worker.locale, {"problem": "no_open_visit", "got": elder.code})
        done = isinstance(parsed, Done)
        data = CheckInInput(
            client_id=f"sms-{message.provider_sid or message.id}"[:64],
            occurred_at=now,
            outcome="seen" if done else "not_home",
            mood=parsed.mood if isinstance(parsed, Done) else None,
            note=(parsed.note if isinstance(parsed, Done) else parsed.reason) or None,
        )
        checkin, created = record_checkin(session, visit, worker, data, "sms", ctx.tz, now)
        if created:
            after_checkin(session, visit, checkin, worker, now, rules=ctx.rules, tz=ctx.tz)
        remaining = _open_count(session, worker, month)
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
        elder = _elder_by_code(session, parsed.code)
        if elder is None or not _related(session, worker, elder):
            return Reply(usage, worker.locale, {"problem": "unknown_code", "got": parsed.code})
        text = tidy(parsed.text)
        result = signal(
            session, ctx.rules, "worker_help", elder,
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


def _related(session: Session, worker: Worker, elder: Elder) -> bool:
    """A worker may raise help for elders they are a contact for or hold a visit of."""
    if worker.id in (elder.primary_contact_id, elder.secondary_contact_id):
        return True
    return bool(
        session.scalar(
            select(func.count())
            .select_from(Visit)
            .where(Visit.elder_id == elder.id, Visit.worker_id == worker.id)
        )
    )


# --- elders -----------------------------------------------------------------------------------


def _elder(
    session: Session,
    ctx: InboundContext,
    message: InboundMessage,
    elder: Elder,
    body: str,
    now: datetime,
) -> tuple[Reply | None, str]:
    if detect_crisis(body) is not None:
        signal(
            session, ctx.rules, "elder_reply", elder, {"crisis_words": True},
            tz=ctx.tz, now=now, data={"sms_id": message.id},
        )  # fmt: skip
        return Reply("elder_crisis_reply", elder.locale, {"hotline": ctx.hotline}), "crisis"
    parsed = parse_elder(body)
    if isinstance(parsed, DigitReply):
        question = _last_question(session, elder, now)
        if question is not None:
            answered = _answer_question(session, ctx, message, elder, question, parsed.n, now)
            if answered is not None:
                return answered
    text = parsed.text if isinstance(parsed, DigitReply | FreeText) else body
    contact = elder.primary_contact
    if contact is not None and contact.active and text.strip():
        enqueue(
            session,
            phone=contact.phone,
            template="elder_message_forward",
            params={"elder_code": elder.code, "text": tidy(text)},
            locale=contact.locale,
            worker_id=contact.id,
            elder_id=None,
            now=now,
        )
    return Reply("elder_ack", elder.locale), "forwarded"


def _last_question(session: Session, elder: Elder, now: datetime) -> SmsMessage | None:
    question = session.scalar(
        select(SmsMessage)
        .where(
            SmsMessage.direction == "out",
            SmsMessage.elder_id == elder.id,
            SmsMessage.question.is_not(None),
            SmsMessage.status.not_in(("queued", "held", "canceled", "failed")),
        )
        .order_by(SmsMessage.created_at.desc(), SmsMessage.id.desc())
        .limit(1)
    )
    if question is None or question.question not in QUESTION_MAX_AGE:
        return None
    sent = question.sent_at or question.created_at
    if now - sent > QUESTION_MAX_AGE[question.question]:
        return None
    return question


def _answer_question(
    session: Session,
    ctx: InboundContext,
    message: InboundMessage,
    elder: Elder,
    question: SmsMessage,
    n: int,
    now: datetime,
) -> tuple[Reply, str] | None:
    if question.question == "rating" and 1 <= n <= 5 and question.visit_id is not None:
        visit = session.get(Visit, question.visit_id)
        if visit is None:
            return None
        visit.rating = n
        visit.rated_at = now
        session.execute(
            update(SmsMessage).where(SmsMessage.id == message.id).values(visit_id=visit.id)
        )
        return Reply("elder_rating_thanks", elder.locale, {"rating": n}), "rating"
    if question.question == "wellness" and n in (1, 2, 3):
        # The rules decide what 2 and 3 open; the answer to the elder follows the digit.
        signal(
            session, ctx.rules, "elder_reply", elder,
            {"question": "wellness", "answer": n, "crisis_words": False},
            tz=ctx.tz, now=now, data={"sms_id": message.id, "answer": n},
        )  # fmt: skip
        if n == 1:
            return Reply("elder_ack", elder.locale), "wellness_fine"
        if n == 2:
            return Reply("elder_help_ack", elder.locale), "wellness_help"
        return Reply("elder_talk_ack", elder.locale, {"hotline": ctx.hotline}), "wellness_talk"
    return None


# --- strangers ----------------------------------------------------------------------------------


def _unknown(
    session: Session, ctx: InboundContext, phone: str, body: str, now: datetime
) -> Reply | None:
    """One polite answer a day at most to a number we do not know."""
    recent = session.scalar(
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

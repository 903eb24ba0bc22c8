"""The dispatcher, through which every outbox row leaves, and the status callbacks' updates.

A row's way out:
1. Claim. Due rows (pending and `not_before` passed, or claimed by a dispatcher whose claim
   lapsed: it died mid-batch) are claimed in small batches: on PostgreSQL `SELECT ... FOR
   UPDATE SKIP LOCKED`, then `claimed_by`/`claimed_until` set and committed before anything
   is sent. The UPDATE repeats the "due" condition, so on SQLite, which has no row locks but
   one writer at a time, two dispatchers cannot claim one row either.
2. Decide, per row: an opted-out recipient's automated message is cancelled; a non-urgent
   message in the quiet hours (21:00-08:00 TANFANG_TIMEZONE) waits for 08:00; the body is
   rendered now (template + params + locale: the recipient's language as it is today) and a
   text identical to one sent to the same number within 24 hours is held back, because
   Chinese carriers reject repeats. Urgent rows (crisis messages, one-time codes) skip all
   three.
3. Send at TANFANG_SMS_RATE (monotonic pacing), then commit that one row's outcome at once.
   Temporary failures (429, 5xx, timeouts, no connection) are retried with exponential
   backoff and jitter up to `max_attempts`; permanent ones stop (21610 marks the phone opted
   out, 21211/21614/30006... flag it for a worker to check).

Delivery is at least once, and exactly once in practice. The one window is between the
provider taking a message and our commit of its sid (milliseconds: the commit follows the
answer directly). A dispatcher killed in that window leaves its row claimed without a sid;
the next dispatcher takes the row back when the claim lapses and, before sending, asks the
provider for the messages it took for that number since the row was queued: a message with
the same body and a sid we do not know is adopted instead of sent again. The same check
follows a send that timed out after the request went out. Only a provider that cannot be
asked, or that has not yet listed a message it took, lets a duplicate through.

Status callbacks arrive in any order and repeat: a status only ever moves forward (queued <
sending < sent < a final one), the first final status stays, and the side effects (opt-out,
flag, another try for an unreachable handset, the `delivery_failed` hook) run on the one
transition that reaches it, so a repeated or concurrent callback does nothing more. A
callback that beats our commit of the sid finds nothing and is dropped; Twilio's later
callbacks (sent, delivered) still land, and those are the ones that matter.

The dispatcher owns its transactions (claim, then one commit per message): committing each
message right after its send is the point. The per-message rules below are plain functions
that take a session and never commit.
"""

from __future__ import annotations

import functools
import itertools
import logging
import os
import random
import socket
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import and_, exists, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, contains_eager, joinedload, sessionmaker

from server.adapters.sms.base import (
    BAD_NUMBER_CODES,
    OPTED_OUT_CODES,
    UNREACHABLE_CODES,
    SendError,
    SendResult,
    SentRecord,
    SmsBackend,
    TemplateRef,
    TemporarySendError,
)
from server.config import Config
from server.db import utcnow
from server.models import Elder, OutboxItem, SmsMessage, Worker
from server.services.outbox import enqueue
from server.services.rules import RuleSet, load_rules
from server.services.sms.segments import segments
from server.vocab import SMS_STATUSES

log = logging.getLogger(__name__)

Renderer = Callable[[str, str, Mapping[str, Any]], str]
"""(template name, locale, params) -> the text to send."""
Clock = Callable[[], datetime]

STATUS_CALLBACK_PATH = "/sms/status"
# `OutboxItem.last_error` of a row whose last try may have gone out: check before resending.
IN_DOUBT = "in doubt: "

# The order of a message's statuses; a callback never moves a message back. Every final
# status has the same rank, so the first one to arrive stays (a late `undelivered` does not
# undo `delivered`).
STATUS_RANK: Mapping[str, int] = {
    "queued": 0,
    "accepted": 0,
    "scheduled": 0,
    "sending": 1,
    "sent": 2,
    "delivered": 3,
    "undelivered": 3,
    "failed": 3,
    "canceled": 3,
}
FINAL_STATUSES = frozenset(s for s, rank in STATUS_RANK.items() if rank == 3)
FAILED_STATUSES = frozenset({"undelivered", "failed"})
# Twilio statuses we store as another: `read` (WhatsApp, RCS) is a delivered message.
STATUS_ALIASES: Mapping[str, str] = {"read": "delivered", "partially_delivered": "delivered"}

Outcome = Literal[
    "sent", "reconciled", "retrying", "failed", "cancelled", "held", "deferred", "lost_claim"
]


# --- settings -----------------------------------------------------------------------------


@dataclass(frozen=True)
class DispatchPolicy:
    """How the dispatcher paces, retries and waits; defaults from SPEC sections 2 and 8."""

    rate: float = 1.0  # messages per second (TANFANG_SMS_RATE)
    batch_size: int | None = None  # rows per claim; default about 5 s of sending
    claim_lease: timedelta = timedelta(seconds=60)
    max_attempts: int = 6  # sends of one message, redeliveries after 30003 included
    backoff_base: timedelta = timedelta(seconds=15)
    backoff_cap: timedelta = timedelta(minutes=30)
    redelivery_base: timedelta = timedelta(minutes=20)  # a handset off (30003)
    redelivery_cap: timedelta = timedelta(hours=6)
    quiet_start: clock_time = clock_time(21, 0)
    quiet_end: clock_time = clock_time(8, 0)
    timezone: str = "Asia/Shanghai"
    locale: str = "zh_CN"  # for a message stored without one
    dedupe_window: timedelta = timedelta(hours=24)
    status_callback: str | None = None  # TANFANG_PUBLIC_URL + /sms/status
    rules_path: str | None = None  # TANFANG_RULES, for the delivery_failed signal

    @classmethod
    def from_config(cls, config: Config, **overrides: Any) -> DispatchPolicy:
        """The policy of a deployment: its rate, zone, default locale and callback URL."""
        policy = cls(
            rate=config.sms_rate,
            timezone=config.timezone,
            locale=config.locale,
            status_callback=config.public_url + STATUS_CALLBACK_PATH,
            rules_path=config.rules_path,
        )
        known = {f.name for f in fields(cls)}
        return replace(policy, **{k: v for k, v in overrides.items() if k in known})

    @property
    def tz(self) -> ZoneInfo:
        """The zone of the quiet hours."""
        return ZoneInfo(self.timezone)

    @property
    def batch(self) -> int:
        """Rows claimed at once: about five seconds of sending, 1-50."""
        if self.batch_size is not None:
            return max(1, self.batch_size)
        return max(1, min(50, int(self.rate * 5)))

    @property
    def lease(self) -> timedelta:
        """How long a claim lasts: the configured lease, and never less than a few sends. It
        must stay well above the backend's timeout (10 s for Twilio), since claims are renewed
        between sends only."""
        return max(self.claim_lease, timedelta(seconds=3 / self.rate + 1))

    def backoff(self, attempts: int, rng: random.Random) -> timedelta:
        """The wait after `attempts` failed sends: base * 2^(attempts-1), capped, times a
        random 0.5-1 so that rows failed together do not retry together."""
        return _exponential(self.backoff_base, self.backoff_cap, attempts, rng)

    def redelivery(self, attempts: int, rng: random.Random) -> timedelta:
        """The wait before another try for a handset that was off (30003)."""
        return _exponential(self.redelivery_base, self.redelivery_cap, attempts, rng)


def _exponential(base: timedelta, cap: timedelta, attempts: int, rng: random.Random) -> timedelta:
    raw = min(cap.total_seconds(), base.total_seconds() * 2 ** max(attempts - 1, 0))
    return timedelta(seconds=raw * rng.uniform(0.5, 1.0))


def template_renderer(config: Config) -> Renderer:
    """The shipped `sms_templates/` (loaded on first use), zh_CN bodies signed with
    TANFANG_SMS_SIGNATURE and dates in TANFANG_TIMEZONE."""
    from server.services.sms.templates import TemplateSet, load_templates

    loaded: list[TemplateSet] = []

    def render(name: str, locale: str, params: Mapping[str, Any]) -> str:
        if not loaded:
            loaded.append(load_templates())
        return loaded[0].render(name, locale, params, signature=config.sms_signature, tz=config.tz)

    return render


# --- pacing -------------------------------------------------------------------------------


class Pacer:
    """Spaces sends 1/rate seconds apart on the monotonic clock (GCRA).

    A send may start up to a tenth of an interval early to make up for the sleep's overshoot,
    so the long-run rate is the configured one, while two sends never start closer than
    0.9/rate and no window of t seconds holds more than rate·t + 1 sends: a provider limiting
    us to `rate` per second with a bucket of two never answers 429. A slot missed by a slow
    send is lost; `burst` n lets n such slots be made up at once."""

    SLACK = 0.1  # of an interval

    def __init__(
        self,
        rate: float,
        *,
        burst: int = 0,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.interval = 1.0 / rate
        self.tolerance = self.interval * (max(burst, 0) + self.SLACK)
        self.monotonic = monotonic
        self.sleep = sleep
        self._tat: float | None = None  # the theoretical time of the next send

    def wait(self) -> None:
        """Block until the next send may start."""
        now = self.monotonic()
        tat = now if self._tat is None else self._tat
        earliest = tat - self.tolerance
        if earliest > now:
            self.sleep(earliest - now)
            now = self.monotonic()
        self._tat = max(tat, now) + self.interval


# --- the rules applied to one message -------------------------------------------------------


def recipient_locale(session: Session, message: SmsMessage) -> str | None:
    """The recipient's language as it is now (it may have changed since the message was
    queued), else the one stored with the message."""
    person: Worker | Elder | None = None
    if message.worker_id is not None:
        person = session.get(Worker, message.worker_id)
    elif message.elder_id is not None:
        person = session.get(Elder, message.elder_id)
    return person.locale if person is not None and person.locale else message.locale


def quiet_until(now: datetime, policy: DispatchPolicy) -> datetime | None:
    """When the quiet hours `now` falls in end (UTC), or None in daytime."""
    tz = policy.tz
    local = now.astimezone(tz)
    t, start, end = local.time(), policy.quiet_start, policy.quiet_end
    quiet = (start <= t < end) if start <= end else (t >= start or t < end)
    if not quiet:
        return None
    day = local.date() if t < end else local.date() + timedelta(days=1)
    return datetime.combine(day, end, tzinfo=tz).astimezone(UTC)


def phone_opted_out(session: Session, phone: str) -> bool:
    """True when an elder or worker with this phone has stopped automated messages (an
    opt-out is per phone: a shared household phone stops for everyone on it)."""
    return bool(
        session.scalar(
            select(
                or_(
                    exists().where(Elder.phone == phone, Elder.sms_opted_out.is_(True)),
                    exists().where(Worker.phone == phone, Worker.sms_opted_out.is_(True)),
                )
            )
        )
    )


# An elder or worker with the message's number has stopped automated messages (correlated to
# the message in the query that loads an outbox row).
_OPTED_OUT = or_(
    exists().where(Elder.phone == SmsMessage.phone, Elder.sms_opted_out.is_(True)),
    exists().where(Worker.phone == SmsMessage.phone, Worker.sms_opted_out.is_(True)),
).label("opted_out")


def mark_opted_out(session: Session, phone: str, now: datetime) -> None:
    """Record that this phone stopped our messages at the provider (error 21610)."""
    session.execute(
        update(Elder)
        .where(Elder.phone == phone, Elder.sms_opted_out.is_(False))
        .values(sms_opted_out=True, sms_opted_out_at=now)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(Worker)
        .where(Worker.phone == phone, Worker.sms_opted_out.is_(False))
        .values(sms_opted_out=True)
        .execution_options(synchronize_session=False)
    )


def flag_phone(session: Session, phone: str) -> None:
    """Flag this phone for a worker to check: it cannot receive SMS."""
    for model in (Elder, Worker):
        session.execute(
            update(model)
            .where(model.phone == phone, model.phone_flagged.is_(False))
            .values(phone_flagged=True)
            .execution_options(synchronize_session=False)
        )


def duplicate_of(
    session: Session, message: SmsMessage, body: str, since: datetime
) -> SmsMessage | None:
    """An earlier message with the same text that reached the provider for the same number
    since `since` (not one the provider refused or could not deliver)."""
    return session.scalars(
        select(SmsMessage)
        .where(
            SmsMessage.direction == "out",
            SmsMessage.phone == message.phone,
            SmsMessage.id != message.id,
            SmsMessage.provider_sid.is_not(None),
            SmsMessage.sent_at >= since,
            SmsMessage.status.not_in(FAILED_STATUSES),
            SmsMessage.body == body,
        )
        .order_by(SmsMessage.sent_at.desc())
        .limit(1)
    ).first()


def is_to_elder(session: Session, message: SmsMessage) -> bool:
    """True when the message went to the elder it is about (not to a contact about them)."""
    if message.elder_id is None:
        return False
    phone = session.scalar(select(Elder.phone).where(Elder.id == message.elder_id))
    return phone == message.phone


def on_delivery_failed(
    session: Session, message: SmsMessage, policy: DispatchPolicy, now: datetime
) -> None:
    """The `delivery_failed` signal of the escalation rules (SPEC section 10).

    Called, in the caller's transaction (it must not commit), once per message sent to an
    elder that could not be delivered for good: refused by the provider (a bad number,
    retries used up), or reported `undelivered`/`failed` by a status callback (after the
    redeliveries for a handset that was off). Not called when the elder opted out: that is
    their choice, handled by the opt-out flow.
    """
    from server.services.signals import signal

    elder = session.get(Elder, message.elder_id) if message.elder_id else None
    if elder is None or elder.status != "active":
        return
    log.info(
        "delivery_failed: message %s (template %s, error %s)",
        message.id,
        message.template,
        message.error_code,
    )
    signal(
        session, _rules(policy.rules_path), "delivery_failed", elder,
        {"recipient": "elder", "error_code": message.error_code},
        tz=policy.tz, now=now, data={"sms_id": message.id},
    )  # fmt: skip


@functools.lru_cache(maxsize=4)
def _rules(path: str | None) -> RuleSet:
    return load_rules(path)


def _failed_for_good(
    session: Session,
    message: SmsMessage,
    code: int | None,
    now: datetime,
    policy: DispatchPolicy,
) -> None:
    """Side effects of a message that will never arrive."""
    if code in OPTED_OUT_CODES:
        mark_opted_out(session, message.phone, now)
        log.info("message %s: recipient opted out at the provider (%s)", message.id, code)
        return
    if code in BAD_NUMBER_CODES:
        flag_phone(session, message.phone)
        log.info("message %s: number flagged for checking (%s)", message.id, code)
    if is_to_elder(session, message):
        on_delivery_failed(session, message, policy, now)


def _storable(status: str) -> str:
    status = STATUS_ALIASES.get(status, status)
    return status if status in SMS_STATUSES and status in STATUS_RANK else "queued"


# --- status callbacks ---------------------------------------------------------------------

StatusOutcome = Literal["updated", "unchanged", "unknown", "ignored"]


def record_status(
    session: Session,
    *,
    sid: str,
    status: str,
    error_code: int | None,
    now: datetime,
    policy: DispatchPolicy,
    rng: random.Random | None = None,
) -> StatusOutcome:
    """Apply one status callback to the message with provider sid `sid`; never moves a status
    back, so callbacks may come in any order and any number of times. On the transition to a
    final failure: 30003 queues another try (bounded), 21610 marks the phone opted out,
    30006 and other bad-number codes flag it, and an elder's message calls
    `on_delivery_failed`. The caller commits."""
    status = STATUS_ALIASES.get(status.strip().lower(), status.strip().lower())
    if status not in STATUS_RANK:
        return "ignored"  # receiving/received belong to inbound messages
    rank = STATUS_RANK[status]
    earlier = [s for s, r in STATUS_RANK.items() if r < rank]
    values: dict[str, Any] = {"status": status, "status_at": now}
    if error_code:
        values["error_code"] = error_code
    # One conditional UPDATE: atomic on SQLite and PostgreSQL, so of two concurrent callbacks
    # only one makes the transition and runs its side effects.
    result = session.execute(
        update(SmsMessage)
        .where(SmsMessage.provider_sid == sid, SmsMessage.status.in_(earlier))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 0) != 1:
        known = session.scalar(select(SmsMessage.id).where(SmsMessage.provider_sid == sid))
        if known is None:
            log.info("status callback for unknown message %s (%s): nothing to do", sid, status)
            return "unknown"
        return "unchanged"
    message = session.scalars(select(SmsMessage).where(SmsMessage.provider_sid == sid)).one()
    session.refresh(message)
    if status in FAILED_STATUSES:
        code = error_code or message.error_code
        if code in UNREACHABLE_CODES and redeliver(session, message, now, policy, rng):
            return "updated"
        _failed_for_good(session, message, code, now, policy)
    return "updated"


def redeliver(
    session: Session,
    message: SmsMessage,
    now: datetime,
    policy: DispatchPolicy,
    rng: random.Random | None = None,
) -> SmsMessage | None:
    """Queue the same message again, later, for a handset that was off (30003): a new outbox
    row (the undelivered one stays as it was), while the sends of this message stay under
    `max_attempts`. None when the tries are used up."""
    item = session.scalar(select(OutboxItem).where(OutboxItem.message_id == message.id))
    attempts = item.attempts if item is not None else 1
    if message.template is None or attempts >= policy.max_attempts:
        return None
    again = enqueue(
        session,
        phone=message.phone,
        template=message.template,
        params=dict(message.params or {}),
        locale=message.locale or policy.locale,
        urgent=item.urgent if item is not None else False,
        not_before=now + policy.redelivery(attempts, rng or random.Random()),
        worker_id=message.worker_id,
        elder_id=message.elder_id,
        agency_id=message.agency_id,
        visit_id=message.visit_id,
        case_id=message.case_id,
        question=message.question,
        now=now,
    )
    new_item = session.scalars(select(OutboxItem).where(OutboxItem.message_id == again.id)).one()
    new_item.attempts = attempts
    new_item.last_error = f"redelivery of message {message.id} (handset unreachable)"
    log.info("message %s: handset unreachable, trying again as message %s", message.id, again.id)
    return again


# --- the dispatcher -----------------------------------------------------------------------


@dataclass
class DispatchReport:
    """What one dispatcher run did, row by row."""

    sent: int = 0
    reconciled: int = 0  # an in-doubt send found at the provider, not sent again
    retrying: int = 0
    failed: int = 0
    cancelled: int = 0
    held: int = 0
    deferred: int = 0
    lost_claim: int = 0
    batches: int = 0

    def count(self, outcome: Outcome) -> None:
        """Add one row's outcome."""
        setattr(self, outcome, getattr(self, outcome) + 1)

    def add(self, other: DispatchReport) -> None:
        """Add another run's counts to these."""
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    @property
    def handled(self) -> int:
        """Rows that left the claimed state in this run."""
        return sum(getattr(self, f.name) for f in fields(self) if f.name != "batches")


@dataclass(frozen=True)
class _Outgoing:
    """A decided message, ready to go: plain values, so no session is open while sending."""

    item_id: int
    message_id: int
    phone: str
    body: str
    segments: int
    template: TemplateRef
    in_doubt: bool
    since: datetime  # the row's creation: nothing for it can have gone out earlier


def dispatcher_name() -> str:
    """This dispatcher's identity in `claimed_by`: host, pid and a random part."""
    return f"{socket.gethostname()[:24]}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@dataclass
class Dispatcher:
    """Sends the outbox. One per thread or process; any number may run at once."""

    sessions: sessionmaker[Session]
    backend: SmsBackend
    renderer: Renderer
    policy: DispatchPolicy = field(default_factory=DispatchPolicy)
    clock: Clock = utcnow
    pacer: Pacer | None = None
    rng: random.Random = field(default_factory=random.Random)
    name: str = field(default_factory=dispatcher_name)
    monotonic: Callable[[], float] = time.monotonic

    def __post_init__(self) -> None:
        if self.pacer is None:
            self.pacer = Pacer(self.policy.rate, monotonic=self.monotonic)
        self._batches = itertools.count(1)
        self._token: str | None = None
        self._claimed_until: datetime | None = None

    # -- the loop --

    def run_once(
        self,
        *,
        budget_s: float | None = None,
        keep_going: Callable[[], bool] | None = None,
    ) -> DispatchReport:
        """Send everything due now, batch after batch, until nothing is due, `budget_s`
        seconds have passed or `keep_going()` says stop (a lost lease); rows claimed but not
        reached are handed back."""
        report = DispatchReport()
        deadline = None if budget_s is None else self.monotonic() + budget_s
        while True:
            batch = self.claim_batch()
            if not batch:
                return report
            report.batches += 1
            for index, (item_id, stale) in enumerate(batch):
                out_of_time = deadline is not None and self.monotonic() >= deadline
                if out_of_time or (keep_going is not None and not keep_going()):
                    self._hand_back([i for i, s in batch[index:] if not s])
                    return report
                report.count(self.dispatch_one(item_id, stale=stale))

    def claim_batch(self) -> list[tuple[int, bool]]:
        """Claim up to `policy.batch` due rows, most urgent and oldest first, and commit the
        claim. Each row comes with whether it was taken back from a lapsed claim. Empty only
        when nothing is due (not when another dispatcher took these rows first)."""
        for _ in range(10):
            claimed = self._claim()
            if claimed is not None:
                return claimed
        return []

    def _claim(self) -> list[tuple[int, bool]] | None:
        """One try; None when rows were due but another dispatcher claimed them all first."""
        now = self.clock()
        lease = self.policy.lease
        token = f"{self.name}#{next(self._batches)}"[:64]
        due = or_(
            and_(OutboxItem.state == "pending", OutboxItem.not_before <= now),
            and_(OutboxItem.state == "claimed", OutboxItem.claimed_until < now),
        )
        with self.sessions() as session, session.begin():
            query = (
                select(OutboxItem.id, OutboxItem.state)
                .where(due)
                .order_by(OutboxItem.urgent.desc(), OutboxItem.not_before, OutboxItem.id)
                .limit(self.policy.batch)
            )
            if session.get_bind().dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            rows = session.execute(query).all()
            if not rows:
                return []
            ids = [row.id for row in rows]
            session.execute(
                update(OutboxItem)
                .where(OutboxItem.id.in_(ids), due)
                .values(state="claimed", claimed_by=token, claimed_until=now + lease)
                .execution_options(synchronize_session=False)
            )
            mine = set(
                session.scalars(
                    select(OutboxItem.id).where(
                        OutboxItem.id.in_(ids), OutboxItem.claimed_by == token
                    )
                )
            )
        if not mine:
            return None
        self._token, self._claimed_until = token, now + lease
        stale = {row.id for row in rows if row.state == "claimed"}
        if stale & mine:
            log.warning("dispatcher %s took back %d lapsed claim(s)", self.name, len(stale & mine))
        return [(i, i in stale) for i in ids if i in mine]

    def dispatch_one(self, item_id: int, *, stale: bool = False) -> Outcome:
        """Decide about one claimed row and send it if it is to go; its outcome is committed
        before this returns."""
        self._renew_claims_if_due()
        with self.sessions() as session:
            # The row, its message and whether its number opted out, in one round trip.
            found = session.execute(
                select(OutboxItem, _OPTED_OUT)
                .join(OutboxItem.message)
                .options(contains_eager(OutboxItem.message))
                .where(OutboxItem.id == item_id)
            ).first()
            if found is None:
                return "lost_claim"
            item, opted_out = found
            if item.state != "claimed" or item.claimed_by != self._token:
                return "lost_claim"
            decided = self._decide(session, item, self.clock(), stale, opted_out=bool(opted_out))
            if not isinstance(decided, _Outgoing):
                session.commit()
                return decided
        return self._send(decided)

    # -- deciding --

    def _decide(
        self,
        session: Session,
        item: OutboxItem,
        now: datetime,
        stale: bool,
        *,
        opted_out: bool | None = None,
    ) -> Outcome | _Outgoing:
        message = item.message
        if opted_out is None:
            opted_out = phone_opted_out(session, message.phone)
        if not item.urgent and opted_out:
            self._finish(item, message, now, "cancelled", "canceled", "recipient opted out")
            return "cancelled"
        if not item.urgent:
            until = quiet_until(now, self.policy)
            if until is not None:
                item.state, item.not_before = "pending", until
                item.claimed_by = item.claimed_until = None
                return "deferred"
        locale = recipient_locale(session, message) or self.policy.locale
        message.locale = locale
        params = dict(message.params or {})
        if message.template is None:
            body = message.body  # a text stored ready-made
        else:
            try:
                body = self.renderer(message.template, locale, params)
            except Exception as exc:  # a template that does not fit its params never will
                log.error(
                    "message %s: template %s cannot be rendered (%s)",
                    message.id,
                    message.template,
                    type(exc).__name__,
                )
                self._finish(item, message, now, "failed", "failed", f"template: {exc}")
                return "failed"
        _encoding, count = segments(body)
        message.body, message.segments = body, count
        if not item.urgent:
            # No autoflush: the body and segments just set are written with the outcome, not
            # as an extra UPDATE of the message (seven indexes) before this look-up.
            with session.no_autoflush:
                earlier = duplicate_of(session, message, body, now - self.policy.dedupe_window)
            if earlier is not None:
                self._finish(
                    item,
                    message,
                    now,
                    "cancelled",
                    "held",
                    f"held: the same text went to this number as message {earlier.id}"
                    " within 24 hours (carriers reject repeats)",
                )
                return "held"
        return _Outgoing(
            item_id=item.id,
            message_id=message.id,
            phone=message.phone,
            body=body,
            segments=count,
            template=TemplateRef(message.template or "", params, locale),
            in_doubt=stale or (item.last_error or "").startswith(IN_DOUBT),
            since=item.created_at,
        )

    @staticmethod
    def _finish(
        item: OutboxItem,
        message: SmsMessage,
        now: datetime,
        state: str,
        status: str,
        reason: str,
    ) -> None:
        item.state, item.finished_at, item.claimed_until = state, now, None
        item.last_error = reason
        message.status, message.status_at = status, now

    # -- sending --

    def _send(self, out: _Outgoing) -> Outcome:
        if out.in_doubt:
            try:
                earlier = self._find_sent(out)
            except SendError as exc:
                return self._record_failure(out, TemporarySendError(exc.describe(), in_doubt=True))
            if earlier is not None:
                result = SendResult(earlier.sid, earlier.status, earlier.segments)
                return self._record_success(out, result, reconciled=True)
        assert self.pacer is not None
        self.pacer.wait()
        try:
            result = self.backend.send(
                out.phone,
                out.body,
                status_callback=self.policy.status_callback,
                template=out.template,
            )
        except SendError as exc:
            return self._record_failure(out, exc)
        except Exception as exc:  # a bug or an odd answer: it may have gone, try later
            log.exception(
                "outbox %s: unexpected error from the %s backend", out.item_id, self.backend.name
            )
            return self._record_failure(out, TemporarySendError(type(exc).__name__, in_doubt=True))
        return self._record_success(out, result)

    def _find_sent(self, out: _Outgoing) -> SentRecord | None:
        """The provider's record of this message if an earlier try did go out."""
        records = self.backend.recent(out.phone, out.since - timedelta(minutes=5))
        with self.sessions() as session:
            for record in records:
                if record.body != out.body or not record.sid:
                    continue
                known = session.scalar(
                    select(SmsMessage.id).where(SmsMessage.provider_sid == record.sid)
                )
                if known is None:
                    return record
        return None

    def _record_success(
        self, out: _Outgoing, result: SendResult, *, reconciled: bool = False
    ) -> Outcome:
        now = self.clock()
        status = _storable(result.status)
        done = {
            "state": "sent",
            "finished_at": now,
            "claimed_until": None,
            "attempts": OutboxItem.attempts + 1,
            "last_error": None,
        }
        with self.sessions() as session:
            # Two UPDATEs and a commit: this is the window in which a crash sends twice.
            claimed = session.execute(
                update(OutboxItem)
                .where(
                    OutboxItem.id == out.item_id,
                    OutboxItem.claimed_by == self._token,
                    OutboxItem.state == "claimed",
                )
                .values(**done)
                .execution_options(synchronize_session=False)
            )
            if getattr(claimed, "rowcount", 0) != 1:
                item, _message = self._reload(session, out)
                if item is None:
                    return "lost_claim"
                session.execute(
                    update(OutboxItem)
                    .where(OutboxItem.id == out.item_id)
                    .values(**done)
                    .execution_options(synchronize_session=False)
                )
            session.execute(
                update(SmsMessage)
                .where(SmsMessage.id == out.message_id)
                .values(
                    provider_sid=result.sid,
                    status=status,
                    error_code=result.error_code,
                    body=out.body,
                    segments=result.segments or out.segments,
                    sent_at=now,
                    status_at=now,
                )
                .execution_options(synchronize_session=False)
            )
            if status in FAILED_STATUSES:
                message = session.get(SmsMessage, out.message_id, populate_existing=True)
                if message is not None:
                    _failed_for_good(session, message, result.error_code, now, self.policy)
            try:
                session.commit()
            except IntegrityError:  # that sid is recorded on another message already
                session.rollback()
                log.error(
                    "outbox %s: provider sid already recorded; not recorded twice", out.item_id
                )
                return "lost_claim"
        if reconciled:
            log.info(
                "outbox %s: an earlier try had gone out; recorded, not sent again", out.item_id
            )
        return "reconciled" if reconciled else "sent"

    def _record_failure(self, out: _Outgoing, error: SendError) -> Outcome:
        now = self.clock()
        outcome: Outcome
        with self.sessions() as session:
            item, message = self._reload(session, out)
            if item is None or message is None:
                return "lost_claim"
            item.attempts += 1
            message.body, message.segments = out.body, out.segments
            if isinstance(error, TemporarySendError) and item.attempts < self.policy.max_attempts:
                item.state = "pending"
                item.not_before = now + self.policy.backoff(item.attempts, self.rng)
                item.claimed_by = item.claimed_until = None
                item.last_error = (IN_DOUBT if error.in_doubt else "") + error.describe()
                outcome = "retrying"
            else:
                self._finish(item, message, now, "failed", "failed", error.describe())
                message.error_code = error.code
                _failed_for_good(session, message, error.code, now, self.policy)
                outcome = "failed"
            attempts = item.attempts
            session.commit()
        log.warning(
            "outbox %s: %s (attempt %d): %s", out.item_id, error.describe(), attempts, outcome
        )
        return outcome

    def _reload(
        self, session: Session, out: _Outgoing
    ) -> tuple[OutboxItem | None, SmsMessage | None]:
        """The row and its message, if this dispatcher still holds the claim."""
        item = session.get(OutboxItem, out.item_id, options=[joinedload(OutboxItem.message)])
        if item is None:
            return None, None
        if item.state != "claimed" or item.claimed_by != self._token:
            # We stalled past the lease and another dispatcher took the row back.
            log.warning(
                "outbox %s: claim lost while sending (now %s); it may have gone out twice",
                out.item_id,
                item.state,
            )
            if item.state in ("sent", "failed", "cancelled"):
                return None, None
        return item, item.message

    # -- claims --

    def _renew_claims_if_due(self) -> None:
        """Extend this batch's claims when half the lease is gone (slow sends, timeouts)."""
        if self._token is None or self._claimed_until is None:
            return
        now = self.clock()
        lease = self.policy.lease
        if self._claimed_until - now > lease / 2:
            return
        with self.sessions() as session:
            session.execute(
                update(OutboxItem)
                .where(OutboxItem.claimed_by == self._token, OutboxItem.state == "claimed")
                .values(claimed_until=now + lease)
                .execution_options(synchronize_session=False)
            )
            session.commit()
        self._claimed_until = now + lease

    def _hand_back(self, ids: list[int]) -> None:
        """Release claims not reached, so another run need not wait for them to lapse.
        Rows taken back from a dead dispatcher keep their claim: they may have gone out."""
        if not ids or self._token is None:
            return
        with self.sessions() as session:
            session.execute(
                update(OutboxItem)
                .where(
                    OutboxItem.id.in_(ids),
                    OutboxItem.claimed_by == self._token,
                    OutboxItem.state == "claimed",
                )
                .values(state="pending", claimed_by=None, claimed_until=None)
                .execution_options(synchronize_session=False)
            )
            session.commit()


def build_dispatcher(
    sessions: sessionmaker[Session],
    config: Config,
    *,
    backend: SmsBackend | None = None,
    renderer: Renderer | None = None,
    **policy: Any,
) -> Dispatcher:
    """The dispatcher of a deployment: TANFANG_SMS_BACKEND, the shipped templates, its rate."""
    from server.adapters.sms import make_backend

    return Dispatcher(
        sessions=sessions,
        backend=backend or make_backend(config),
        renderer=renderer or template_renderer(config),
        policy=DispatchPolicy.from_config(config, **policy),
    )

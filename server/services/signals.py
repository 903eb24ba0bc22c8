"""Signals from visits, SMS and the calendar, matched against the rules: each matching rule
opens (or adds to) a case, or schedules an extra visit."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server.models import CheckIn, Elder, SmsMessage, Visit, VisitAssignment
from server.services.escalation import CaseOutcome, raise_signal
from server.services.months import local_today
from server.services.rules import RuleSet

NOT_SEEN = ("not_home", "refused")


@dataclass
class SignalResult:
    """What a signal did: cases opened or added to, extra visits scheduled."""

    cases: list[CaseOutcome] = field(default_factory=list)
    visits: list[Visit] = field(default_factory=list)

    @property
    def first_case_id(self) -> int | None:
        """The id of the first case touched, for replies that name it."""
        return self.cases[0].case.id if self.cases else None


def signal(
    session: Session,
    rules: RuleSet,
    trigger: str,
    elder: Elder,
    facts: dict[str, Any],
    *,
    tz: ZoneInfo,
    now: datetime,
    actor_id: int | None = None,
    note: str | None = None,
    data: dict[str, Any] | None = None,
) -> SignalResult:
    """Apply every rule of `trigger` that matches `facts` to `elder`."""
    result = SignalResult()
    for rule in rules.matching(trigger, facts):
        detail = {"rule": rule.name, **(data or {})}
        if rule.route is not None:
            result.cases.append(
                raise_signal(
                    session,
                    elder,
                    rule.route,
                    trigger,
                    note=note,
                    actor_id=actor_id,
                    data=detail,
                    now=now,
                    today=local_today(tz, now),
                )
            )
        elif rule.visit_within is not None:
            visit = schedule_extra_visit(
                session, elder, rule.visit_within, f"extra:{rule.name}", tz=tz, now=now
            )
            if visit is not None:
                result.visits.append(visit)
    return result


def schedule_extra_visit(
    session: Session,
    elder: Elder,
    within: timedelta,
    reason: str,
    *,
    tz: ZoneInfo,
    now: datetime,
    kind: str = "extra",
) -> Visit | None:
    """An extra (or follow-up) visit due within `within`, held by the elder's primary contact
    (the secondary when the primary is inactive); None when one is already open."""
    today = local_today(tz, now)
    month = today.strftime("%Y-%m")
    open_already = session.scalar(
        select(Visit.id).where(
            Visit.elder_id == elder.id, Visit.kind == kind, Visit.status == "planned"
        )
    )
    if open_already is not None:
        return None
    holder = next(
        (w for w in (elder.primary_contact, elder.secondary_contact) if w is not None and w.active),
        None,
    )
    seq = (
        session.scalar(
            select(func.max(Visit.seq)).where(
                Visit.elder_id == elder.id, Visit.month == month, Visit.kind == kind
            )
        )
        or 0
    ) + 1
    visit = Visit(
        elder_id=elder.id,
        month=month,
        seq=seq,
        kind=kind,
        window_start=today,
        due_date=today + timedelta(days=max(within.days, 1)),
        worker_id=holder.id if holder else None,
        status="planned",
        created_at=now,
        updated_at=now,
    )
    session.add(visit)
    session.flush()
    session.add(
        VisitAssignment(
            visit_id=visit.id,
            worker_id=visit.worker_id,
            reason=reason[:64],
            detail="primary contact" if holder is elder.primary_contact else None,
            at=now,
        )
    )
    return visit


def missed_in_a_row(session: Session, elder_id: int) -> int:
    """How many of the elder's latest check-ins in a row saw no one."""
    outcomes = session.scalars(
        select(CheckIn.outcome)
        .join(Visit, Visit.id == CheckIn.visit_id)
        .where(Visit.elder_id == elder_id)
        .order_by(CheckIn.occurred_at.desc(), CheckIn.id.desc())
        .limit(12)
    ).all()
    count = 0
    for outcome in outcomes:
        if outcome not in NOT_SEEN:
            break
        count += 1
    return count


def unanswered_in_a_row(session: Session, elder: Elder) -> int:
    """How many of the elder's latest wellness checks in a row got no reply at all."""
    asked = session.scalars(
        select(SmsMessage.created_at)
        .where(
            SmsMessage.direction == "out",
            SmsMessage.elder_id == elder.id,
            SmsMessage.question == "wellness",
            SmsMessage.status.not_in(("queued", "held", "canceled", "failed")),
        )
        .order_by(SmsMessage.created_at.desc())
        .limit(12)
    ).all()
    if not asked or elder.phone is None:
        return 0
    replies = session.scalars(
        select(SmsMessage.created_at).where(
            SmsMessage.direction == "in",
            SmsMessage.phone == elder.phone,
            SmsMessage.created_at >= asked[-1],
        )
    ).all()
    count = 0
    later = None
    for when in asked:  # newest first
        if any(when <= r and (later is None or r < later) for r in replies):
            break
        count += 1
        later = when
    return count


def signal_unvisited(
    session: Session, rules: RuleSet, month: str, *, tz: ZoneInfo, now: datetime
) -> int:
    """A `month_end` signal for each active elder owed a visit in `month` and not seen."""
    seen = (
        select(Visit.elder_id)
        .join(CheckIn, CheckIn.visit_id == Visit.id)
        .where(Visit.month == month, CheckIn.outcome == "seen", CheckIn.month == month)
    )
    owed = select(Visit.elder_id).where(Visit.month == month, Visit.status != "cancelled")
    elders = session.scalars(
        select(Elder)
        .where(Elder.status == "active", Elder.id.in_(owed), Elder.id.not_in(seen))
        .order_by(Elder.id)
    ).all()
    for elder in elders:
        signal(session, rules, "month_end", elder, {}, tz=tz, now=now, data={"month": month})
    return len(elders)

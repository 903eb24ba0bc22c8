"""What follows a newly stored check-in: the elder is asked to rate a seen visit, and the
check-in's content (mood, PHQ-2, needs, crisis words in the note) and a run of visits with
no one seen are matched against the rules."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from server.models import CheckIn, Elder, Visit, Worker
from server.services.crisis import detect_crisis
from server.services.outbox import enqueue
from server.services.phones import can_text
from server.services.rules import RuleSet
from server.services.signals import NOT_SEEN, SignalResult, missed_in_a_row, signal


def checkin_facts(checkin: CheckIn) -> dict[str, object]:
    """The facts the `checkin` rules look at."""
    return {
        "mood": checkin.mood,
        "phq2": checkin.phq2_score,
        "needs": list(checkin.needs or ()),
        "outcome": checkin.outcome,
        "crisis_words": bool(checkin.note and detect_crisis(checkin.note) is not None),
    }


def after_checkin(
    session: Session,
    visit: Visit,
    checkin: CheckIn,
    worker: Worker,
    now: datetime,
    *,
    rules: RuleSet,
    tz: ZoneInfo,
) -> SignalResult:
    """Run the follow-ups of a newly stored check-in (never of a resent one)."""
    elder: Elder = visit.elder
    if checkin.outcome == "seen" and can_text(elder.phone) and not elder.sms_opted_out:
        enqueue(
            session,
            phone=elder.phone,
            template="elder_rating_request",
            params={"worker_name": worker.name},
            locale=elder.locale,
            elder_id=elder.id,
            visit_id=visit.id,
            question="rating",
            now=now,
        )
    data = {"checkin_id": checkin.id, "visit_id": visit.id}
    result = signal(
        session, rules, "checkin", elder, checkin_facts(checkin),
        tz=tz, now=now, actor_id=worker.id, data=data,
    )  # fmt: skip
    if checkin.outcome in NOT_SEEN:
        missed = signal(
            session, rules, "visit_missed", elder,
            {"missed_in_a_row": missed_in_a_row(session, elder.id), "outcome": checkin.outcome},
            tz=tz, now=now, actor_id=worker.id, data=data,
        )  # fmt: skip
        result.cases.extend(missed.cases)
        result.visits.extend(missed.visits)
    return result

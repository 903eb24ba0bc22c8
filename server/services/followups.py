"""What follows a check-in: the elder is asked to rate a seen visit, and the check-in's
signals (low mood, a positive PHQ-2, needs for professional support, crisis words in the
note) open or add to cases."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from server.models import CheckIn, Elder, Visit, Worker
from server.services.crisis import detect_crisis
from server.services.escalation import DEFAULT_ROUTES, CaseOutcome, Route, raise_signal
from server.services.outbox import enqueue

PROFESSIONAL_NEEDS = frozenset({"psychological", "emotional", "family_mediation"})
LOW_MOOD = 2
PHQ2_POSITIVE = 3


def checkin_routes(checkin: CheckIn) -> list[tuple[Route, str]]:
    """The routes a check-in's content calls for, with a short reason code for each."""
    routes: list[tuple[Route, str]] = []
    if checkin.note and detect_crisis(checkin.note) is not None:
        routes.append((DEFAULT_ROUTES["crisis"], "crisis_words_in_note"))
    reasons = []
    if checkin.mood is not None and checkin.mood <= LOW_MOOD:
        reasons.append("low_mood")
    score = checkin.phq2_score
    if score is not None and score >= PHQ2_POSITIVE:
        reasons.append("phq2_positive")
    if PROFESSIONAL_NEEDS & set(checkin.needs or ()):
        reasons.append("needs_support")
    if reasons:
        routes.append((DEFAULT_ROUTES["psych_support"], "+".join(reasons)))
    return routes


def after_checkin(
    session: Session,
    visit: Visit,
    checkin: CheckIn,
    worker: Worker,
    now: datetime,
) -> list[CaseOutcome]:
    """Run the follow-ups of a newly stored check-in (not of a resent one)."""
    elder: Elder = visit.elder
    if checkin.outcome == "seen" and elder.phone and not elder.sms_opted_out:
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
    outcomes = []
    for route, reason in checkin_routes(checkin):
        outcomes.append(
            raise_signal(
                session,
                elder,
                route,
                "checkin",
                actor_id=worker.id,
                data={"checkin_id": checkin.id, "visit_id": visit.id, "reason": reason},
                now=now,
            )
        )
    return outcomes

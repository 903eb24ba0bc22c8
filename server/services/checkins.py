"""Recording a check-in: what a worker saw at a visit. Append-only, idempotent by client id.

Offline queues resend; the same `client_id` returns the first record and changes nothing.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from scheduler.geo import checkin_distance_m
from server.db import utcnow
from server.models import CheckIn, Visit, Worker
from server.services.months import month_of
from server.vocab import CHANNELS, NEEDS, OUTCOMES, SERVICES

FAR_FROM_HOME_M = 300.0
NOTE_MAX = 2000
CLIENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")
# A phone's clock may run a little fast; more than this in the future is a bad clock or a typo.
FUTURE_SLACK = timedelta(minutes=10)


class CheckInInvalid(ValueError):
    """Fields that cannot be accepted, each with a reason."""

    def __init__(self, fields: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in fields.items()))
        self.fields = fields


class CheckInForbidden(PermissionError):
    """The visit is not the caller's."""


class CheckInConflict(ValueError):
    """The client id was already used for a different visit."""


@dataclass(frozen=True)
class CheckInInput:
    """A validated check-in as sent by the PWA, an SMS or the web."""

    client_id: str
    occurred_at: datetime
    outcome: str
    lat: float | None = None
    lon: float | None = None
    accuracy_m: float | None = None
    mood: int | None = None
    phq2: tuple[int, int] | None = None
    needs: tuple[str, ...] = ()
    services: tuple[str, ...] = ()
    note: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _whole(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value


def parse_checkin(data: dict[str, Any], now: datetime | None = None) -> CheckInInput:
    """Validate a JSON check-in; CheckInInvalid lists every bad field."""
    now = now or utcnow()
    errors: dict[str, str] = {}

    client_id = data.get("client_id")
    if not isinstance(client_id, str) or not CLIENT_ID.match(client_id):
        errors["client_id"] = "required: 1-64 letters, digits, '.', '_', ':' or '-'"

    occurred_at: datetime | None = None
    raw_time = data.get("occurred_at")
    if not isinstance(raw_time, str):
        errors["occurred_at"] = "required: an ISO 8601 time with a UTC offset"
    else:
        try:
            occurred_at = datetime.fromisoformat(raw_time.replace("Z", "+00:00"))
        except ValueError:
            errors["occurred_at"] = "not an ISO 8601 time"
        else:
            if occurred_at.tzinfo is None:
                errors["occurred_at"] = "needs a UTC offset, e.g. 2026-11-30T09:15:00+08:00"
                occurred_at = None
            elif occurred_at > now + FUTURE_SLACK:
                errors["occurred_at"] = "is in the future"

    outcome = data.get("outcome")
    if outcome not in OUTCOMES:
        errors["outcome"] = f"one of {', '.join(OUTCOMES)}"

    lat, lon = data.get("lat"), data.get("lon")
    lat_n, lon_n = _number(lat), _number(lon)
    if lat is not None and (lat_n is None or not -90 <= lat_n <= 90):
        errors["lat"] = "a latitude between -90 and 90"
    if lon is not None and (lon_n is None or not -180 <= lon_n <= 180):
        errors["lon"] = "a longitude between -180 and 180"
    if (lat is None) != (lon is None):
        errors.setdefault("lat" if lat is None else "lon", "send lat and lon together")
    accuracy = data.get("accuracy_m")
    accuracy_n = _number(accuracy)
    if accuracy is not None and (accuracy_n is None or accuracy_n < 0):
        errors["accuracy_m"] = "a non-negative number of metres"

    mood = data.get("mood")
    mood_n = _whole(mood)
    if mood is not None and (mood_n is None or not 1 <= mood_n <= 5):
        errors["mood"] = "a whole number from 1 to 5"

    phq2 = data.get("phq2")
    phq2_t: tuple[int, int] | None = None
    if phq2 is not None:
        answers = [_whole(a) for a in phq2] if isinstance(phq2, list) else []
        if len(answers) != 2 or any(a is None or not 0 <= a <= 3 for a in answers):
            errors["phq2"] = "two answers, each a whole number from 0 to 3"
        else:
            phq2_t = (int(answers[0] or 0), int(answers[1] or 0))

    needs = _choices(data.get("needs"), NEEDS, "needs", errors)
    services = _choices(data.get("services"), SERVICES, "services", errors)

    note = data.get("note")
    if note is not None and not isinstance(note, str):
        errors["note"] = "text"
    elif isinstance(note, str) and len(note) > NOTE_MAX:
        errors["note"] = f"at most {NOTE_MAX} characters"

    if errors:
        raise CheckInInvalid(errors)
    assert occurred_at is not None and isinstance(client_id, str) and isinstance(outcome, str)
    return CheckInInput(
        client_id=client_id,
        occurred_at=occurred_at,
        outcome=outcome,
        lat=lat_n,
        lon=lon_n,
        accuracy_m=accuracy_n,
        mood=mood_n,
        phq2=phq2_t,
        needs=needs,
        services=services,
        note=note.strip() or None if isinstance(note, str) else None,
    )


def _choices(
    value: Any, allowed: tuple[str, ...], name: str, errors: dict[str, str]
) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or any(v not in allowed for v in value):
        errors[name] = f"a list of: {', '.join(allowed)}"
        return ()
    return tuple(dict.fromkeys(value))  # unique, in the order given


def record_checkin(
    session: Session,
    visit: Visit,
    worker: Worker,
    data: CheckInInput,
    channel: str,
    tz: ZoneInfo,
    now: datetime | None = None,
) -> tuple[CheckIn, bool]:
    """Store a check-in for `visit` and update the visit; (record, created).

    A repeated client id for the same visit returns the stored record unchanged.
    """
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}")
    existing = session.scalar(select(CheckIn).where(CheckIn.client_id == data.client_id))
    if existing is not None:
        if existing.visit_id != visit.id or existing.worker_id != worker.id:
            raise CheckInConflict("this client_id was already used for another visit")
        return existing, False
    if visit.worker_id != worker.id:
        raise CheckInForbidden("this visit is assigned to someone else")
    if visit.status == "cancelled":
        raise CheckInInvalid({"visit": "the visit was cancelled"})

    elder = visit.elder
    distance = None
    if (
        data.lat is not None
        and data.lon is not None
        and elder.lat is not None
        and elder.lon is not None
    ):
        distance = checkin_distance_m(data.lat, data.lon, elder.lat, elder.lon)
    checkin = CheckIn(
        client_id=data.client_id,
        visit_id=visit.id,
        worker_id=worker.id,
        channel=channel,
        occurred_at=data.occurred_at,
        received_at=now or utcnow(),
        month=month_of(data.occurred_at, tz),
        lat=data.lat,
        lon=data.lon,
        accuracy_m=data.accuracy_m,
        distance_m=distance,
        far_from_home=distance is not None and distance > FAR_FROM_HOME_M,
        outcome=data.outcome,
        mood=data.mood,
        phq2_interest=data.phq2[0] if data.phq2 else None,
        phq2_mood=data.phq2[1] if data.phq2 else None,
        needs=list(data.needs),
        services=list(data.services),
        note=data.note,
    )
    session.add(checkin)
    if visit.status != "done":
        # Any attempt is recorded on the visit; only someone seen completes it.
        visit.outcome = data.outcome
        visit.channel = channel
        if data.outcome == "seen":
            visit.status = "done"
            visit.done_at = data.occurred_at
    session.flush()
    return checkin, True


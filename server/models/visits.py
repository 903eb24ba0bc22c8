"""Visits (the monthly duty), who held them, and the check-ins that record them."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.db import Base, UTCDateTime, utcnow
from server.models._types import choice
from server.models.people import Elder, Worker
from server.vocab import CHANNELS, OUTCOMES, VISIT_KINDS, VISIT_STATUSES


class Visit(Base):
    """One visit an elder is owed in a month (`seq` 1..n by risk tier), with its due date."""

    __tablename__ = "visits"

    id: Mapped[int] = mapped_column(primary_key=True)
    elder_id: Mapped[int] = mapped_column(ForeignKey("elders.id"), index=True)
    month: Mapped[str] = mapped_column(String(7))  # YYYY-MM in TANFANG_TIMEZONE
    seq: Mapped[int] = mapped_column(SmallInteger, default=1)
    kind: Mapped[str] = mapped_column(choice(VISIT_KINDS, "visit_kind"), default="routine")
    window_start: Mapped[date] = mapped_column(Date)
    due_date: Mapped[date] = mapped_column(Date)
    worker_id: Mapped[int | None] = mapped_column(ForeignKey("workers.id"), index=True)
    status: Mapped[str] = mapped_column(choice(VISIT_STATUSES, "visit_status"), default="planned")
    distance_km: Mapped[float | None] = mapped_column(Float)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    outcome: Mapped[str | None] = mapped_column(choice(OUTCOMES, "visit_outcome"))
    channel: Mapped[str | None] = mapped_column(choice(CHANNELS, "visit_channel"))
    rating: Mapped[int | None] = mapped_column(SmallInteger)
    rated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cancel_reason: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    elder: Mapped[Elder] = relationship()
    worker: Mapped[Worker | None] = relationship()
    assignments: Mapped[list[VisitAssignment]] = relationship(
        back_populates="visit", cascade="all, delete-orphan", order_by="VisitAssignment.id"
    )
    checkins: Mapped[list[CheckIn]] = relationship(
        back_populates="visit", order_by="CheckIn.occurred_at"
    )

    __table_args__ = (
        UniqueConstraint("elder_id", "month", "kind", "seq"),
        Index("ix_visits_month_status", "month", "status"),
        Index("ix_visits_worker_month", "worker_id", "month"),
        CheckConstraint("rating IS NULL OR (rating BETWEEN 1 AND 5)", name="rating_1_to_5"),
    )


class VisitAssignment(Base):
    """One entry of a visit's history: who held it from when, and why it moved."""

    __tablename__ = "visit_assignments"

    id: Mapped[int] = mapped_column(primary_key=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("visits.id", ondelete="CASCADE"), index=True)
    worker_id: Mapped[int | None] = mapped_column(ForeignKey("workers.id"), index=True)
    previous_worker_id: Mapped[int | None] = mapped_column(ForeignKey("workers.id"))
    reason: Mapped[str] = mapped_column(String(64))  # planned, leave, deactivated, overdue, manual
    detail: Mapped[str | None] = mapped_column(String(300))
    by_worker_id: Mapped[int | None] = mapped_column(ForeignKey("workers.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    visit: Mapped[Visit] = relationship(back_populates="assignments")


class CheckIn(Base):
    """What a worker recorded at (or about) a visit; append-only, idempotent by `client_id`."""

    __tablename__ = "checkins"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("visits.id"), index=True)
    worker_id: Mapped[int] = mapped_column(ForeignKey("workers.id"), index=True)
    channel: Mapped[str] = mapped_column(choice(CHANNELS, "checkin_channel"))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    month: Mapped[str] = mapped_column(String(7))  # month of occurred_at in TANFANG_TIMEZONE
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    accuracy_m: Mapped[float | None] = mapped_column(Float)
    distance_m: Mapped[float | None] = mapped_column(Float)  # geodesic, from the elder's home
    far_from_home: Mapped[bool] = mapped_column(default=False)
    outcome: Mapped[str] = mapped_column(choice(OUTCOMES, "checkin_outcome"))
    mood: Mapped[int | None] = mapped_column(SmallInteger)
    phq2_interest: Mapped[int | None] = mapped_column(SmallInteger)
    phq2_mood: Mapped[int | None] = mapped_column(SmallInteger)
    needs: Mapped[list[str]] = mapped_column(JSON, default=list)
    services: Mapped[list[str]] = mapped_column(JSON, default=list)
    note: Mapped[str | None] = mapped_column(Text)
    raw: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    visit: Mapped[Visit] = relationship(back_populates="checkins")
    worker: Mapped[Worker] = relationship()

    __table_args__ = (
        CheckConstraint("mood IS NULL OR (mood BETWEEN 1 AND 5)", name="mood_1_to_5"),
        CheckConstraint(
            "phq2_interest IS NULL OR (phq2_interest BETWEEN 0 AND 3)", name="phq2_interest_0_3"
        ),
        CheckConstraint("phq2_mood IS NULL OR (phq2_mood BETWEEN 0 AND 3)", name="phq2_mood_0_3"),
        Index("ix_checkins_month_outcome", "month", "outcome"),
    )

    @property
    def phq2_score(self) -> int | None:
        """The PHQ-2 sum (0-6), or None when not asked."""
        if self.phq2_interest is None or self.phq2_mood is None:
            return None
        return self.phq2_interest + self.phq2_mood

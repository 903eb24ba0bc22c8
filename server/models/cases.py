"""Cases (referrals and alerts) and their timeline."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.db import Base, UTCDateTime, utcnow
from server.models._types import choice
from server.models.areas import Agency
from server.models.people import Elder, Worker
from server.vocab import CASE_KINDS, CASE_PRIORITIES, CASE_STATUSES


class Case(Base):
    """A referral or alert about one elder; one open case per elder and kind."""

    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(primary_key=True)
    elder_id: Mapped[int] = mapped_column(ForeignKey("elders.id"), index=True)
    kind: Mapped[str] = mapped_column(choice(CASE_KINDS, "case_kind"))
    priority: Mapped[str] = mapped_column(choice(CASE_PRIORITIES, "case_priority"))
    status: Mapped[str] = mapped_column(choice(CASE_STATUSES, "case_status"), default="open")
    rule: Mapped[str | None] = mapped_column(String(100))
    trigger: Mapped[str | None] = mapped_column(String(32))
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id"), index=True)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("workers.id"), index=True)
    escalation_level: Mapped[int] = mapped_column(SmallInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    ack_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    acknowledged_by_id: Mapped[int | None] = mapped_column(ForeignKey("workers.id"))
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("workers.id"))
    resolution_note: Mapped[str | None] = mapped_column(Text)
    # Only one open (not resolved) case per elder and kind; NULL once resolved.
    open_key: Mapped[str | None] = mapped_column(String(80), unique=True)

    elder: Mapped[Elder] = relationship()
    agency: Mapped[Agency | None] = relationship()
    owner: Mapped[Worker | None] = relationship(foreign_keys=[owner_id])
    events: Mapped[list[CaseEvent]] = relationship(
        back_populates="case", cascade="all, delete-orphan", order_by="CaseEvent.id"
    )

    __table_args__ = (Index("ix_cases_status_ack_due", "status", "ack_due_at"),)


class CaseEvent(Base):
    """One line of a case's timeline: who did what, when."""

    __tablename__ = "case_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # opened, signal, notified, acknowledged, note, reassigned, escalated, resolved
    kind: Mapped[str] = mapped_column(String(32))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("workers.id"))
    note: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    case: Mapped[Case] = relationship(back_populates="events")
    actor: Mapped[Worker | None] = relationship()

"""The people: workers (everyone who logs in or visits) and the elders they visit."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, CheckConstraint, Date, Float, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.db import Base, UTCDateTime, utcnow
from server.models._types import choice
from server.models.areas import Agency, Area
from server.vocab import (
    DISABILITIES,
    ELDER_STATUSES,
    GENDERS,
    HOUSEHOLDS,
    LOCALES,
    RISK_TIERS,
    ROLES,
)


class Worker(Base):
    """A grid worker, volunteer, social worker, supervisor or administrator."""

    __tablename__ = "workers"

    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    phone: Mapped[str] = mapped_column(String(20), unique=True)
    role: Mapped[str] = mapped_column(choice(ROLES, "worker_role"))
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    monthly_capacity: Mapped[int] = mapped_column(default=0)
    locale: Mapped[str] = mapped_column(choice(LOCALES, "worker_locale"), default="zh_CN")
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id"), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    deactivated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    deactivation_reason: Mapped[str | None] = mapped_column(String(200))
    sms_opted_out: Mapped[bool] = mapped_column(Boolean, default=False)
    phone_flagged: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    agency: Mapped[Agency | None] = relationship()
    areas: Mapped[list[Area]] = relationship(secondary="worker_areas", order_by="Area.code")
    leaves: Mapped[list[WorkerLeave]] = relationship(
        back_populates="worker", cascade="all, delete-orphan", order_by="WorkerLeave.starts_on"
    )

    __table_args__ = (CheckConstraint("monthly_capacity >= 0", name="capacity_not_negative"),)

    def __repr__(self) -> str:
        return f"<Worker {self.external_id} {self.role}>"


class WorkerArea(Base):
    """An area a worker serves; for supervisors it is the area they oversee."""

    __tablename__ = "worker_areas"

    worker_id: Mapped[int] = mapped_column(
        ForeignKey("workers.id", ondelete="CASCADE"), primary_key=True
    )
    area_id: Mapped[int] = mapped_column(
        ForeignKey("areas.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class WorkerLeave(Base):
    """A period (inclusive local dates) in which a worker takes no visits."""

    __tablename__ = "worker_leaves"

    id: Mapped[int] = mapped_column(primary_key=True)
    worker_id: Mapped[int] = mapped_column(ForeignKey("workers.id", ondelete="CASCADE"), index=True)
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    reason: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    worker: Mapped[Worker] = relationship(back_populates="leaves")

    __table_args__ = (CheckConstraint("ends_on >= starts_on", name="leave_ends_after_start"),)


class Elder(Base):
    """An elderly person of a special-difficulty family, visited every month."""

    __tablename__ = "elders"

    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str] = mapped_column(String(64), unique=True)
    code: Mapped[str] = mapped_column(String(6), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    phone: Mapped[str | None] = mapped_column(String(20), index=True)
    birth_date: Mapped[date | None] = mapped_column(Date)
    gender: Mapped[str | None] = mapped_column(choice(GENDERS, "elder_gender"))
    address: Mapped[str | None] = mapped_column(String(300))
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    grid_id: Mapped[int] = mapped_column(ForeignKey("areas.id"), index=True)
    household: Mapped[str] = mapped_column(choice(HOUSEHOLDS, "elder_household"))
    disability: Mapped[str] = mapped_column(choice(DISABILITIES, "elder_disability"))
    lives_alone: Mapped[bool] = mapped_column(Boolean, default=False)
    risk_tier: Mapped[str] = mapped_column(choice(RISK_TIERS, "elder_risk_tier"))
    locale: Mapped[str] = mapped_column(choice(LOCALES, "elder_locale"), default="zh_CN")
    primary_contact_id: Mapped[int | None] = mapped_column(ForeignKey("workers.id"), index=True)
    secondary_contact_id: Mapped[int | None] = mapped_column(ForeignKey("workers.id"), index=True)
    sms_opted_out: Mapped[bool] = mapped_column(Boolean, default=False)
    sms_opted_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    phone_flagged: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(choice(ELDER_STATUSES, "elder_status"), default="active")
    deactivated_on: Mapped[date | None] = mapped_column(Date)
    deactivation_reason: Mapped[str | None] = mapped_column(Text)
    enrolled_on: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    grid: Mapped[Area] = relationship()
    primary_contact: Mapped[Worker | None] = relationship(foreign_keys=[primary_contact_id])
    secondary_contact: Mapped[Worker | None] = relationship(foreign_keys=[secondary_contact_id])

    __table_args__ = (
        Index("ix_elders_status_grid", "status", "grid_id"),
        CheckConstraint(
            "primary_contact_id IS NULL OR secondary_contact_id IS NULL"
            " OR primary_contact_id <> secondary_contact_id",
            name="two_different_contacts",
        ),
    )

    def __repr__(self) -> str:
        return f"<Elder {self.external_id} {self.code}>"

"""SMS messages in and out, and the outbox through which every outbound one leaves."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, SmallInteger, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.db import Base, UTCDateTime, utcnow
from server.models._types import choice
from server.vocab import LOCALES, OUTBOX_STATES, SMS_DIRECTIONS, SMS_STATUSES

# Columns set on some messages only, indexed where set.
SPARSE_KEYS = ("worker_id", "elder_id", "in_reply_to_id")


class SmsMessage(Base):
    """One SMS, inbound or outbound: a template name plus parameters, and its rendered body."""

    __tablename__ = "sms_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    direction: Mapped[str] = mapped_column(choice(SMS_DIRECTIONS, "sms_direction"))
    # the other party; looked up through ix_sms_phone_created (phone, created_at)
    phone: Mapped[str] = mapped_column(String(32))
    # worker_id, elder_id and in_reply_to_id are each set on some messages only: their
    # indexes are partial (see __table_args__), and a message leaves out those it lacks
    worker_id: Mapped[int | None] = mapped_column(ForeignKey("workers.id"))
    elder_id: Mapped[int | None] = mapped_column(ForeignKey("elders.id"))
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id"))
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("visits.id"))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    template: Mapped[str | None] = mapped_column(String(64))
    params: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    locale: Mapped[str | None] = mapped_column(choice(LOCALES, "sms_locale"))
    body: Mapped[str] = mapped_column(Text, default="")
    # the question this message asked (wellness, rating) so a bare digit reply can be read
    question: Mapped[str | None] = mapped_column(String(32))
    # an immediate (TwiML) reply points at the inbound message it answers
    in_reply_to_id: Mapped[int | None] = mapped_column(ForeignKey("sms_messages.id"))
    provider_sid: Mapped[str | None] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(choice(SMS_STATUSES, "sms_status"))
    error_code: Mapped[int | None] = mapped_column()
    segments: Mapped[int | None] = mapped_column(SmallInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    status_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (
        *(
            Index(
                f"ix_sms_messages_{column}",
                column,
                postgresql_where=text(f"{column} IS NOT NULL"),
                sqlite_where=text(f"{column} IS NOT NULL"),
            )
            for column in SPARSE_KEYS
        ),
        Index("ix_sms_phone_created", "phone", "created_at"),
        # An elder's last question, read for every reply of theirs: only the questions are
        # in it (a partial index), however many other messages the elder has.
        Index(
            "ix_sms_questions",
            "elder_id",
            "created_at",
            postgresql_where=text("question IS NOT NULL"),
            sqlite_where=text("question IS NOT NULL"),
        ),
    )


class OutboxItem(Base):
    """A queued outbound message, written in the same transaction as its cause."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("sms_messages.id"), unique=True)
    state: Mapped[str] = mapped_column(choice(OUTBOX_STATES, "outbox_state"), default="pending")
    not_before: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    urgent: Mapped[bool] = mapped_column(
        default=False
    )  # crisis and one-time codes skip quiet hours
    attempts: Mapped[int] = mapped_column(default=0)
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    message: Mapped[SmsMessage] = relationship()

    __table_args__ = (Index("ix_outbox_state_not_before", "state", "not_before"),)

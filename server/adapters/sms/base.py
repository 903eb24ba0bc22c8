"""The small interface every SMS backend offers, and the two ways a send can fail.

A backend hands one rendered message to a provider and says what the provider answered. It
knows nothing of the outbox, retries or people: the dispatcher decides what a failure means.
A message stays a template name plus parameters up to here (`TemplateRef`), so a provider
that sends only pre-approved templates (the mainland Chinese ones) can use those instead of
the body.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

# Twilio error codes (https://www.twilio.com/docs/api/errors) that say something about the
# recipient rather than about this message. They are Twilio's, but a mainland backend maps its
# provider's codes onto the same meanings.
OPTED_OUT_CODES = frozenset({21610})  # the recipient replied STOP to our sender
# The number cannot take SMS at all (malformed, landline, unknown handset, no route):
# flagged for a worker to check with the person. Not our configuration errors (21606 From,
# 21408 region permission) nor content filtering (30007): those say nothing about the number.
BAD_NUMBER_CODES = frozenset({21211, 21217, 21401, 21407, 21612, 21614, 30005, 30006})
# The handset is off or out of coverage: worth another try later.
UNREACHABLE_CODES = frozenset({30003})


@dataclass(frozen=True)
class TemplateRef:
    """What a message is before rendering: a template name, its parameters and the locale."""

    name: str
    params: Mapping[str, Any]
    locale: str


@dataclass(frozen=True)
class SendResult:
    """The provider took the message: its id, first status and cost in segments."""

    sid: str
    status: str
    segments: int | None
    error_code: int | None = None


@dataclass(frozen=True)
class SentRecord:
    """A message the provider reports having taken, for settling a send whose answer was
    lost (a timeout, a dispatcher killed between the provider's answer and our commit)."""

    sid: str
    to: str
    body: str
    status: str
    segments: int | None
    created_at: datetime | None


class SendError(Exception):
    """A send that did not go through; `code` is the provider's error code, `http_status` the
    HTTP status of its answer (None when there was no answer)."""

    def __init__(
        self,
        message: str,
        *,
        code: int | None = None,
        http_status: int | None = None,
        in_doubt: bool = False,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.http_status = http_status
        # True when the request may have reached the provider although no answer came back
        # (a read timeout, a dropped connection): the message may have gone out.
        self.in_doubt = in_doubt

    def describe(self) -> str:
        """A short line for logs and `OutboxItem.last_error`: statuses and codes, no PII."""
        parts = [type(self).__name__]
        if self.http_status is not None:
            parts.append(f"HTTP {self.http_status}")
        if self.code is not None:
            parts.append(f"code {self.code}")
        parts.append(str(self))
        return " ".join(parts)


class TemporarySendError(SendError):
    """Try again later: rate limited (429), a provider error (5xx), a timeout, no connection."""


class PermanentSendError(SendError):
    """Sending this again will fail the same way (a bad number, an opted-out recipient...)."""

    @property
    def opted_out(self) -> bool:
        """The recipient has stopped messages from us at the provider."""
        return self.code in OPTED_OUT_CODES

    @property
    def bad_number(self) -> bool:
        """The number cannot receive SMS; a worker should check it."""
        return self.code in BAD_NUMBER_CODES


class SmsBackend(Protocol):
    """An SMS provider: `twilio`, `console`, or a mainland provider later."""

    name: str

    def send(
        self,
        to: str,
        body: str,
        *,
        status_callback: str | None = None,
        template: TemplateRef | None = None,
    ) -> SendResult:
        """Hand one message to the provider. Raises TemporarySendError or PermanentSendError."""
        ...

    def recent(self, to: str, since: datetime) -> list[SentRecord]:
        """The messages to `to` the provider took since `since`, newest first (a few at most).
        Raises TemporarySendError when the provider cannot be asked."""
        ...

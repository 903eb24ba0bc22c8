"""The `console` backend: messages go to the log (masked) and to an in-memory list that the
`/phone` simulator shows. Used by `tanfang demo` and development; nothing leaves the machine.

The log line names the recipient by a masked number and the message by its template, never
the full number or the body: an OTP or a case notification must not end up in a log file.
The bodies are kept in memory only (the last RECENT_LIMIT messages) and in the database rows
of the messages themselves (`SmsMessage.body`), which are the durable record.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections import deque
from dataclasses import dataclass
from datetime import datetime

from server.adapters.sms.base import SendResult, SentRecord, TemplateRef
from server.db import utcnow
from server.i18n import mask_phone
from server.services.sms.segments import segments

log = logging.getLogger(__name__)

RECENT_LIMIT = 500


@dataclass(frozen=True)
class ConsoleMessage:
    """One message the console backend 'sent'."""

    sid: str
    to: str
    body: str
    template: str | None
    segments: int
    at: datetime


class ConsoleOutbox:
    """The last `limit` messages the console backend sent, oldest first; thread-safe."""

    def __init__(self, limit: int = RECENT_LIMIT) -> None:
        self._items: deque[ConsoleMessage] = deque(maxlen=limit)
        self._lock = threading.Lock()

    def add(self, message: ConsoleMessage) -> None:
        """Remember `message`, forgetting the oldest beyond the limit."""
        with self._lock:
            self._items.append(message)

    def all(self) -> list[ConsoleMessage]:
        """Every remembered message, oldest first."""
        with self._lock:
            return list(self._items)

    def to_phone(self, phone: str) -> list[ConsoleMessage]:
        """The remembered messages sent to `phone`, oldest first (what that phone shows)."""
        return [m for m in self.all() if m.to == phone]

    def clear(self) -> None:
        """Forget everything (tests, a simulator reset)."""
        with self._lock:
            self._items.clear()


# One list per process, shared by every console backend so the simulator page sees what the
# dispatcher sent (both run in the `tanfang demo` process). A plain container: nothing is
# connected or started at import.
SENT = ConsoleOutbox()


class ConsoleBackend:
    """Pretends to send: logs a masked line, remembers the message, answers `delivered`."""

    name = "console"

    def __init__(self, outbox: ConsoleOutbox | None = None) -> None:
        self.outbox = outbox if outbox is not None else SENT

    def send(
        self,
        to: str,
        body: str,
        *,
        status_callback: str | None = None,
        template: TemplateRef | None = None,
    ) -> SendResult:
        """Remember the message and log that it went; never fails."""
        sid = "CONSOLE" + uuid.uuid4().hex[:27]  # 34 characters, like a Twilio sid
        _encoding, count = segments(body)  # (`.count` is also tuple.count to mypy)
        self.outbox.add(
            ConsoleMessage(
                sid=sid,
                to=to,
                body=body,
                template=template.name if template else None,
                segments=count,
                at=utcnow(),
            )
        )
        log.info(
            "console sms %s to %s: %s, %d segment(s)",
            sid,
            mask_phone(to),
            template.name if template else "text",
            count,
        )
        # The simulated phone has it at once, and no status callback will ever come.
        return SendResult(sid=sid, status="delivered", segments=count)

    def recent(self, to: str, since: datetime) -> list[SentRecord]:
        """What this process's console sent to `to` since `since`, newest first."""
        return [
            SentRecord(m.sid, m.to, m.body, "delivered", m.segments, m.at)
            for m in reversed(self.outbox.to_phone(to))
            if m.at >= since
        ]

"""SMS backends behind one small interface (base.SmsBackend): `console` and `twilio`.

`make_backend(config)` builds the one TANFANG_SMS_BACKEND names; nothing is built at import.
"""

from __future__ import annotations

from server.adapters.sms.base import (
    BAD_NUMBER_CODES,
    OPTED_OUT_CODES,
    UNREACHABLE_CODES,
    PermanentSendError,
    SendError,
    SendResult,
    SentRecord,
    SmsBackend,
    TemplateRef,
    TemporarySendError,
)
from server.config import Config, ConfigError

__all__ = [
    "BAD_NUMBER_CODES",
    "OPTED_OUT_CODES",
    "UNREACHABLE_CODES",
    "PermanentSendError",
    "SendError",
    "SendResult",
    "SentRecord",
    "SmsBackend",
    "TemplateRef",
    "TemporarySendError",
    "make_backend",
]


def make_backend(config: Config) -> SmsBackend:
    """The backend TANFANG_SMS_BACKEND names; ConfigError when its settings are incomplete."""
    if config.sms_backend == "console":
        from server.adapters.sms.console_backend import ConsoleBackend

        return ConsoleBackend()
    if config.sms_backend == "twilio":
        from server.adapters.sms.twilio_backend import TwilioBackend

        return TwilioBackend.from_config(config)
    raise ConfigError(f"TANFANG_SMS_BACKEND: unknown backend {config.sms_backend!r}")

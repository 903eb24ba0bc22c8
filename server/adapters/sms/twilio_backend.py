"""The `twilio` backend: Twilio's Messages API through the official SDK.

The SDK's HTTP client waits forever unless given a timeout, so one is always set. Its base URL
is TANFANG_TWILIO_API_URL when set, so the test suite and the benchmark talk to a local double
through the very same SDK calls. Failures become TemporarySendError (429, 5xx, timeouts,
connection errors: try again later) or PermanentSendError (every other 4xx: a bad or
opted-out number, a bad request), carrying Twilio's error code and the HTTP status.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import requests
from twilio.base.exceptions import TwilioRestException, TwilioServiceException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

from server.adapters.sms.base import (
    PermanentSendError,
    SendError,
    SendResult,
    SentRecord,
    TemplateRef,
    TemporarySendError,
)
from server.config import Config, ConfigError

log = logging.getLogger(__name__)
# The SDK logs every request at INFO: URLs, headers, and for a look-up of recent messages the
# phone number asked about. Personal data never goes into logs; its warnings still do.
logging.getLogger("twilio.http_client").setLevel(logging.WARNING)

DEFAULT_TIMEOUT_S = 10.0
# A few recent messages are enough to settle one in-doubt send: it is at most minutes old.
RECENT_PAGE = 20


class TwilioBackend:
    """Sends through a Twilio account, from a Messaging Service or a sender number."""

    name = "twilio"

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        *,
        messaging_service_sid: str | None = None,
        from_: str | None = None,
        api_url: str | None = None,
        timeout: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        if not (messaging_service_sid or from_):
            raise ValueError("a Messaging Service sid or a From number is needed")
        self.messaging_service_sid = messaging_service_sid
        self.from_ = from_
        self.client = Client(account_sid, auth_token, http_client=TwilioHttpClient(timeout=timeout))
        if api_url:
            self.client.api.base_url = api_url.rstrip("/")

    @classmethod
    def from_config(cls, config: Config, *, timeout: float = DEFAULT_TIMEOUT_S) -> TwilioBackend:
        """The backend for TWILIO_* / TANFANG_SMS_FROM / TANFANG_TWILIO_API_URL; ConfigError
        naming what is missing."""
        missing = [
            name
            for name, value in (
                ("TWILIO_ACCOUNT_SID", config.twilio_account_sid),
                ("TWILIO_AUTH_TOKEN", config.twilio_auth_token),
                (
                    "TWILIO_MESSAGING_SERVICE_SID or TANFANG_SMS_FROM",
                    config.twilio_messaging_service_sid or config.sms_from,
                ),
            )
            if not value
        ]
        if missing:
            raise ConfigError(f"TANFANG_SMS_BACKEND=twilio needs {', '.join(missing)}")
        assert config.twilio_account_sid and config.twilio_auth_token
        return cls(
            config.twilio_account_sid,
            config.twilio_auth_token,
            messaging_service_sid=config.twilio_messaging_service_sid,
            from_=config.sms_from,
            api_url=config.twilio_api_url,
            timeout=timeout,
        )

    def send(
        self,
        to: str,
        body: str,
        *,
        status_callback: str | None = None,
        template: TemplateRef | None = None,
    ) -> SendResult:
        """POST one message to Messages.json; the REST answer's sid, status and segments."""
        kwargs: dict[str, Any] = {"to": to, "body": body}
        if self.messaging_service_sid:
            kwargs["messaging_service_sid"] = self.messaging_service_sid
        else:
            kwargs["from_"] = self.from_
        if status_callback:
            kwargs["status_callback"] = status_callback
        try:
            message = self.client.messages.create(**kwargs)
        except Exception as exc:
            raise send_error(exc) from exc
        if not message.sid:
            raise TemporarySendError("answer without a sid", in_doubt=True)
        return SendResult(
            sid=message.sid,
            status=str(message.status or "queued"),
            segments=_int(message.num_segments),
            error_code=message.error_code,
        )

    def recent(self, to: str, since: datetime) -> list[SentRecord]:
        """GET Messages.json?To=...: the latest messages to `to` created since `since`."""
        try:
            messages = self.client.messages.list(to=to, limit=RECENT_PAGE, page_size=RECENT_PAGE)
        except Exception as exc:
            error = send_error(exc)
            raise TemporarySendError(error.describe(), code=error.code) from exc
        return [
            SentRecord(
                sid=m.sid or "",
                to=m.to or to,
                body=m.body or "",
                status=str(m.status or "queued"),
                segments=_int(m.num_segments),
                created_at=m.date_created,
            )
            for m in messages
            if m.sid and (m.date_created is None or m.date_created >= since)
        ]


def send_error(exc: BaseException) -> SendError:
    """What an exception from the SDK means for a retry."""
    if isinstance(exc, TwilioRestException | TwilioServiceException):
        status = int(exc.status)
        code = exc.code if isinstance(exc.code, int) and exc.code != status else None
        text = getattr(exc, "msg", None) or getattr(exc, "title", None) or "error"
        if status == 429 or status >= 500:
            return TemporarySendError(str(text), code=code, http_status=status)
        return PermanentSendError(str(text), code=code, http_status=status)
    if isinstance(exc, requests.exceptions.RequestException):
        # A request that never reached Twilio cannot have sent anything; any other failure
        # (read timeout, connection dropped after sending) may have.
        return TemporarySendError(type(exc).__name__, in_doubt=not _never_connected(exc))
    # An answer we cannot read (not JSON...): the message may or may not have been taken.
    return TemporarySendError(type(exc).__name__, in_doubt=True)


def _never_connected(exc: requests.exceptions.RequestException) -> bool:
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    if isinstance(exc, requests.exceptions.ConnectionError) and exc.args:
        reason = getattr(exc.args[0], "reason", None)
        return isinstance(reason, NewConnectionError | ConnectTimeoutError)
    return False


def _int(value: object) -> int | None:
    try:
        return int(str(value)) if value is not None else None
    except ValueError:
        return None

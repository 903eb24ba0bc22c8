"""The SMS backends: the real Twilio SDK against a local double of the Messages API, and the
console backend that the demo and the phone simulator use."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta

import pytest

from server.adapters.sms import (
    PermanentSendError,
    TemplateRef,
    TemporarySendError,
    make_backend,
)
from server.adapters.sms.console_backend import ConsoleBackend, ConsoleOutbox
from server.adapters.sms.twilio_backend import TwilioBackend
from server.config import Config, ConfigError
from server.db import utcnow
from tests.support.twilio_double import ACCOUNT_SID, AUTH_TOKEN, Reply, TwilioDouble

SENDER = "+15005550006"
SERVICE = "MG" + "a" * 32
PHONE = "+8613912345678"
CALLBACK = "https://tanfang.example.org/sms/status"


@pytest.fixture
def double() -> Iterator[TwilioDouble]:
    with TwilioDouble() as running:
        yield running


@pytest.fixture
def backend(double: TwilioDouble) -> TwilioBackend:
    return TwilioBackend(ACCOUNT_SID, AUTH_TOKEN, from_=SENDER, api_url=double.url, timeout=1.0)


def test_a_message_goes_out_with_sender_body_and_status_callback(
    backend: TwilioBackend, double: TwilioDouble
) -> None:
    double.script(Reply(201, segments=2))
    result = backend.send(PHONE, "【暖心探访】您好", status_callback=CALLBACK)

    [request] = double.posts
    assert request.form == {
        "To": PHONE,
        "From": SENDER,
        "Body": "【暖心探访】您好",
        "StatusCallback": CALLBACK,
    }
    [taken] = double.taken()
    assert result.sid == taken["sid"] and result.sid.startswith("SM")
    assert result.status == "queued"
    assert result.segments == 2  # the provider's count, from its answer
    assert result.error_code is None


def test_a_messaging_service_sends_instead_of_a_number(double: TwilioDouble) -> None:
    backend = TwilioBackend(
        ACCOUNT_SID, AUTH_TOKEN, messaging_service_sid=SERVICE, api_url=double.url
    )
    result = backend.send(PHONE, "hello", template=TemplateRef("elder_ack", {}, "en"))
    [request] = double.posts
    assert request.form["MessagingServiceSid"] == SERVICE
    assert "From" not in request.form
    assert result.status == "accepted"


@pytest.mark.parametrize(
    ("reply", "error", "code", "http_status"),
    [
        (Reply(429), TemporarySendError, 20429, 429),
        (Reply(500), TemporarySendError, 20500, 500),
        (Reply(503), TemporarySendError, 503, 503),
        (Reply(400, code=21610), PermanentSendError, 21610, 400),
        (Reply(400, code=21211), PermanentSendError, 21211, 400),
        (Reply(400, code=21614), PermanentSendError, 21614, 400),
    ],
)
def test_provider_errors_are_told_apart(
    backend: TwilioBackend,
    double: TwilioDouble,
    reply: Reply,
    error: type[Exception],
    code: int,
    http_status: int,
) -> None:
    double.script(reply)
    with pytest.raises(error) as raised:
        backend.send(PHONE, "hello")
    exc = raised.value
    assert isinstance(exc, TemporarySendError | PermanentSendError)
    assert exc.http_status == http_status
    assert exc.code == (code if code != http_status else None)
    assert not exc.in_doubt
    if isinstance(exc, PermanentSendError):
        assert exc.opted_out == (code == 21610)
        assert exc.bad_number == (code in (21211, 21614))


def test_a_slow_provider_times_out_and_the_message_may_have_gone(double: TwilioDouble) -> None:
    backend = TwilioBackend(ACCOUNT_SID, AUTH_TOKEN, from_=SENDER, api_url=double.url, timeout=0.3)
    double.script(Reply(201, delay_s=0.6))
    with pytest.raises(TemporarySendError) as raised:
        backend.send(PHONE, "hello")
    assert raised.value.in_doubt
    # Twilio kept it although we never heard back: recent() finds it
    _wait_for(lambda: bool(backend.recent(PHONE, utcnow() - timedelta(minutes=1))))
    records = backend.recent(PHONE, utcnow() - timedelta(minutes=1))
    assert [r.body for r in records] == ["hello"]
    assert records[0].sid == double.taken()[0]["sid"]


def test_a_provider_that_cannot_be_reached_is_a_temporary_failure_that_sent_nothing() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    backend = TwilioBackend(
        ACCOUNT_SID, AUTH_TOKEN, from_=SENDER, api_url=f"http://127.0.0.1:{port}", timeout=1.0
    )
    with pytest.raises(TemporarySendError) as raised:
        backend.send(PHONE, "hello")
    assert not raised.value.in_doubt


def test_recent_lists_only_that_numbers_messages_newest_first(
    backend: TwilioBackend, double: TwilioDouble
) -> None:
    start = utcnow() - timedelta(seconds=5)
    backend.send(PHONE, "first")
    backend.send("+8613900000000", "other")
    backend.send(PHONE, "second")
    assert [r.body for r in backend.recent(PHONE, start)] == ["second", "first"]
    assert backend.recent(PHONE, utcnow() + timedelta(minutes=1)) == []


def test_the_configuration_chooses_the_backend(double: TwilioDouble) -> None:
    assert make_backend(Config()).name == "console"
    twilio = replace(
        Config(),
        sms_backend="twilio",
        twilio_account_sid=ACCOUNT_SID,
        twilio_auth_token=AUTH_TOKEN,
        sms_from=SENDER,
        twilio_api_url=double.url,
    )
    backend = make_backend(twilio)
    assert backend.name == "twilio"
    backend.send(PHONE, "hello")
    assert len(double.posts) == 1  # TANFANG_TWILIO_API_URL was used
    with pytest.raises(ConfigError, match="TWILIO_AUTH_TOKEN"):
        make_backend(replace(twilio, twilio_auth_token=None))
    with pytest.raises(ConfigError, match="TANFANG_SMS_FROM"):
        make_backend(replace(twilio, sms_from=None))


def test_the_console_logs_neither_the_number_nor_the_text(
    caplog: pytest.LogCaptureFixture,
) -> None:
    outbox = ConsoleOutbox(limit=3)
    backend = ConsoleBackend(outbox)
    caplog.set_level(logging.INFO)
    result = backend.send(
        PHONE, "【暖心探访】验证码 482913", template=TemplateRef("otp_code", {}, "zh_CN")
    )
    assert result.sid.startswith("CONSOLE") and len(result.sid) == 34
    assert result.status == "delivered" and result.segments == 1
    logged = caplog.text
    assert "otp_code" in logged and "+86139****5678" in logged
    assert PHONE not in logged and "482913" not in logged
    # the simulator sees it; only the last few are kept
    assert [m.body for m in outbox.to_phone(PHONE)] == ["【暖心探访】验证码 482913"]
    for i in range(4):
        backend.send("+8613900000000", f"n{i}")
    assert outbox.to_phone(PHONE) == []
    assert [m.body for m in outbox.all()] == ["n1", "n2", "n3"]
    assert [r.body for r in backend.recent("+8613900000000", utcnow() - timedelta(1))] == [
        "n3",
        "n2",
        "n1",
    ]


def _wait_for(condition: object, timeout: float = 5.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return
        time.sleep(0.05)

"""POST /sms/status: Twilio's delivery reports, signed over the public URL, in any order and
any number of times; what an undeliverable message leads to."""

from __future__ import annotations

import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from twilio.request_validator import RequestValidator
from werkzeug.test import TestResponse

from server.config import Config
from server.db import utcnow
from server.models import Elder, OutboxItem, SmsMessage, Worker
from server.services import outbox
from server.services.sms import dispatch
from tests.factories import Region, build_region

TOKEN = "status-test-auth-token"
PUBLIC = "https://tanfang.example.org"
ACCOUNT = "AC" + "1" * 32


@pytest.fixture
def app(config: Config) -> Iterator[Flask]:
    from server.app import create_app
    from server.runtime import runtime

    application = create_app(replace(config, twilio_auth_token=TOKEN, public_url=PUBLIC))
    application.config.update(TESTING=True)  # CSRF protection stays on
    yield application
    runtime(application).dispose()


@pytest.fixture
def region(session: Session) -> Region:
    built = build_region(session)
    session.commit()
    return built


@pytest.fixture
def hook(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The ids of the messages reported to on_delivery_failed."""
    called: list[int] = []
    monkeypatch.setattr(dispatch, "on_delivery_failed", lambda s, m, *_: called.append(m.id))
    return called


def sent_message(
    session: Session,
    phone: str | None,
    sid: str,
    *,
    template: str = "elder_wellness_check",
    params: dict[str, object] | None = None,
    attempts: int = 1,
    **ids: Any,
) -> int:
    """A message the dispatcher has handed to Twilio (first status `queued`)."""
    assert phone, "the recipient has a phone"
    message = outbox.enqueue(
        session,
        phone=phone,
        template=template,
        params=params or {},
        locale="zh_CN",
        question="wellness",
        **ids,
    )
    session.flush()
    item = session.scalars(select(OutboxItem).where(OutboxItem.message_id == message.id)).one()
    item.state, item.attempts, item.finished_at = "sent", attempts, utcnow()
    message.provider_sid, message.body, message.sent_at = sid, "【暖心探访】您好", utcnow()
    session.commit()
    return message.id


def report(
    client: FlaskClient,
    sid: str,
    status: str,
    error_code: int | None = None,
    *,
    token: str = TOKEN,
    url: str = PUBLIC + "/sms/status",
    signed: bool = True,
) -> TestResponse:
    """Post a status callback as Twilio does: form fields, signed over the public URL."""
    params = {
        "AccountSid": ACCOUNT,
        "ApiVersion": "2010-04-01",
        "From": "+15005550006",
        "MessageSid": sid,
        "MessageStatus": status,
        "SmsSid": sid,
        "SmsStatus": status,
        "To": "+8613800000001",
    }
    if error_code is not None:
        params["ErrorCode"] = str(error_code)
    headers = {}
    if signed:
        headers["X-Twilio-Signature"] = RequestValidator(token).compute_signature(url, params)
    # the test client speaks to http://localhost: the signature is over the public https URL,
    # as behind a TLS-terminating proxy
    return client.post("/sms/status", data=params, headers=headers)


def stored(session: Session, message_id: int) -> SmsMessage:
    session.expire_all()
    message = session.get(SmsMessage, message_id)
    assert message is not None
    return message


def test_statuses_in_any_order_never_move_a_message_back(
    client: FlaskClient, session: Session, region: Region
) -> None:
    elder = region.counties["xq"].elders[0]
    message_id = sent_message(session, elder.phone, "SM" + "a" * 32, elder_id=elder.id)

    answer = report(client, "SM" + "a" * 32, "sent")
    assert answer.status_code == 200
    root = ET.fromstring(answer.get_data(as_text=True))
    assert root.tag == "Response" and len(root) == 0  # empty TwiML
    assert stored(session, message_id).status == "sent"

    report(client, "SM" + "a" * 32, "delivered")
    delivered_at = stored(session, message_id).status_at
    for late in ("sending", "sent", "queued", "undelivered", "failed"):
        assert report(client, "SM" + "a" * 32, late, 30008 if late == "failed" else None)
    message = stored(session, message_id)
    assert message.status == "delivered"
    assert message.status_at == delivered_at
    assert message.error_code is None


def test_a_final_status_arriving_first_stays(
    client: FlaskClient, session: Session, region: Region, hook: list[int]
) -> None:
    worker = region.counties["jf"].workers[0]
    message_id = sent_message(session, worker.phone, "SM" + "b" * 32, worker_id=worker.id)
    report(client, "SM" + "b" * 32, "undelivered", 30005)
    report(client, "SM" + "b" * 32, "sending")
    report(client, "SM" + "b" * 32, "sent")
    message = stored(session, message_id)
    assert (message.status, message.error_code) == ("undelivered", 30005)
    assert hook == []  # a worker's message: the rules only hear about elders'


def test_repeated_callbacks_change_nothing_more(
    client: FlaskClient, session: Session, region: Region, hook: list[int]
) -> None:
    elder = region.counties["xq"].elders[1]
    message_id = sent_message(session, elder.phone, "SM" + "c" * 32, elder_id=elder.id)
    for _ in range(3):
        assert report(client, "SM" + "c" * 32, "failed", 30006).status_code == 200
    assert stored(session, message_id).status == "failed"
    assert hook == [message_id]  # once
    session.expire_all()
    flagged = session.get(Elder, elder.id)
    assert flagged is not None and flagged.phone_flagged  # landline: a worker checks the number


def test_concurrent_copies_of_one_callback_act_once(
    app: Flask, session: Session, region: Region, hook: list[int]
) -> None:
    elder = region.counties["jf"].elders[1]
    message_id = sent_message(session, elder.phone, "SM" + "d" * 32, elder_id=elder.id)
    barrier = threading.Barrier(6)
    codes: list[int] = []

    def post() -> None:
        client = app.test_client()
        barrier.wait()
        codes.append(report(client, "SM" + "d" * 32, "undelivered", 30008).status_code)

    threads = [threading.Thread(target=post) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert codes == [200] * 6
    assert stored(session, message_id).status == "undelivered"
    assert hook == [message_id]


def test_a_handset_that_was_off_gets_the_message_again_later_a_few_times(
    client: FlaskClient, session: Session, region: Region, hook: list[int]
) -> None:
    elder = region.counties["xq"].elders[0]
    sid = "SM" + "e" * 32
    first = sent_message(session, elder.phone, sid, elder_id=elder.id)
    before = utcnow()
    report(client, sid, "undelivered", 30003)
    report(client, sid, "undelivered", 30003)  # a repeat queues nothing more

    assert stored(session, first).status == "undelivered"
    session.expire_all()
    again = session.scalars(select(OutboxItem).join(SmsMessage).where(SmsMessage.id != first)).all()
    assert len(again) == 1
    retry = again[0]
    assert retry.state == "pending" and retry.not_before >= before + timedelta(minutes=10)
    assert (retry.message.template, retry.message.elder_id, retry.message.question) == (
        "elder_wellness_check",
        elder.id,
        "wellness",
    )
    assert hook == []  # not yet given up

    # once the tries are used up, the elder is reported unreachable
    last = sent_message(
        session,
        elder.phone,
        "SM" + "f" * 32,
        attempts=dispatch.DispatchPolicy().max_attempts,
        elder_id=elder.id,
    )
    report(client, "SM" + "f" * 32, "undelivered", 30003)
    assert hook == [last]
    session.expire_all()
    assert len(session.scalars(select(OutboxItem).where(OutboxItem.state == "pending")).all()) == 1


def test_an_opt_out_reported_by_the_carrier_stops_automated_messages(
    client: FlaskClient, session: Session, region: Region, hook: list[int]
) -> None:
    worker = region.counties["xq"].workers[1]
    sent_message(session, worker.phone, "SM" + "9" * 32, worker_id=worker.id)
    report(client, "SM" + "9" * 32, "failed", 21610)
    session.expire_all()
    opted = session.get(Worker, worker.id)
    assert opted is not None and opted.sms_opted_out and not opted.phone_flagged
    assert hook == []


def test_a_message_about_an_elder_sent_to_someone_else_is_not_the_elders_failure(
    client: FlaskClient, session: Session, region: Region, hook: list[int]
) -> None:
    county = region.counties["xq"]
    sent_message(
        session,
        county.workers[0].phone,
        "SM" + "8" * 32,
        template="case_notify_supervisor",
        params={"case_id": 7, "elder_code": county.elders[0].code, "priority": "high"},
        elder_id=county.elders[0].id,
    )
    report(client, "SM" + "8" * 32, "undelivered", 30008)
    assert hook == []


def test_an_unknown_message_is_acknowledged_and_nothing_changes(
    client: FlaskClient, session: Session, region: Region
) -> None:
    elder = region.counties["xq"].elders[0]
    message_id = sent_message(session, elder.phone, "SM" + "1" * 32, elder_id=elder.id)
    assert report(client, "SM" + "2" * 32, "delivered").status_code == 200
    assert stored(session, message_id).status == "queued"


@pytest.mark.parametrize(
    ("how", "kwargs"),
    [
        ("unsigned", {"signed": False}),
        ("wrong token", {"token": "not-the-token"}),
        ("signed for another URL", {"url": "http://localhost/sms/status"}),
    ],
)
def test_a_callback_not_signed_by_our_twilio_account_is_refused(
    client: FlaskClient,
    session: Session,
    region: Region,
    how: str,
    kwargs: dict[str, object],
) -> None:
    elder = region.counties["jf"].elders[0]
    message_id = sent_message(session, elder.phone, "SM" + "3" * 32, elder_id=elder.id)
    answer = report(client, "SM" + "3" * 32, "delivered", **kwargs)  # type: ignore[arg-type]
    assert answer.status_code == 403, how
    assert stored(session, message_id).status == "queued"


def test_a_tampered_callback_is_refused(
    client: FlaskClient, session: Session, region: Region
) -> None:
    elder = region.counties["jf"].elders[0]
    message_id = sent_message(session, elder.phone, "SM" + "4" * 32, elder_id=elder.id)
    params = {"MessageSid": "SM" + "4" * 32, "MessageStatus": "sent"}
    signature = RequestValidator(TOKEN).compute_signature(PUBLIC + "/sms/status", params)
    tampered = {**params, "MessageStatus": "delivered"}
    answer = client.post("/sms/status", data=tampered, headers={"X-Twilio-Signature": signature})
    assert answer.status_code == 403
    assert stored(session, message_id).status == "queued"

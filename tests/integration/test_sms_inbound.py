"""Inbound SMS through the signed webhook, as Twilio sends it."""

from __future__ import annotations

import re
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session
from twilio.request_validator import RequestValidator

from server.app import create_app
from server.config import Config
from server.db import utcnow
from server.models import Case, CheckIn, Elder, OutboxItem, SmsMessage, Visit
from server.runtime import runtime
from server.services.months import current_month
from tests.factories import Region, build_region, make_visit

TOKEN = "test-auth-token"
PUBLIC = "https://tanfang.example.org"
_sid = [0]


@pytest.fixture
def sms_app(config: Config) -> Iterator[Flask]:
    app = create_app(replace(config, twilio_auth_token=TOKEN, public_url=PUBLIC))
    app.config.update(TESTING=True)
    yield app
    runtime(app).dispose()


@pytest.fixture
def sms(sms_app: Flask) -> FlaskClient:
    return sms_app.test_client()


def _signed(
    client: FlaskClient, sender: str, body: str, sid: str | None = None, **extra: str
) -> tuple[int, str | None]:
    if sid is None:
        _sid[0] += 1
        sid = f"SM{_sid[0]:032d}"
    form = {"MessageSid": sid, "From": sender, "To": "+15005550006", "Body": body, **extra}
    signature = RequestValidator(TOKEN).compute_signature(f"{PUBLIC}/sms/inbound", form)
    # Flask sees http://localhost (a TLS-terminating proxy in front); the signature is over
    # the public URL, and must still be accepted.
    response = client.post("/sms/inbound", data=form, headers={"X-Twilio-Signature": signature})
    if response.status_code != 200:
        return response.status_code, None
    root = ET.fromstring(response.get_data(as_text=True))
    assert root.tag == "Response"
    texts = [m.text or "" for m in root.iter("Message")]
    return 200, texts[0] if texts else None


def _region(session: Session) -> tuple[Region, Visit]:
    region = build_region(session)
    county = region.counties["xq"]
    month = current_month(Config().tz)
    visit = make_visit(session, county.elders[0], county.workers[0], month)
    make_visit(session, county.elders[2], county.workers[0], month)
    session.commit()
    return region, visit


def test_unsigned_and_badly_signed_requests_are_refused(sms: FlaskClient) -> None:
    form = {"MessageSid": "SM1", "From": "+8613912345678", "Body": "LIST"}
    assert sms.post("/sms/inbound", data=form).status_code == 403
    bad = sms.post("/sms/inbound", data=form, headers={"X-Twilio-Signature": "bm90IGl0"})
    assert bad.status_code == 403
    # signed for another URL (the proxy's internal one) is not valid either
    other = RequestValidator(TOKEN).compute_signature("http://localhost/sms/inbound", form)
    assert (
        sms.post("/sms/inbound", data=form, headers={"X-Twilio-Signature": other}).status_code
        == 403
    )


def test_full_width_done_completes_the_visit_once_however_often_twilio_retries(
    sms: FlaskClient, session: Session
) -> None:
    region, visit = _region(session)
    worker = region.counties["xq"].workers[0]
    code = visit.elder.code
    full_width = "ＤＯＮＥ　" + "".join(chr(ord(c) + 0xFEE0) for c in code) + "　４，精神不错"
    status, reply = _signed(sms, worker.phone, full_width, sid="SMdone1")
    assert status == 200 and reply is not None
    assert reply.startswith("【暖心探访】") and code in reply
    again = _signed(sms, worker.phone, full_width, sid="SMdone1")
    assert again == (200, reply)
    session.expire_all()
    checkins = session.scalars(select(CheckIn)).all()
    assert len(checkins) == 1
    assert (checkins[0].channel, checkins[0].outcome, checkins[0].mood) == ("sms", "seen", 4)
    assert session.get(Visit, visit.id).status == "done"  # type: ignore[union-attr]
    rating = session.scalar(select(SmsMessage).where(SmsMessage.template == "elder_rating_request"))
    assert rating is not None and rating.elder_id == visit.elder_id


def test_concurrent_replays_of_one_message_are_processed_once(
    sms_app: Flask, session: Session
) -> None:
    region, visit = _region(session)
    worker = region.counties["xq"].workers[0]
    statuses: list[int] = []

    def post() -> None:
        status, _ = _signed(
            sms_app.test_client(), worker.phone, f"完成{visit.elder.code}", sid="SMsame"
        )
        statuses.append(status)

    threads = [threading.Thread(target=post) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses and all(s in (200, 503) for s in statuses) and 200 in statuses
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(CheckIn)) == 1
    assert (
        session.scalar(
            select(func.count()).select_from(SmsMessage).where(SmsMessage.direction == "in")
        )
        == 1
    )


def test_list_and_usage_replies_in_the_workers_language(sms: FlaskClient, session: Session) -> None:
    region, visit = _region(session)
    worker = region.counties["xq"].workers[0]
    _, listing = _signed(sms, worker.phone, "任务")
    assert listing is not None and visit.elder.code in listing
    worker.locale = "en"
    session.commit()
    _, usage = _signed(sms, worker.phone, "DONE")
    assert usage is not None and usage.startswith("Tanfang") and "code" in usage.lower()
    _, unknown = _signed(sms, worker.phone, "DONE XXXX 3")
    assert unknown is not None and "XXXX" in unknown


def test_elder_three_after_a_wellness_check_opens_a_case_at_the_streets_own_agency(
    sms: FlaskClient, session: Session
) -> None:
    region, visit = _region(session)
    elder = visit.elder
    session.add(
        SmsMessage(
            direction="out",
            phone=elder.phone,
            elder_id=elder.id,
            template="elder_wellness_check",
            params={},
            locale="zh_CN",
            body="…",
            question="wellness",
            status="delivered",
            sent_at=utcnow() - timedelta(hours=2),
        )
    )
    session.commit()
    status, reply = _signed(sms, elder.phone, "３")
    assert status == 200 and reply is not None and "12356" in reply
    case = session.scalar(select(Case))
    assert case is not None and case.kind == "psych_support"
    assert case.agency_id == region.counties["xq"].home.id  # the street's Warm Heart Home
    assert case.ack_due_at is not None and case.owner_id is not None
    notices = session.scalars(
        select(SmsMessage).where(SmsMessage.template == "case_notify_agency")
    ).all()
    assert {n.phone for n in notices} >= {region.counties["xq"].home.phone}
    # a second signal for the same elder adds to the open case
    _signed(sms, elder.phone, "3")
    assert session.scalar(select(func.count()).select_from(Case)) == 1


def test_crisis_words_open_a_crisis_case_and_answer_with_the_hotline(
    sms: FlaskClient, session: Session
) -> None:
    _, visit = _region(session)
    elder = visit.elder
    status, reply = _signed(sms, elder.phone, "活着没意思了，想去找我儿子")
    assert status == 200 and reply is not None and "12356" in reply
    case = session.scalar(select(Case))
    assert case is not None and (case.kind, case.priority) == ("crisis", "urgent")
    told = session.scalars(select(SmsMessage.template).where(SmsMessage.case_id == case.id)).all()
    assert {"case_notify_agency", "case_notify_contact", "case_notify_supervisor"} <= set(told)
    urgent = session.scalars(select(OutboxItem.urgent)).all()
    assert urgent and all(urgent)


def test_opt_out_stops_messages_and_tells_the_contact_to_call(
    sms: FlaskClient, session: Session
) -> None:
    region, visit = _region(session)
    elder = visit.elder
    status, reply = _signed(sms, elder.phone, "退订")
    assert status == 200 and reply is not None
    session.expire_all()
    assert session.get(Elder, elder.id).sms_opted_out is True  # type: ignore[union-attr]
    call = session.scalar(select(SmsMessage).where(SmsMessage.template == "contact_call_instead"))
    assert call is not None and call.phone == region.counties["xq"].workers[0].phone
    # The contact is told which elder by code; no name travels in an SMS body.
    assert call.params == {"elder_code": elder.code}
    _signed(sms, elder.phone, "订阅")
    session.expire_all()
    assert session.get(Elder, elder.id).sms_opted_out is False  # type: ignore[union-attr]


def test_only_an_elder_is_told_that_home_visits_go_on_when_opting_out(
    sms: FlaskClient, session: Session
) -> None:
    region, visit = _region(session)
    _, elder_reply = _signed(sms, visit.elder.phone, "TD")
    _, worker_reply = _signed(sms, region.counties["xq"].workers[1].phone, "退订")
    _, stranger_reply = _signed(sms, "+8613912340000", "STOP")
    assert elder_reply is not None and "上门探访照常进行" in elder_reply
    for reply in (worker_reply, stranger_reply):
        assert reply is not None and "退订" in reply and "上门探访" not in reply, reply


def test_an_unknown_number_gets_one_polite_reply_a_day(sms: FlaskClient, session: Session) -> None:
    _region(session)
    first = _signed(sms, "+8613700000001", "你好，请问这是哪里")
    second = _signed(sms, "+8613700000001", "你好？")
    assert first[0] == 200 and first[1] is not None
    assert second == (200, None)
    assert (
        session.scalar(
            select(func.count()).select_from(SmsMessage).where(SmsMessage.direction == "in")
        )
        == 2
    )


def test_automated_senders_are_never_answered(sms: FlaskClient, session: Session) -> None:
    _region(session)
    assert _signed(sms, "10690000", "您的验证码是1234") == (200, None)


def test_a_webhook_signed_with_a_shared_key_is_checked_with_it(config: Config) -> None:
    # A Twilio Webhook Setting that signs with a SharedKey says so in a header; the key is
    # TWILIO_WEBHOOK_SHARED_KEY and the algorithm the header's.
    form = {"MessageSid": "SMshared1", "From": "+8613912345678", "To": "+1500", "Body": "LIST"}
    url = f"{PUBLIC}/sms/inbound"
    settings = {
        "X-Twilio-Webhooks-Signature-Settings": "key=webhooks_sharedkey_01,algorithm=HMAC_SHA256"
    }
    sha256 = RequestValidator("shared-secret").compute_signature(url, form, "HMAC_SHA256")

    def post(app: Flask, signature: str, **headers: str) -> int:
        response = app.test_client().post(
            "/sms/inbound", data=form, headers={"X-Twilio-Signature": signature, **headers}
        )
        return response.status_code

    base = replace(config, twilio_auth_token=TOKEN, public_url=PUBLIC)
    unset = create_app(base)
    shared = create_app(replace(base, twilio_webhook_shared_key="shared-secret"))
    try:
        # the header without the key configured: our fault, and Twilio will retry
        assert post(unset, sha256, **settings) == 500
        assert post(shared, sha256, **settings) == 200
        # the same signature without the header is read as the Auth Token's SHA-1: refused
        assert post(shared, sha256) == 403
        # a SHA-1 by the Auth Token cannot pass for the SharedKey's signature
        sha1 = RequestValidator(TOKEN).compute_signature(url, form)
        assert post(shared, sha1, **settings) == 403
        assert post(shared, sha1) == 200  # as before, without the header
        other = {"X-Twilio-Webhooks-Signature-Settings": "key=k,algorithm=HMAC_SHA512"}
        assert post(shared, sha256, **other) == 403  # an algorithm the SDK does not know
    finally:
        runtime(unset).dispose()
        runtime(shared).dispose()


def test_a_database_that_is_down_gets_a_retryable_error() -> None:
    config = replace(
        Config(),
        secret_key="k",
        twilio_auth_token=TOKEN,
        public_url=PUBLIC,
        database_url="postgresql+psycopg://nobody@127.0.0.1:9/none?connect_timeout=2",
    )
    app = create_app(config)
    try:
        status, _ = _signed(app.test_client(), "+8613912345678", "LIST")
    finally:
        runtime(app).dispose()
    assert status == 503


def _asked(
    session: Session,
    elder: Elder,
    question: str,
    visit: Visit | None = None,
    *,
    ago: timedelta = timedelta(hours=2),
    status: str = "delivered",
) -> None:
    """`question` sent to `elder` `ago` (two hours) ago."""
    session.add(
        SmsMessage(
            direction="out",
            phone=elder.phone,
            elder_id=elder.id,
            visit_id=visit.id if visit else None,
            template="elder_wellness_check" if question == "wellness" else "elder_rating_request",
            params={},
            locale="zh_CN",
            body="…",
            question=question,
            status=status,
            created_at=utcnow() - ago,
            sent_at=None if status in ("queued", "held") else utcnow() - ago,
        )
    )
    session.commit()


def test_an_elders_words_go_to_the_primary_contact_and_the_elder_is_thanked(
    sms: FlaskClient, session: Session
) -> None:
    region, visit = _region(session)
    elder = visit.elder
    status, reply = _signed(sms, elder.phone, "谢谢你们上次来看我，家里都好。")
    assert status == 200 and reply is not None and reply.startswith("【暖心探访】")
    forward = session.scalar(
        select(SmsMessage).where(SmsMessage.template == "elder_message_forward")
    )
    contact = region.counties["xq"].workers[0]
    assert forward is not None and (forward.phone, forward.worker_id) == (contact.phone, contact.id)
    assert forward.params == {"elder_code": elder.code, "text": "谢谢你们上次来看我，家里都好。"}
    assert forward.status == "queued" and forward.elder_id is None
    item = session.scalar(select(OutboxItem).where(OutboxItem.message_id == forward.id))
    assert item is not None and (item.state, item.urgent, item.attempts) == ("pending", False, 0)
    assert item.not_before is not None and item.created_at is not None and item.claimed_by is None
    answer = session.scalar(select(SmsMessage).where(SmsMessage.template == "elder_ack"))
    assert answer is not None and answer.status == "sent" and answer.body == reply
    # a digit with no question open is an ordinary message: its words are forwarded too,
    # a bare digit says nothing to forward
    _signed(sms, elder.phone, "好的，1")
    _signed(sms, elder.phone, "1")
    forwards = session.scalars(
        select(SmsMessage.params)
        .where(SmsMessage.template == "elder_message_forward")
        .order_by(SmsMessage.id)
    ).all()
    assert [f["text"] for f in forwards if f] == ["谢谢你们上次来看我，家里都好。", "好的"]


def test_an_elders_digit_after_a_visit_rates_it(sms: FlaskClient, session: Session) -> None:
    _, visit = _region(session)
    elder = visit.elder
    _asked(session, elder, "rating", visit)
    status, reply = _signed(sms, elder.phone, "５")
    assert status == 200 and reply is not None and "5" in reply
    session.expire_all()
    rated = session.get(Visit, visit.id)
    assert rated is not None and rated.rating == 5 and rated.rated_at is not None
    inbound = session.scalar(select(SmsMessage).where(SmsMessage.direction == "in"))
    assert inbound is not None and inbound.visit_id == visit.id
    assert session.scalar(select(func.count()).select_from(OutboxItem)) == 0


def test_a_wellness_fine_opens_nothing(sms: FlaskClient, session: Session) -> None:
    _, visit = _region(session)
    _asked(session, visit.elder, "wellness")
    status, reply = _signed(sms, visit.elder.phone, "好的，1")
    assert status == 200 and reply is not None
    assert session.scalar(select(func.count()).select_from(Case)) == 0
    assert session.scalar(select(func.count()).select_from(OutboxItem)) == 0


def test_a_digit_means_nothing_after_the_question_has_grown_old_or_was_never_sent(
    sms: FlaskClient, session: Session
) -> None:
    """A wellness check answers for a week, a rating request for two; a question still
    queued (or held back) was never read, so a digit is not its answer."""
    _, visit = _region(session)
    elder = visit.elder
    _asked(session, elder, "wellness", ago=timedelta(days=8))
    _signed(sms, elder.phone, "3")
    assert session.scalar(select(func.count()).select_from(Case)) == 0
    _asked(session, elder, "rating", visit, ago=timedelta(days=15))
    _signed(sms, elder.phone, "4")
    _asked(session, elder, "rating", visit, ago=timedelta(hours=1), status="held")
    _signed(sms, elder.phone, "5")
    session.expire_all()
    assert session.get(Visit, visit.id).rating is None  # type: ignore[union-attr]
    # the same digit within the week is the answer: a case for "3, I want to talk"
    _asked(session, elder, "wellness", ago=timedelta(days=6))
    _signed(sms, elder.phone, "3")
    assert session.scalar(select(func.count()).select_from(Case)) == 1


def test_a_couple_sharing_a_phone_answers_as_the_one_last_asked(
    sms: FlaskClient, session: Session
) -> None:
    region, _ = _region(session)
    first, second = region.counties["xq"].elders[0], region.counties["xq"].elders[1]
    second.phone = first.phone
    session.commit()
    _asked(session, second, "wellness")
    status, reply = _signed(sms, first.phone, "2")
    assert status == 200 and reply is not None
    case = session.scalar(select(Case))
    assert case is not None and (case.kind, case.elder_id) == ("help", second.id)
    inbound = session.scalar(select(SmsMessage).where(SmsMessage.direction == "in"))
    assert inbound is not None and inbound.elder_id == second.id


def test_miss_then_done_typed_with_its_mood_then_help(sms: FlaskClient, session: Session) -> None:
    region, visit = _region(session)
    worker = region.counties["xq"].workers[0]
    code = visit.elder.code
    status, missed = _signed(sms, worker.phone, f"未见 {code} 家里没人")
    assert status == 200 and missed is not None and code in missed
    session.expire_all()
    assert session.get(Visit, visit.id).status == "planned"  # type: ignore[union-attr]
    # the code and the mood with no space between them (完成K9MX4)
    status, done = _signed(sms, worker.phone, f"完成{code}4")
    assert status == 200 and done is not None and code in done
    session.expire_all()
    assert session.get(Visit, visit.id).status == "done"  # type: ignore[union-attr]
    checkins = session.scalars(select(CheckIn).order_by(CheckIn.id)).all()
    assert [(c.outcome, c.mood, c.note) for c in checkins] == [
        ("not_home", None, "家里没人"),
        ("seen", 4, None),
    ]
    _, again = _signed(sms, worker.phone, f"完成 {code} 5")
    assert again is not None and code in again  # no open visit left for that elder
    assert session.scalar(select(func.count()).select_from(CheckIn)) == 2
    status, helped = _signed(sms, worker.phone, f"求助 {code} 老人家里漏水")
    assert status == 200 and helped is not None and code in helped
    case = session.scalar(select(Case))
    assert case is not None and (case.kind, case.elder_id) == ("help", visit.elder_id)
    assert str(case.id) in helped
    # an elder the worker has nothing to do with
    stranger = region.counties["jf"].elders[0]
    _, refused = _signed(sms, worker.phone, f"求助 {stranger.code} 漏水")
    assert refused is not None and stranger.code in refused
    assert session.scalar(select(func.count()).select_from(Case)) == 1


def test_the_check_in_ack_counts_what_it_says_it_counts(sms: FlaskClient, session: Session) -> None:
    # LIST counts households (户); the DONE reply must not call a count of visits households:
    # a high-tier elder owes four visits a month, which is still one household.
    region = build_region(session)
    county = region.counties["xq"]
    worker = county.workers[0]
    month = current_month(Config().tz)
    for seq in (1, 2, 3):
        make_visit(session, county.elders[0], worker, month, seq=seq)
    make_visit(session, county.elders[2], worker, month)
    session.commit()
    status, listed = _signed(sms, worker.phone, "任务")
    assert status == 200 and listed is not None and "2户" in listed
    status, reply = _signed(sms, worker.phone, f"完成 {county.elders[0].code} 4")
    assert status == 200 and reply is not None
    count = re.search(r"还有(\d+)(户|次)", reply)
    assert count is not None, reply
    assert (int(count[1]), count[2]) in {(2, "户"), (3, "次")}, reply


def test_done_for_an_elder_whose_visit_someone_else_holds_says_it_is_not_yours(
    sms: FlaskClient, session: Session
) -> None:
    # The elder's visit is open, held by the other contact: "the elder has no open visit"
    # would tell the worker something false (that it is done, or was never planned).
    region = build_region(session)
    county = region.counties["xq"]
    elder = county.elders[0]
    holder, other = county.workers[0], county.workers[1]
    assert elder.secondary_contact_id == other.id
    make_visit(session, elder, holder, current_month(Config().tz))
    session.commit()
    status, reply = _signed(sms, other.phone, f"完成 {elder.code} 4")
    assert status == 200 and reply is not None
    assert "您" in reply and elder.code in reply, reply
    assert "没有待完成的探访" not in reply, reply
    other.locale = "en"
    session.commit()
    status, reply = _signed(sms, other.phone, f"DONE {elder.code} 4")
    assert status == 200 and reply is not None
    assert "You have no open visit" in reply and elder.code in reply, reply


def test_a_code_typed_with_its_mood_prefers_the_elder_whose_code_it_is(
    sms: FlaskClient, session: Session
) -> None:
    # 完成K9MX4 reads as code K9MX4 when such an elder exists, and only otherwise as K9MX with
    # mood 4; the two readings must not be mixed up whichever look-up answers them.
    region = build_region(session)
    county = region.counties["xq"]
    worker = county.workers[0]
    short, long_ = county.elders[0], county.elders[2]
    short.code, long_.code = "K9MX", "K9MX4"
    month = current_month(Config().tz)
    short_visit = make_visit(session, short, worker, month)
    long_visit = make_visit(session, long_, worker, month)
    session.commit()
    status, reply = _signed(sms, worker.phone, "完成k9mx4")
    assert status == 200 and reply is not None and "K9MX4" in reply, reply
    session.expire_all()
    assert session.get(Visit, long_visit.id).status == "done"  # type: ignore[union-attr]
    assert session.get(Visit, short_visit.id).status == "planned"  # type: ignore[union-attr]
    status, reply = _signed(sms, worker.phone, "完成K9MX3")
    assert status == 200 and reply is not None and "K9MX" in reply, reply
    session.expire_all()
    assert session.get(Visit, short_visit.id).status == "done"  # type: ignore[union-attr]
    moods = session.scalars(select(CheckIn.mood).order_by(CheckIn.id)).all()
    assert moods == [None, 3]
    # neither reading names an elder: the code as typed is the one reported
    status, reply = _signed(sms, worker.phone, "完成K9MY3")
    assert status == 200 and reply is not None and "K9MY3" in reply, reply


def test_list_names_each_household_once_soonest_first_and_only_the_workers_own(
    sms: FlaskClient, session: Session
) -> None:
    region = build_region(session)
    county = region.counties["xq"]
    worker, other = county.workers[0], county.workers[1]
    month = current_month(Config().tz)
    for seq in (1, 2):
        make_visit(session, county.elders[0], worker, month, seq=seq)
    later = make_visit(session, county.elders[2], worker, month)
    make_visit(session, county.elders[1], other, month)
    make_visit(session, county.elders[3], worker, month, status="done")
    soonest = region.counties["jf"].elders[0]  # a household lent from the next county
    first = make_visit(session, soonest, worker, month)
    first.due_date = first.due_date.replace(day=10)
    later.due_date = later.due_date.replace(day=20)
    session.commit()
    _, listing = _signed(sms, worker.phone, "任务")
    assert listing is not None
    codes = [e.code for e in (soonest, county.elders[2], county.elders[0])]
    assert [listing.count(code) for code in codes] == [1, 1, 1], listing
    assert sorted(codes, key=listing.index) == codes, listing  # soonest due first
    assert county.elders[1].code not in listing and county.elders[3].code not in listing
    _, nothing = _signed(sms, region.counties["jf"].workers[1].phone, "LIST")
    assert nothing is not None and not any(code in nothing for code in codes), nothing


def test_a_failure_after_the_check_in_keeps_nothing_and_the_retry_does_it_once(
    sms: FlaskClient, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The check-in, the rating request and the stored message are one transaction with the
    # answer: when the answer cannot be written (the database gone mid-request), Twilio gets a
    # 503 and nothing half-done stays behind for its retry to trip over.
    import server.services.sms.inbound as inbound

    region, visit = _region(session)
    worker = region.counties["xq"].workers[0]
    answer = inbound._answer
    failures = [OperationalError("INSERT INTO sms_messages", {}, ConnectionError("reset"))]

    def failing_once(*args: object, **kwargs: object) -> object:
        if failures:
            raise failures.pop()
        return answer(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(inbound, "_answer", failing_once)
    text = f"完成 {visit.elder.code} 5"
    assert _signed(sms, worker.phone, text, sid="SMfails1") == (503, None)
    session.expire_all()
    assert session.get(Visit, visit.id).status == "planned"  # type: ignore[union-attr]
    assert session.scalar(select(func.count()).select_from(CheckIn)) == 0
    assert session.scalar(select(func.count()).select_from(SmsMessage)) == 0
    assert session.scalar(select(func.count()).select_from(OutboxItem)) == 0
    status, reply = _signed(sms, worker.phone, text, sid="SMfails1")
    assert status == 200 and reply is not None and visit.elder.code in reply
    session.expire_all()
    assert session.get(Visit, visit.id).status == "done"  # type: ignore[union-attr]
    assert session.scalar(select(func.count()).select_from(CheckIn)) == 1
    assert session.scalar(
        select(func.count()).select_from(SmsMessage).where(
            SmsMessage.template == "elder_rating_request"
        )
    ) == 1

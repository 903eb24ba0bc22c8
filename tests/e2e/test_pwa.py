"""The worker PWA (issue 5): a grid worker's phone, online and offline, against a live server.

The browser tests drive a real headless Chromium at 360 x 640 and compare what reaches the
database with what was entered. The others check what the server promises the app: strict
headers on the shell, a service worker for /app/, an installable manifest, strings in both
locales, and the scoped, audited elder card.
"""

from __future__ import annotations

import json
import re
import struct
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import request
from flask.testing import FlaskClient
from sqlalchemy import select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from server.blueprints.pwa import PWA_DIR
from server.db import utcnow
from server.models import AuditEntry, AuthToken, Case, CheckIn, Elder, SmsMessage, Visit, Worker
from server.services.months import current_month
from tests.e2e.conftest import LiveServer
from tests.factories import PIN, build_region, make_elder, make_visit
from tests.helpers import api_token

TZ = ZoneInfo("Asia/Shanghai")
HOME = (38.47, 106.29)  # where the xq grid's elders live (tests.factories)
NAMES = ("张秀英", "李桂兰", "王淑珍", "刘玉梅")


@dataclass
class Round:
    """A grid worker with four open visits this month, elders 0, 111, 222 and 333 m north of
    the first one's home."""

    worker: Worker
    elders: list[Elder]
    visits: list[Visit]
    month: str


@pytest.fixture
def round_(session: Session) -> Round:
    region = build_region(session)
    county = region.counties["xq"]
    worker = county.workers[0]
    month = current_month(TZ)
    elders = [e for e in county.elders if e.primary_contact_id == worker.id]
    while len(elders) < len(NAMES):
        elders.append(
            make_elder(
                session,
                f"E-pwa-{len(elders)}",
                county.grids[0],
                worker,
                county.workers[1],
                lat=HOME[0] + 0.001 * len(elders),
                lon=HOME[1],
            )
        )
    for elder, name in zip(elders, NAMES, strict=True):
        elder.name = name
    visits = [make_visit(session, elder, worker, month) for elder in elders]
    session.commit()
    return Round(worker, elders, visits, month)


@pytest.fixture
def new_page(phone_context: Any) -> Iterator[Callable[[], Any]]:
    """Open pages on the phone; any script error in them fails the test."""
    errors: list[str] = []

    def record_console(message: Any) -> None:
        # A refused or unreachable request is logged by the browser itself; that is expected.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            errors.append(message.text)

    def open_page() -> Any:
        page = phone_context.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("console", record_console)
        return page

    yield open_page
    assert not errors, errors


def stored_checkins(engine: Engine) -> list[Any]:
    """Every check-in, read on a fresh connection (the server writes from its own thread)."""
    with engine.connect() as conn:
        return list(conn.execute(select(CheckIn.__table__).order_by(CheckIn.id)))


def wait_for(condition: Callable[[], Any], timeout: float = 15.0) -> Any:
    """Poll until `condition()` is truthy; its value."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.2)


# --------------------------------------------------------------------------- as a user would


def sign_in(page: Any, phone: str, pin: str = PIN) -> None:
    """Open the app and sign in with phone and PIN; the visit list shows."""
    page.goto("/app/")
    page.fill("#phone", phone)
    page.fill("#pin", pin)
    page.click("#sign-in")
    page.wait_for_selector("a.visit")


def waiting(page: Any, count: int, timeout: float = 15000) -> None:
    """The header says `count` check-ins are waiting."""
    page.wait_for_selector(f'#queue-pill[data-count="{count}"]', timeout=timeout)


def check_in(
    page: Any,
    visit: Visit,
    outcome: str = "seen",
    *,
    mood: int | None = None,
    phq2: tuple[int, int] | None = None,
    needs: tuple[str, ...] = (),
    services: tuple[str, ...] = (),
    note: str | None = None,
    far: bool = False,
) -> None:
    """From the list: open the visit, record it, save; back on the list. The form says
    whether the phone is `far` (more than 300 m) from the elder's home."""
    page.click(f'a.visit[data-visit-id="{visit.id}"]')
    page.click("#start-checkin")
    page.wait_for_selector("#geo.far" if far else "#geo.ok")  # the position is taken
    page.check(f'input[name="outcome"][value="{outcome}"]')
    if mood is not None:
        page.click(f'label.mood:has(input[value="{mood}"])')
    if phq2 is not None:
        page.check(f'input[name="phq2_1"][value="{phq2[0]}"]')
        page.check(f'input[name="phq2_2"][value="{phq2[1]}"]')
    for need in needs:
        page.check(f'input[name="needs"][value="{need}"]')
    for service in services:
        page.check(f'input[name="services"][value="{service}"]')
    if note is not None:
        page.fill('textarea[name="note"]', note)
    page.click("#save")
    page.wait_for_selector("a.visit")


def visible_names(page: Any) -> list[str]:
    """The elders' names down the visit list."""
    return [n.strip() for n in page.locator("a.visit .name").all_inner_texts()]


# --------------------------------------------------------------------------- browser tests


@pytest.mark.browser
def test_sign_in_and_check_in_online(
    round_: Round,
    session: Session,
    engine: Engine,
    new_page: Callable[[], Any],
    artifacts: Path,
) -> None:
    """PIN sign-in; the month's visits open first, by due date, then nearest first; one visit
    recorded with everything the form asks, which reaches the server at once."""
    first, second, _, fourth = round_.visits
    # The farthest elder is due first; the nearest one was already seen this month.
    fourth.due_date = fourth.due_date.replace(day=10)
    first.status = "done"
    session.commit()
    requested: list[str] = []
    page = new_page()
    page.on("request", lambda r: requested.append(r.url))
    sign_in(page, round_.worker.phone)

    assert visible_names(page) == ["刘玉梅", "李桂兰", "王淑珍", "张秀英"]
    assert page.get_attribute(f'a.visit[data-visit-id="{first.id}"]', "data-status") == "done"
    waiting(page, 0)
    assert "待发送 0" in page.inner_text("#queue-pill")
    page.screenshot(path=str(artifacts / "pwa-visits-360x640.png"))

    # The elder card: whom to call, nothing recorded before.
    page.click(f'a.visit[data-visit-id="{second.id}"]')
    page.wait_for_selector("#start-checkin")
    assert page.get_attribute("#call", "href") == f"tel:{round_.elders[1].phone}"
    page.wait_for_selector("text=还没有探访记录")
    page.click("#start-checkin")
    page.wait_for_selector("#geo.ok")
    assert "精度约 12 米" in page.inner_text("#geo")
    page.get_by_text("见到本人", exact=True).click()
    # The PHQ-2 in plain words, with the four answers.
    form = page.inner_text("form.checkin")
    for words in (
        "在过去两周里，做事时提不起劲或没有兴趣？",
        "感到心情低落、沮丧或绝望？",
        "完全不会",
        "好几天",
        "一半以上的天数",
        "几乎每天",
    ):
        assert words in form
    page.click('label.mood:has(input[value="4"])')
    page.check('input[name="phq2_1"][value="1"]')
    page.check('input[name="phq2_2"][value="0"]')
    page.get_by_text("生活照料").first.click()  # a need
    page.check('input[name="services"][value="companionship"]')
    page.fill('textarea[name="note"]', "血压正常，想念女儿")
    page.screenshot(path=str(artifacts / "pwa-checkin-360x640.png"))
    small = page.evaluate(
        """() => [...document.querySelectorAll(
                'button:not([hidden]), a.visit, a.button, label.choice, input[type=tel]')]
            .map(el => el.getBoundingClientRect())
            .filter(r => r.width > 0 && r.height < 48).length"""
    )
    assert small == 0, "touch targets under 48 px"
    page.click("#save")
    page.wait_for_selector("a.visit")
    waiting(page, 0)
    page.wait_for_selector("#banner.ok")
    assert "已发送" in page.inner_text("#banner")

    [row] = wait_for(lambda: stored_checkins(engine))
    assert (row.visit_id, row.worker_id, row.channel) == (second.id, round_.worker.id, "pwa")
    assert (row.outcome, row.mood, row.phq2_interest, row.phq2_mood) == ("seen", 4, 1, 0)
    assert row.needs == ["daily_care"] and row.services == ["visit", "companionship"]
    assert row.note == "血压正常，想念女儿"
    assert (row.lat, row.lon, row.accuracy_m) == (38.47, 106.29, 12)
    assert row.far_from_home is False and row.distance_m == pytest.approx(111, abs=2)
    assert re.fullmatch(r"[0-9a-f-]{36}", row.client_id)
    page.wait_for_selector(f'a.visit[data-visit-id="{second.id}"][data-status="done"]')

    # Nothing personal in any address the app asked for.
    personal = {round_.worker.phone, round_.worker.phone[3:], round_.worker.name}
    for elder in round_.elders:
        assert elder.phone and elder.address
        personal |= {elder.name, elder.phone, elder.phone[3:], elder.address}
    leaked = sorted({p for p in personal for url in requested if p in url})
    assert not leaked, leaked


@pytest.mark.browser
def test_offline_check_ins_survive_reload_and_a_closed_page_and_arrive_once(
    round_: Round,
    engine: Engine,
    phone_context: Any,
    new_page: Callable[[], Any],
    artifacts: Path,
) -> None:
    first, second, _, fourth = round_.visits
    page = new_page()
    sign_in(page, round_.worker.phone)
    page.wait_for_function("navigator.serviceWorker.controller !== null")
    check_in(page, first, "seen", mood=3)
    waiting(page, 0)
    assert len(wait_for(lambda: stored_checkins(engine))) == 1

    phone_context.set_offline(True)
    check_in(page, second, "seen", mood=2, phq2=(2, 2), needs=("emotional",), note="一个人住")
    check_in(page, fourth, "not_home", far=True)  # 333 m from the home: flagged, accepted
    waiting(page, 2)
    assert "待发送 2" in page.inner_text("#queue-pill")
    assert page.get_attribute(f'a.visit[data-visit-id="{second.id}"]', "data-status") == "queued"
    page.screenshot(path=str(artifacts / "pwa-offline-360x640.png"))

    page.reload()  # offline: the service worker serves the shell, IndexedDB the rest
    page.wait_for_selector("a.visit")
    waiting(page, 2)
    assert "离线" in page.inner_text("#freshness")
    page.close()
    page = new_page()
    page.goto("/app/")
    page.wait_for_selector("a.visit")
    waiting(page, 2)
    assert len(stored_checkins(engine)) == 1

    phone_context.set_offline(False)
    waiting(page, 0, timeout=30000)
    rows = wait_for(lambda: (r := stored_checkins(engine)) and len(r) >= 3 and r)
    time.sleep(1.5)  # anything sent twice would have arrived by now
    rows = stored_checkins(engine)
    assert len(rows) == 3
    assert len({r.client_id for r in rows}) == 3
    new = {r.visit_id: r for r in rows[1:]}
    assert set(new) == {second.id, fourth.id}
    assert (new[second.id].outcome, new[second.id].mood, new[second.id].note) == (
        "seen",
        2,
        "一个人住",
    )
    assert (new[second.id].phq2_interest, new[second.id].phq2_mood) == (2, 2)
    assert new[fourth.id].outcome == "not_home"
    assert new[fourth.id].far_from_home is True
    assert new[fourth.id].distance_m == pytest.approx(334, abs=2)
    assert new[second.id].far_from_home is False
    page.wait_for_selector(f'a.visit[data-visit-id="{second.id}"][data-status="done"]')


@pytest.mark.browser
def test_a_server_error_is_retried_on_a_timer(
    round_: Round, engine: Engine, live_server: LiveServer, new_page: Callable[[], Any]
) -> None:
    """No 'online' event and no tap: after a 503 the queue tries again by itself."""
    refused: list[str] = []

    @live_server.app.before_request
    def _unavailable_once() -> Any:
        if request.method == "POST" and request.path.endswith("/checkins") and not refused:
            refused.append(request.path)
            return {"error": {"code": "unavailable", "message": "down", "fields": {}}}, 503
        return None

    page = new_page()
    sign_in(page, round_.worker.phone)
    check_in(page, round_.visits[0], "seen", mood=4)
    waiting(page, 1)
    page.click("#queue-pill")
    page.wait_for_selector("text=服务器暂时不可用")
    assert refused and stored_checkins(engine) == []
    waiting(page, 0, timeout=20000)  # the first retry comes after about five seconds
    assert [r.visit_id for r in stored_checkins(engine)] == [round_.visits[0].id]


@pytest.mark.browser
def test_one_time_code_sign_in_in_the_workers_language(
    round_: Round, session: Session, new_page: Callable[[], Any], artifacts: Path
) -> None:
    round_.worker.locale = "en"
    session.commit()
    page = new_page()
    page.goto("/app/")
    page.click("#switch-mode")
    page.fill("#phone", round_.worker.phone)
    page.click("#send-code")
    page.wait_for_selector("text=验证码已发送")
    page.screenshot(path=str(artifacts / "pwa-login-code-360x640.png"))

    def code() -> str | None:
        session.rollback()
        message = session.scalar(
            select(SmsMessage).where(
                SmsMessage.worker_id == round_.worker.id, SmsMessage.template == "otp_code"
            )
        )
        return message.params["otp"] if message and message.params else None

    otp = wait_for(code)
    assert otp and re.fullmatch(r"\d{6}", otp)
    page.fill("#otp", "000000" if otp != "000000" else "111111")
    page.click("#sign-in")
    page.wait_for_selector("text=验证码不对或已过期")
    page.fill("#otp", otp)
    page.click("#sign-in")
    page.wait_for_selector("a.visit")
    assert page.inner_text("h1") == "This month's visits"
    assert page.evaluate("document.documentElement.lang") == "en"
    assert "0 waiting" in page.inner_text("#queue-pill")
    page.screenshot(path=str(artifacts / "pwa-visits-en-360x640.png"))


@pytest.mark.browser
def test_refused_items_stay_visible_and_an_expired_sign_in_keeps_the_queue(
    round_: Round,
    session: Session,
    engine: Engine,
    phone_context: Any,
    new_page: Callable[[], Any],
    artifacts: Path,
) -> None:
    first, second, _, _ = round_.visits
    page = new_page()
    sign_in(page, round_.worker.phone)
    phone_context.set_offline(True)
    check_in(page, first, "seen", mood=5)
    check_in(page, second, "refused")
    waiting(page, 2)
    # Meanwhile the first visit is cancelled, and the worker's sign-in is revoked.
    session.execute(update(Visit).where(Visit.id == first.id).values(status="cancelled"))
    session.execute(
        update(AuthToken)
        .where(AuthToken.worker_id == round_.worker.id)
        .values(revoked_at=utcnow() - timedelta(seconds=1))
    )
    session.commit()

    phone_context.set_offline(False)
    page.wait_for_selector("#expired-note:not([hidden])", timeout=30000)
    waiting(page, 2)
    assert stored_checkins(engine) == []
    assert page.input_value("#phone") == round_.worker.phone

    page.fill("#pin", PIN)
    page.click("#sign-in")
    page.wait_for_selector("#queue-pill.attention")
    waiting(page, 1)
    rows = wait_for(lambda: stored_checkins(engine))
    assert [(r.visit_id, r.outcome) for r in rows] == [(second.id, "refused")]

    page.click("#queue-pill")
    page.wait_for_selector("li.queued.attention")
    item = page.locator("li.queued.attention")
    assert item.count() == 1
    assert "张秀英" in item.inner_text() and "这次探访已取消" in item.inner_text()
    page.reload()
    page.wait_for_selector("li.queued.attention")  # still there after a reload
    page.screenshot(path=str(artifacts / "pwa-queue-attention-360x640.png"))
    page.click("li.queued.attention button.danger")
    page.click('#dialog button[value="discard"]')
    waiting(page, 0)
    assert [r.visit_id for r in stored_checkins(engine)] == [second.id]


@pytest.mark.browser
def test_logout_sends_first_asks_before_dropping_and_leaves_nothing_personal(
    round_: Round,
    session: Session,
    engine: Engine,
    phone_context: Any,
    new_page: Callable[[], Any],
    artifacts: Path,
) -> None:
    first = round_.visits[0]
    page = new_page()
    sign_in(page, round_.worker.phone)
    page.click(f'a.visit[data-visit-id="{first.id}"]')
    page.wait_for_selector("text=还没有探访记录")  # the card, read online (and kept)
    page.screenshot(path=str(artifacts / "pwa-card-360x640.png"))
    page.click("a.back")
    phone_context.set_offline(True)
    check_in(page, first, "seen", note="需要帮忙买药")
    waiting(page, 1)

    page.click("#logout")  # offline: it cannot send, so it asks
    page.wait_for_selector("#dialog[open]")
    assert "1" in page.inner_text("#dialog-text")
    page.click('#dialog button[value="keep"]')
    page.wait_for_selector("li.queued")
    waiting(page, 1)

    phone_context.set_offline(False)
    waiting(page, 0, timeout=30000)
    page.click("#logout")  # everything sent: no question
    page.wait_for_selector("#sign-in")
    assert page.is_hidden("#dialog[open]") if page.query_selector("#dialog[open]") else True
    assert [r.note for r in stored_checkins(engine)] == ["需要帮忙买药"]

    left = page.evaluate(
        """async () => {
            const db = await new Promise((ok, no) => {
                const r = indexedDB.open('tanfang'); r.onsuccess = () => ok(r.result);
                r.onerror = () => no(r.error); });
            const counts = {};
            for (const name of db.objectStoreNames) {
                counts[name] = await new Promise(ok => {
                    const r = db.transaction(name).objectStore(name).count();
                    r.onsuccess = () => ok(r.result); });
            }
            const cached = [];
            for (const name of await caches.keys()) {
                for (const request of await (await caches.open(name)).keys()) {
                    cached.push(new URL(request.url).pathname);
                }
            }
            return {counts, cached, local: localStorage.length, session: sessionStorage.length};
        }"""
    )
    assert left["counts"] == {"cards": 0, "kv": 0, "outbox": 0}
    assert all(path.startswith("/app/") for path in left["cached"]), left["cached"]
    assert (left["local"], left["session"]) == (0, 0)
    session.rollback()
    tokens = session.scalars(select(AuthToken).where(AuthToken.worker_id == round_.worker.id))
    assert all(t.revoked_at is not None for t in tokens)


STORED_COUNTS = """async () => {
    const db = await new Promise((ok, no) => {
        const r = indexedDB.open('tanfang'); r.onsuccess = () => ok(r.result);
        r.onerror = () => no(r.error); });
    const counts = {};
    for (const name of db.objectStoreNames) {
        counts[name] = await new Promise(ok => {
            const r = db.transaction(name).objectStore(name).count();
            r.onsuccess = () => ok(r.result); });
    }
    db.close();
    return counts;
}"""


@pytest.mark.browser
def test_an_answer_that_arrives_after_sign_out_is_not_kept(
    round_: Round, phone_context: Any, new_page: Callable[[], Any]
) -> None:
    """A slow network: the worker signs out while the card and the visit list are still
    on their way. What arrives afterwards is dropped, not written back onto the phone."""
    held: list[tuple[Any, Any]] = []

    def hold(route: Any) -> None:
        held.append((route, route.fetch()))  # the server answers now; the phone hears later

    page = new_page()
    sign_in(page, round_.worker.phone)
    phone_context.route("**/api/v1/elders/*/card", hold)
    phone_context.route("**/api/v1/visits?*", hold)
    page.click(f'a.visit[data-visit-id="{round_.visits[0].id}"]')
    page.wait_for_selector("#start-checkin")
    page.click("a.back")
    page.wait_for_selector("a.visit")
    for _ in range(100):  # page calls, not sleep: route handlers run inside them
        if len(held) == 2:
            break
        page.wait_for_timeout(100)
    assert len(held) == 2
    page.click("#logout")
    page.wait_for_selector("#sign-in")
    for route, answer in held:
        route.fulfill(response=answer)
    page.wait_for_timeout(1000)
    assert page.evaluate(STORED_COUNTS) == {"cards": 0, "kv": 0, "outbox": 0}
    assert page.is_visible("#sign-in")


ON_SCREEN = """(selector) => {
    const el = document.querySelector(selector);
    const r = el.getBoundingClientRect();
    if (!el.textContent.trim() || r.height === 0) return false;
    const x = r.left + Math.min(r.width, 40) / 2, y = r.top + r.height / 2;
    const top = document.elementFromPoint(x, y);  // null when outside the screen
    return Boolean(top && (top === el || el.contains(top)));
}"""


@pytest.mark.browser
def test_the_form_says_what_is_missing_where_the_worker_is_looking(
    round_: Round, new_page: Callable[[], Any], artifacts: Path
) -> None:
    """Save without an outcome, or with one PHQ-2 answer: the reason is on the screen, next
    to the question, not below the fold behind the Save button."""
    page = new_page()
    sign_in(page, round_.worker.phone)
    page.click(f'a.visit[data-visit-id="{round_.visits[0].id}"]')
    page.click("#start-checkin")
    page.wait_for_selector("#geo.ok")
    page.click("#save")
    page.wait_for_selector("#form-error:has-text('请先选择探访结果')")
    page.wait_for_timeout(600)  # any smooth scroll has ended
    assert page.evaluate(ON_SCREEN, "#form-error"), "the reason is not on the screen"
    assert page.evaluate(ON_SCREEN, "#outcome > legend"), "the question is not on the screen"
    page.screenshot(path=str(artifacts / "pwa-checkin-missing-outcome-360x640.png"))

    page.get_by_text("见到本人", exact=True).click()
    assert page.inner_text("#form-error") == ""  # answered: the complaint goes
    page.check('input[name="phq2_1"][value="1"]')
    page.evaluate("window.scrollTo(0, 0)")
    page.click("#save")
    page.wait_for_selector("#form-error:has-text('两个问题都要回答')")
    page.wait_for_timeout(600)
    assert page.evaluate(ON_SCREEN, "#form-error"), "the reason is not on the screen"
    assert page.evaluate(ON_SCREEN, "#phq2 > legend"), "the question is not on the screen"
    assert page.url.endswith(f"#/checkin/{round_.visits[0].id}")  # nothing was saved


PILL_CLIPPED = """() => {
    const pill = document.getElementById('queue-pill');
    const bar = document.querySelector('header.bar').getBoundingClientRect();
    const r = pill.getBoundingClientRect();
    return pill.scrollWidth > pill.clientWidth || pill.scrollHeight > pill.clientHeight
        || r.right > bar.right || r.bottom > bar.bottom;
}"""


@pytest.mark.browser
def test_the_header_shows_the_whole_count_in_english(
    round_: Round, session: Session, new_page: Callable[[], Any], artifacts: Path
) -> None:
    """At 360 px the English header ("Tanfang", "Sign out") leaves the count pill narrow: its
    words wrap rather than being cut to "0 wait..."."""
    round_.worker.locale = "en"
    session.commit()
    page = new_page()
    sign_in(page, round_.worker.phone)
    assert page.inner_text("#queue-count") == "0 waiting"
    assert not page.evaluate(PILL_CLIPPED), "the pill cuts its text"
    # The longest it gets: many waiting, some refused by the server.
    page.evaluate("document.getElementById('queue-count').textContent = '12 waiting · 3 to fix'")
    assert not page.evaluate(PILL_CLIPPED), "the pill cuts its text"
    page.screenshot(path=str(artifacts / "pwa-header-en-360x640.png"))


@pytest.mark.browser
def test_the_summary_counts_visits_not_people(
    round_: Round, session: Session, new_page: Callable[[], Any]
) -> None:
    """An elevated-risk elder is visited twice a month: five visits to four people are
    "5 次", not "5 位" (位 counts people)."""
    make_visit(session, round_.elders[0], round_.worker, round_.month, seq=2)
    session.commit()
    page = new_page()
    sign_in(page, round_.worker.phone)
    assert page.inner_text("#visits-summary") == "待探访 5 次 · 共 5 次"


@pytest.mark.browser
def test_an_empty_sign_in_form_says_what_to_fill_in(
    round_: Round, new_page: Callable[[], Any]
) -> None:
    """Tapping 登录 too early is not 'wrong number or PIN': the app asks for what is missing."""
    page = new_page()
    page.goto("/app/")
    page.click("#sign-in")
    assert page.inner_text("#login-error") == "请输入手机号"
    page.fill("#phone", round_.worker.phone)
    page.click("#sign-in")
    assert page.inner_text("#login-error") == "请输入密码（PIN）"
    page.click("#switch-mode")
    page.click("#sign-in")
    assert page.inner_text("#login-error") == "请输入短信验证码"


CONTRAST = """(selector) => {
    const rgb = (c) => c.match(/[\\d.]+/g).slice(0, 3).map(Number);
    const lum = (c) => {
        const [r, g, b] = rgb(c).map((v) => {
            v /= 255;
            return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
        });
        return 0.2126 * r + 0.7152 * g + 0.0722 * b;
    };
    const el = document.querySelector(selector);
    let back = el;
    while (getComputedStyle(back).backgroundColor === 'rgba(0, 0, 0, 0)') back = back.parentElement;
    const [a, b] = [lum(getComputedStyle(el).color), lum(getComputedStyle(back).backgroundColor)];
    return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
}"""


@pytest.mark.browser
def test_the_done_chip_on_the_card_is_readable(
    round_: Round, session: Session, new_page: Callable[[], Any]
) -> None:
    """Older eyes: the green '已完成' on the card's grey chip reaches WCAG AA (4.5:1)."""
    round_.visits[0].status = "done"
    session.commit()
    page = new_page()
    sign_in(page, round_.worker.phone)
    page.click(f'a.visit[data-visit-id="{round_.visits[0].id}"]')
    page.wait_for_selector(".chips .status.done")
    assert page.evaluate(CONTRAST, ".chips .status.done") >= 4.5
    assert page.evaluate(CONTRAST, "#call") >= 4.5


@pytest.mark.browser
def test_a_card_without_a_phone_number_says_so(
    round_: Round, session: Session, new_page: Callable[[], Any]
) -> None:
    """No call button and no word about it leaves the worker looking for one."""
    round_.elders[0].phone = None
    session.commit()
    page = new_page()
    sign_in(page, round_.worker.phone)
    page.click(f'a.visit[data-visit-id="{round_.visits[0].id}"]')
    page.wait_for_selector("#start-checkin")
    assert page.query_selector("#call") is None
    assert page.inner_text("#no-phone") == "没有登记电话号码"


# --------------------------------------------------------------------------- the server's side


def test_the_shell_is_served_with_a_strict_policy(client: FlaskClient) -> None:
    response = client.get("/app/")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "default-src 'none'" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    html = response.get_data(as_text=True)
    assert not re.search(r"<script(?![^>]*\bsrc=)", html), "inline script"
    assert not re.search(r"\sstyle=|<style|\son\w+=", html), "inline style or handler"
    assert not re.search(r"(src|href)=\"(https?:)?//", html), "asset from another origin"
    assert client.get("/app").status_code == 308
    for path in ("/app/../server/app.py", "/app/icons/make_icons.py", "/app/nothing.js"):
        assert client.get(path).status_code == 404, path


def test_the_service_worker_caches_every_shell_file(client: FlaskClient) -> None:
    response = client.get("/app/sw.js")
    assert response.status_code == 200
    assert response.mimetype == "text/javascript"
    assert response.headers["Service-Worker-Allowed"] == "/app/"
    assert response.headers["Cache-Control"] == "no-cache"
    source = response.get_data(as_text=True)
    found = re.search(r"const SHELL = (\{.*?\});", source)
    assert found, "the shell placeholder was not replaced"
    shell = json.loads(found.group(1))
    assert re.fullmatch(r"[0-9a-f]{16}", shell["version"])
    files = set(shell["files"])
    assert "/app/" in files and "/app/js/app.js" in files and "/app/i18n/en.json" in files
    on_disk = {
        "/app/" + p.relative_to(PWA_DIR).as_posix()
        for p in PWA_DIR.rglob("*")
        if p.suffix in {".js", ".css", ".json", ".png", ".svg", ".webmanifest"}
        and p.name != "sw.js"
    }
    assert on_disk <= files
    for url in files:
        served = client.get(url)
        assert served.status_code == 200, url
        assert "/api/" not in url
    types = {
        "/app/js/app.js": "text/javascript",
        "/app/css/app.css": "text/css",
        "/app/manifest.webmanifest": "application/manifest+json",
        "/app/icons/icon-192.png": "image/png",
        "/app/i18n/zh_CN.json": "application/json",
    }
    for url, mimetype in types.items():
        content_type = client.get(url).headers["Content-Type"]
        assert content_type.split(";")[0] == mimetype and content_type.count(";") <= 1, url


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_the_app_is_installable(client: FlaskClient) -> None:
    manifest = client.get("/app/manifest.webmanifest").get_json(force=True)
    assert manifest["start_url"] == manifest["scope"] == "/app/"
    assert manifest["display"] == "standalone"
    assert re.fullmatch(r"#[0-9a-f]{6}", manifest["theme_color"])
    sizes = set()
    for icon in manifest["icons"]:
        served = client.get(icon["src"])
        assert served.status_code == 200, icon["src"]
        if icon["type"] == "image/png":
            width, height = _png_size(served.get_data())
            assert icon["sizes"] == f"{width}x{height}"
            sizes.add(width)
    assert {192, 512} <= sizes
    assert any(i.get("purpose") == "maskable" for i in manifest["icons"])


def test_every_string_the_app_uses_exists_in_both_locales() -> None:
    zh = json.loads((PWA_DIR / "i18n" / "zh_CN.json").read_text(encoding="utf-8"))
    en = json.loads((PWA_DIR / "i18n" / "en.json").read_text(encoding="utf-8"))
    assert set(zh) == set(en)
    assert all(v.strip() for v in (*zh.values(), *en.values()))
    source = "\n".join(p.read_text(encoding="utf-8") for p in (PWA_DIR / "js").rglob("*.js"))
    used = set(re.findall(r"\bt\(\"([\w.]+)\"", source))
    counted = {f"{k}.other" for k in re.findall(r"\btn\(\"([\w.]+)\"", source)}
    missing = sorted((used | counted) - set(zh))
    assert not missing, missing
    for prefix, values in (
        ("outcome", ("seen", "not_home", "refused", "hospitalized", "moved", "deceased")),
        (
            "need",
            (
                "hardship",
                "psychological",
                "emotional",
                "family_mediation",
                "daily_care",
                "medical",
                "policy",
                "errand",
            ),
        ),
        (
            "service",
            ("visit", "policy_advice", "daily_care", "errand", "health_check", "companionship"),
        ),
    ):
        assert {f"{prefix}.{v}" for v in values} <= set(zh), prefix
    assert zh["phq2.q1"] == "在过去两周里，做事时提不起劲或没有兴趣？"
    assert zh["phq2.q2"] == "感到心情低落、沮丧或绝望？"
    answers = [zh[f"phq2.a{n}"] for n in range(4)]
    assert answers == ["完全不会", "好几天", "一半以上的天数", "几乎每天"]


def test_the_elder_card_is_scoped_audited_and_minimal(
    round_: Round, session: Session, client: FlaskClient
) -> None:
    elder = round_.elders[0]
    visit = round_.visits[0]
    session.add(
        CheckIn(
            client_id="card-1",
            visit_id=visit.id,
            worker_id=round_.worker.id,
            channel="pwa",
            occurred_at=utcnow() - timedelta(days=1),
            month=round_.month,
            outcome="seen",
            mood=2,
            note="女儿很久没来电话",
        )
    )
    region_case = Case(
        elder_id=elder.id,
        kind="psych_support",
        priority="high",
        status="open",
        open_key=f"{elder.id}:psych_support",
        rule="low-mood",
    )
    session.add_all(
        [
            region_case,
            Case(elder_id=elder.id, kind="help", priority="normal", status="resolved", rule="old"),
        ]
    )
    session.commit()

    headers = api_token(client, round_.worker.phone, PIN)
    response = client.get(f"/api/v1/elders/{elder.id}/card", headers=headers)
    assert response.status_code == 200
    assert "no-store" in response.headers["Cache-Control"]
    card = response.get_json()["card"]
    assert (card["name"], card["code"], card["phone"]) == (elder.name, elder.code, elder.phone)
    assert card["last_visit"]["note"] == "女儿很久没来电话" and card["last_visit"]["by_me"]
    assert card["open_cases"] == [{"kind": "psych_support", "priority": "high", "status": "open"}]
    audit = session.scalars(select(AuditEntry).where(AuditEntry.action == "read_elder")).all()
    assert [(a.actor_id, a.object_id, a.detail) for a in audit] == [
        (round_.worker.id, str(elder.id), {"view": "card"})
    ]

    # An elder this worker does not serve, and one in another county: not found.
    stranger = make_elder(session, "E-pwa-stranger", elder.grid, None, None)
    session.commit()
    other = session.scalar(select(Elder).where(Elder.external_id == "E-jf-0-0"))
    assert other is not None
    for target in (stranger.id, other.id, 999999):
        missing = client.get(f"/api/v1/elders/{target}/card", headers=headers)
        assert missing.status_code == 404
        assert missing.get_json()["error"]["code"] == "not_found"
    assert client.get(f"/api/v1/elders/{elder.id}/card").status_code == 401

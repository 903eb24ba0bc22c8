"""Area scoping through every endpoint and page (issue 2, SPEC section 7).

A supervisor of one county never sees an elder, visit, case, worker or report of another
county; a grid worker sees only the elders they are a contact for or hold a visit of, and
loses them when the visit moves to someone else; agency staff see the cases routed to their
agency; an admin sees everything. Personal data is masked in lists, kept out of caches and
out of the logs.

Every route of the app is either in ROUTES below (with the URLs that reach one county's rows
through it) or in EXEMPT with a reason: `test_every_route_is_in_the_scoping_table` fails for a
new route that is in neither, so a new endpoint cannot skip these checks silently.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from server.db import utcnow
from server.i18n import mask_name, mask_phone
from server.models import (
    AuditEntry,
    Case,
    CaseEvent,
    CheckIn,
    Elder,
    Visit,
    VisitAssignment,
    Worker,
)
from server.services.months import current_month
from tests.factories import PIN, County, Region, build_region, make_elder, make_visit
from tests.helpers import api_token, csrf_token, page_login

TZ = ZoneInfo("Asia/Shanghai")
DIRECTIONS = [("xq", "jf"), ("jf", "xq")]


# --------------------------------------------------------------------------- the world


@dataclass
class World:
    """The test region with this month's visits, a few check-ins and cases in both counties."""

    region: Region
    month: str
    visits: dict[str, list[Visit]]
    home_cases: dict[str, Case]  # routed to the street's Warm Heart Home (the social worker's)
    agency_cases: dict[str, Case]  # routed to the county's other agency

    def county(self, key: str) -> County:
        """One county of the region."""
        return self.region.counties[key]


def mark_seen(session: Session, visit: Visit, month: str) -> None:
    """Record a `seen` check-in on `visit` (so the report counts the elder as visited)."""
    assert visit.worker_id is not None
    now = utcnow()
    visit.status, visit.done_at, visit.outcome, visit.channel = "done", now, "seen", "pwa"
    session.add(
        CheckIn(
            client_id=uuid.uuid4().hex,
            visit_id=visit.id,
            worker_id=visit.worker_id,
            channel="pwa",
            occurred_at=now,
            month=month,
            outcome="seen",
        )
    )


def add_case(session: Session, elder: Elder, kind: str, priority: str, agency_id: int) -> Case:
    """An open case about `elder` routed to an agency, with its `opened` event."""
    case = Case(
        elder_id=elder.id,
        kind=kind,
        priority=priority,
        status="open",
        agency_id=agency_id,
        open_key=f"{elder.id}:{kind}",
        ack_due_at=utcnow() + timedelta(hours=1),
    )
    session.add(case)
    session.flush()
    session.add(CaseEvent(case_id=case.id, kind="opened"))
    return case


@pytest.fixture
def world(session: Session) -> World:
    """Both counties, told apart: jf has one elder more, and one more elder visited."""
    region = build_region(session)
    month = current_month(TZ)
    jf = region.counties["jf"]
    jf.elders.append(make_elder(session, "E-jf-extra", jf.grids[0], jf.workers[0], jf.workers[1]))
    visits: dict[str, list[Visit]] = {}
    home_cases: dict[str, Case] = {}
    agency_cases: dict[str, Case] = {}
    for key, county in region.counties.items():
        prefix = county.area.name[:2]  # 兴庆 / 金凤: names that say whose they are
        for n, elder in enumerate(county.elders, start=1):
            elder.name = f"{prefix}老人{n}"
            elder.address = f"{county.area.name}幸福路{n}号"
        visits[key] = [make_visit(session, e, e.primary_contact, month) for e in county.elders]
        home_cases[key] = add_case(session, county.elders[0], "help", "high", county.home.id)
        agency_cases[key] = add_case(
            session, county.elders[1], "psych_support", "urgent", county.agency.id
        )
    mark_seen(session, visits["xq"][0], month)
    mark_seen(session, visits["jf"][0], month)
    mark_seen(session, visits["jf"][1], month)
    session.commit()
    return World(region, month, visits, home_cases, agency_cases)


def markers(world: World, key: str) -> set[str]:
    """Strings that only ever belong to county `key`: codes, names and phones of its
    areas, agencies, workers and elders, whole and masked."""
    c = world.county(key)
    found = {c.agency.code, c.agency.name, c.home.code, c.home.name}
    for area in (c.area, c.street, c.community, *c.grids):
        found |= {area.code, area.name}
    for worker in (c.supervisor, c.social_worker, *c.workers):
        found |= {worker.external_id, worker.name, worker.phone, worker.phone[3:]}
        found.add(mask_phone(worker.phone))
    for elder in c.elders:
        assert elder.phone
        found |= {elder.code, elder.external_id, elder.name, mask_name(elder.name)}
        found |= {elder.phone, elder.phone[3:], mask_phone(elder.phone), str(elder.address)}
    return found


def body_text(response: TestResponse) -> str:
    """Everything a response tells: its body (JSON decoded, so Chinese is not escaped) and
    where it redirects to."""
    if response.is_json:
        text = json.dumps(response.get_json(), ensure_ascii=False)
    else:
        text = response.get_data(as_text=True)
    return text + "\n" + response.headers.get("Location", "")


def assert_nothing_of(world: World, key: str, response: TestResponse, url: str) -> None:
    """The response carries nothing that belongs to county `key`."""
    text = body_text(response)
    leaked = sorted(m for m in markers(world, key) if m and m in text)
    assert not leaked, f"{url} shows {key}'s {leaked}"


def assert_error(response: TestResponse, status: int, code: str) -> dict[str, Any]:
    """An API error in the shape of SPEC section 7."""
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True))
    body = response.get_json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "fields"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert isinstance(body["error"]["fields"], dict)
    error: dict[str, Any] = body["error"]
    return error


def db_state(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the tables a request could change, read on a fresh connection."""
    tables = [m.__table__ for m in (Case, CaseEvent, Visit, VisitAssignment, CheckIn, Elder)]
    with engine.connect() as conn:
        return {
            t.name: [tuple(r) for r in conn.execute(select(t).order_by(*t.primary_key.columns))]
            for t in tables
        }


# --------------------------------------------------------------------------- who asks


class Viewer:
    """One signed-in person: bearer token for the API, page session for pages."""

    def __init__(self, app: Flask, worker: Worker) -> None:
        self.worker = worker
        self.api = app.test_client()
        self.pages = app.test_client()
        self.headers = api_token(self.api, worker.phone, PIN)
        page_login(self.pages, worker.phone, PIN)
        self._csrf: str | None = None

    def get(self, url: str) -> TestResponse:
        """GET through the API or the pages, whichever `url` is."""
        if url.startswith("/api/"):
            return self.api.get(url, headers=self.headers)
        return self.pages.get(url)

    def call(self, route: Route, url: str, form: dict[str, str] | None = None) -> TestResponse:
        """Call `url` the way `route` is called: a page's form is posted with its CSRF token,
        as a browser would, so that scoping (not the missing token) decides the answer."""
        if not url.startswith("/api/"):
            if route.method == "GET":
                return self.pages.open(url, method=route.method)
            if self._csrf is None:
                self._csrf = csrf_token(self.pages, "/dashboard")
            data = {"csrf_token": self._csrf, **(form or {})}
            return self.pages.open(url, method=route.method, data=data)
        return self.api.open(url, method=route.method, headers=self.headers, json=route.json)

    def json(self, url: str) -> Any:
        """GET an API URL that must answer 200; its JSON."""
        response = self.get(url)
        assert response.status_code == 200, (url, response.get_data(as_text=True))
        return response.get_json()

    def html(self, url: str) -> str:
        """GET a page that must answer 200; its HTML."""
        response = self.get(url)
        assert response.status_code == 200, (url, response.status_code)
        return response.get_data(as_text=True)


@pytest.fixture
def viewer(app: Flask) -> Callable[[Worker], Viewer]:
    """Sign someone in."""
    return lambda worker: Viewer(app, worker)


# --------------------------------------------------------------------------- the table


@dataclass(frozen=True)
class Probe:
    """One URL that names a county's rows, what its own supervisor must find there, and what
    someone from the other county gets (404 for a row or area of theirs; 200 for a list or a
    search, which must then hold nothing of theirs)."""

    url: str
    shows: tuple[str, ...] = ()
    foreign: int = 404
    form: dict[str, str] | None = None  # what a page's form posts (POST pages only)


def P(url: str, *shows: str, foreign: int = 404, form: dict[str, str] | None = None) -> Probe:
    """A probe."""
    return Probe(url, shows, foreign, form)


ALL_ROLES = ("grid_worker", "volunteer", "social_worker", "supervisor", "admin")
MANAGERS = ("supervisor", "admin")


@dataclass(frozen=True)
class Route:
    """One route of the app and the probes that reach county `key`'s rows through it."""

    rule: str
    probes: Callable[[World, str], list[Probe]]
    method: str = "GET"
    roles: tuple[str, ...] = ALL_ROLES  # others get 403
    json: dict[str, Any] | None = None
    status: int = 200  # what a supervisor gets for their own county

    @property
    def id(self) -> str:
        """A readable test id."""
        return f"{self.method} {self.rule}"


def codes(elders: list[Elder]) -> tuple[str, ...]:
    """The elders' short codes."""
    return tuple(e.code for e in elders)


def _elders(w: World, k: str) -> list[Probe]:
    c = w.county(k)
    grid0 = [e for e in c.elders if e.grid_id == c.grids[0].id]
    first = c.elders[0]
    return [
        P("/api/v1/elders", *codes(c.elders), foreign=200),
        P(f"/api/v1/elders?area={c.area.code}", *codes(c.elders)),
        P(f"/api/v1/elders?area={c.grids[0].code}&status=all", *codes(grid0)),
        P(f"/api/v1/elders?q={first.code}", first.code, foreign=200),
        P(f"/api/v1/elders?q={first.external_id}", first.code, foreign=200),
        P(f"/api/v1/elders?q={first.name}", first.code, foreign=200),
    ]


def _elder(w: World, k: str) -> list[Probe]:
    return [P(f"/api/v1/elders/{e.id}", e.code, e.name) for e in w.county(k).elders[:2]]


def _elder_card(w: World, k: str) -> list[Probe]:
    return [P(f"/api/v1/elders/{e.id}/card", e.code, e.name) for e in w.county(k).elders[:2]]


def _visits(w: World, k: str) -> list[Probe]:
    shown = codes(w.county(k).elders)
    return [
        P("/api/v1/visits", *shown, foreign=200),
        P(f"/api/v1/visits?month={w.month}&status=all", *shown, foreign=200),
        P(f"/api/v1/visits?month={w.month}&status=open", *shown[2:], foreign=200),
    ]


def _visit(w: World, k: str) -> list[Probe]:
    return [P(f"/api/v1/visits/{v.id}", v.elder.code) for v in w.visits[k][:2]]


def _checkin(w: World, k: str) -> list[Probe]:
    # Someone else's visit: 403 to those who may know of it (SPEC), 404 to everyone else.
    return [P(f"/api/v1/visits/{w.visits[k][-1].id}/checkins")]


def _cases(w: World, k: str) -> list[Probe]:
    both = (w.home_cases[k].elder.code, w.agency_cases[k].elder.code)
    return [
        P("/api/v1/cases", *both, foreign=200),
        P("/api/v1/cases?status=open&kind=help", both[0], foreign=200),
    ]


def _case(w: World, k: str) -> list[Probe]:
    return [P(f"/api/v1/cases/{c.id}", c.elder.code) for c in (w.home_cases[k], w.agency_cases[k])]


def _ack(w: World, k: str) -> list[Probe]:
    case = w.home_cases[k]
    return [P(f"/api/v1/cases/{case.id}/ack", case.elder.code)]


def _resolve(w: World, k: str) -> list[Probe]:
    case = w.agency_cases[k]
    return [P(f"/api/v1/cases/{case.id}/resolve", case.elder.code)]


def _workers(w: World, k: str) -> list[Probe]:
    c = w.county(k)
    staff = (c.supervisor, c.social_worker, *c.workers)
    return [P("/api/v1/workers", *(s.external_id for s in staff), foreign=200)]


def _worker(w: World, k: str) -> list[Probe]:
    c = w.county(k)
    return [P(f"/api/v1/workers/{s.id}", s.external_id) for s in (c.workers[0], c.social_worker)]


def _report(w: World, k: str) -> list[Probe]:
    c = w.county(k)
    return [
        P("/api/v1/reports/completion", c.area.code, c.street.code, foreign=200),
        P(f"/api/v1/reports/completion?area={c.area.code}&month={w.month}", c.area.code),
        P(f"/api/v1/reports/completion?area={c.street.code}", c.street.code, c.community.code),
        P(f"/api/v1/reports/completion?area={c.grids[1].code}", c.grids[1].code),
    ]


def _me(w: World, k: str) -> list[Probe]:
    return [P("/api/v1/me", w.county(k).supervisor.external_id, foreign=200)]


def _index(w: World, k: str) -> list[Probe]:
    return [P("/", foreign=302)]


def _dashboard(w: World, k: str) -> list[Probe]:
    c = w.county(k)
    return [
        P("/dashboard", c.area.name, c.street.name, foreign=200),
        P(f"/dashboard?area={c.street.code}", c.street.name, c.community.name),
        P(f"/dashboard?area={c.area.code}&month={w.month}", c.area.name),
    ]


def _elders_page(w: World, k: str) -> list[Probe]:
    return [P("/elders", *codes(w.county(k).elders), foreign=200)]


def _workers_page(w: World, k: str) -> list[Probe]:
    c = w.county(k)
    staff = (c.supervisor, c.social_worker, *c.workers)
    return [P("/workers", *(s.external_id for s in staff), foreign=200)]


def _cases_page(w: World, k: str) -> list[Probe]:
    both = (w.home_cases[k].elder.code, w.agency_cases[k].elder.code)
    return [
        P("/cases", *both, foreign=200),
        P("/cases?status=open&kind=help", both[0], foreign=200),
        P("/cases?status=resolved", foreign=200),
    ]


def _case_page(w: World, k: str) -> list[Probe]:
    return [P(f"/cases/{c.id}", c.elder.code) for c in (w.home_cases[k], w.agency_cases[k])]


def _case_form(
    action: str, form: Callable[[World, str], dict[str, str]]
) -> Callable[[World, str], list[Probe]]:
    """Probes that post one of a case page's forms about each of county `k`'s cases; the
    answer is a redirect back to the case (or 404 from another county)."""

    def probes(w: World, k: str) -> list[Probe]:
        return [
            P(f"/cases/{c.id}/{action}", form=form(w, k))
            for c in (w.home_cases[k], w.agency_cases[k])
        ]

    return probes


ROUTES = [
    Route("/api/v1/elders", _elders),
    Route("/api/v1/elders/<int:elder_id>", _elder),
    Route("/api/v1/elders/<int:elder_id>/card", _elder_card),  # the worker PWA's elder card
    Route("/api/v1/visits", _visits),
    Route("/api/v1/visits/<int:visit_id>", _visit),
    Route(
        "/api/v1/visits/<int:visit_id>/checkins",
        _checkin,
        method="POST",
        status=403,
        json={
            "client_id": "scoping-probe",
            "occurred_at": "2026-01-05T09:00:00+08:00",
            "outcome": "seen",
        },
    ),
    Route("/api/v1/cases", _cases),
    Route("/api/v1/cases/<int:case_id>", _case),
    Route("/api/v1/cases/<int:case_id>/ack", _ack, method="POST"),
    Route(
        "/api/v1/cases/<int:case_id>/resolve",
        _resolve,
        method="POST",
        json={"note": "家访后已解决"},
    ),
    Route("/api/v1/workers", _workers, roles=MANAGERS),
    Route("/api/v1/workers/<int:worker_id>", _worker),
    Route("/api/v1/reports/completion", _report, roles=MANAGERS),
    Route("/api/v1/me", _me),
    Route("/", _index, status=302),
    Route("/dashboard", _dashboard),
    Route("/elders", _elders_page),
    Route("/workers", _workers_page, roles=MANAGERS),
    Route("/cases", _cases_page),
    Route("/cases/<int:case_id>", _case_page),
    Route("/cases/<int:case_id>/ack", _case_form("ack", lambda w, k: {}), "POST", status=302),
    Route(
        "/cases/<int:case_id>/notes",
        _case_form("notes", lambda w, k: {"note": "已电话联系"}),
        "POST",
        status=302,
    ),
    Route(
        "/cases/<int:case_id>/reassign",
        # the county's supervisor oversees both cases' elders: always someone who may take them
        _case_form("reassign", lambda w, k: {"owner": str(w.county(k).supervisor.id)}),
        "POST",
        status=302,
    ),
    Route(
        "/cases/<int:case_id>/resolve",
        _case_form("resolve", lambda w, k: {"note": "家访后已解决"}),
        "POST",
        status=302,
    ),
]

# Routes that show no one's rows. Anything else must be in ROUTES.
EXEMPT = {
    "/static/<path:filename>": "static files",
    "/healthz": "health check, no data",
    "/login": "sign-in form",
    "/logout": "sign-out",
    "/api/v1/auth/token": "sign-in",
    "/api/v1/auth/otp": "sends a one-time code to the caller's own phone",
    "/api/v1/auth/logout": "sign-out",
    "/api/v1/openapi.json": "the API's description, no data",
    "/app": "the worker PWA: redirect to /app/",
    "/app/": "the worker PWA's shell page: static, no one's data (data comes via the API)",
    "/app/<path:filename>": "the worker PWA's static files, service worker and strings",
    "/sms/inbound": "Twilio's webhook: signed by Twilio, no user signed in",
    "/sms/status": "Twilio's delivery callbacks: signed by Twilio, no user signed in",
    "/phone": "the console backend's phone simulator (demo and training only; absent with twilio)",
}


def test_every_route_is_in_the_scoping_table(app: Flask) -> None:
    """A new route fails here until its probes are added to ROUTES (or it is exempted)."""
    table = {(r.rule, r.method) for r in ROUTES}
    missing = []
    for rule in app.url_map.iter_rules():
        if rule.rule in EXEMPT:
            continue
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            if (rule.rule, method) not in table:
                missing.append(f"{method} {rule.rule}")
    assert not missing, f"add these to ROUTES in {__name__} (or EXEMPT them): {missing}"
    known = {r.rule for r in app.url_map.iter_rules()}
    stale = sorted({r.rule for r in ROUTES} - known) + sorted(set(EXEMPT) - known)
    assert not stale, f"no longer routes of the app: {stale}"


# --------------------------------------------------------------------------- supervisors


@pytest.mark.parametrize(("mine", "theirs"), DIRECTIONS, ids=["xq-sees-xq", "jf-sees-jf"])
@pytest.mark.parametrize("route", ROUTES, ids=[r.id for r in ROUTES])
def test_a_supervisor_reaches_only_their_own_county(
    route: Route,
    mine: str,
    theirs: str,
    world: World,
    viewer: Callable[[Worker], Viewer],
    engine: Engine,
) -> None:
    """Through `route`, the supervisor gets their county's rows and nothing of the other's."""
    me = viewer(world.county(mine).supervisor)
    for probe in route.probes(world, mine):
        response = me.call(route, probe.url, probe.form)
        assert response.status_code == route.status, (probe.url, response.status_code)
        assert_nothing_of(world, theirs, response, probe.url)
        text = body_text(response)
        absent = [s for s in probe.shows if s not in text]
        assert not absent, f"{probe.url} lacks {absent}"
        if response.status_code == 200:
            assert "no-store" in response.headers.get("Cache-Control", ""), probe.url
    before = db_state(engine)
    for probe in route.probes(world, theirs):
        response = me.call(route, probe.url, probe.form)
        assert response.status_code == probe.foreign, (probe.url, response.status_code)
        assert_nothing_of(world, theirs, response, probe.url)
        if probe.foreign == 404 and probe.url.startswith("/api/"):
            assert_error(response, 404, "not_found")
    assert db_state(engine) == before, "a request about another county changed the database"


def test_the_default_report_counts_only_ones_own_county(
    world: World, viewer: Callable[[Worker], Viewer]
) -> None:
    xq = viewer(world.county("xq").supervisor).json("/api/v1/reports/completion")
    assert (xq["area"], xq["elders"], xq["visited"]) == ("640104", 4, 1)
    assert [c["area"] for c in xq["children"]] == [world.county("xq").street.code]
    jf = viewer(world.county("jf").supervisor).json(
        f"/api/v1/reports/completion?month={world.month}"
    )
    assert (jf["area"], jf["elders"], jf["visited"], jf["visits_required"]) == ("640106", 5, 2, 5)


def test_acting_on_another_countys_case_changes_nothing(
    world: World, viewer: Callable[[Worker], Viewer], session: Session
) -> None:
    me = viewer(world.county("xq").supervisor)
    theirs = world.home_cases["jf"]
    for action, body in (("ack", None), ("resolve", {"note": "越权关闭"})):
        response = me.api.post(f"/api/v1/cases/{theirs.id}/{action}", headers=me.headers, json=body)
        assert_error(response, 404, "not_found")
    session.expire_all()
    stored = session.get(Case, theirs.id)
    assert stored is not None
    assert (stored.status, stored.acknowledged_at, stored.resolved_at) == ("open", None, None)
    assert [e.kind for e in stored.events] == ["opened"]


# --------------------------------------------------------------------------- everyone else


@pytest.mark.parametrize("role", ["grid_worker", "social_worker"])
@pytest.mark.parametrize(("mine", "theirs"), DIRECTIONS, ids=["from-xq", "from-jf"])
def test_staff_never_reach_another_county(
    role: str,
    mine: str,
    theirs: str,
    world: World,
    viewer: Callable[[Worker], Viewer],
    engine: Engine,
) -> None:
    """Every probe of both counties, as a grid worker or social worker: nothing of the other
    county, and a row of theirs named by id is never found."""
    c = world.county(mine)
    me = viewer(c.workers[0] if role == "grid_worker" else c.social_worker)
    for route in ROUTES:
        if route.method == "GET":
            for probe in route.probes(world, mine):
                response = me.call(route, probe.url, probe.form)
                expected = {403} if role not in route.roles else {route.status, 404}
                assert response.status_code in expected, (probe.url, response.status_code)
                assert_nothing_of(world, theirs, response, probe.url)
        before = db_state(engine)
        for probe in route.probes(world, theirs):
            response = me.call(route, probe.url, probe.form)
            if role not in route.roles:
                assert response.status_code == 403, probe.url
            elif "<" in route.rule:
                assert response.status_code == 404, (probe.url, response.status_code)
            assert response.status_code < 500, probe.url
            assert_nothing_of(world, theirs, response, probe.url)
        assert db_state(engine) == before, f"{route.id} changed the database"


def test_workers_and_social_workers_may_not_list_workers_or_read_reports(
    world: World, viewer: Callable[[Worker], Viewer]
) -> None:
    c = world.county("xq")
    for person in (c.workers[0], c.social_worker):
        me = viewer(person)
        for url in ("/api/v1/workers", "/api/v1/reports/completion"):
            assert_error(me.get(url), 403, "forbidden")
        assert me.get("/workers").status_code == 403
        # their own record, and nobody else's
        record = me.json(f"/api/v1/workers/{person.id}")["worker"]
        assert record["external_id"] == person.external_id
        assert_error(me.get(f"/api/v1/workers/{c.supervisor.id}"), 404, "not_found")


def ids_of(items: list[dict[str, Any]]) -> set[int]:
    """The ids of a list of rows."""
    return {item["id"] for item in items}


@pytest.mark.parametrize("how", ["moved", "cancelled_and_replanned"])
def test_a_grid_worker_sees_the_elders_they_serve_and_loses_reassigned_work(
    how: str, world: World, viewer: Callable[[Worker], Viewer], session: Session
) -> None:
    c = world.county("xq")
    old, new = c.workers
    # Two elders in old's own grid with no contact: one old visits this month, one nobody.
    solo = make_elder(session, "E-xq-solo", c.grids[0], None, None, name="兴庆独居者")
    stranger = make_elder(session, "E-xq-stranger", c.grids[0], None, None, name="兴庆陌生人")
    visit = make_visit(session, solo, old, world.month)
    session.commit()

    me = viewer(old)
    listed = me.json("/api/v1/elders?status=all")["elders"]
    assert solo.id in ids_of(listed)
    assert stranger.id not in ids_of(listed)
    assert_error(me.get(f"/api/v1/elders/{stranger.id}"), 404, "not_found")
    assert me.json(f"/api/v1/elders/{solo.id}")["elder"]["name"] == "兴庆独居者"
    # only their own visits: the elders of their grid (they are primary) and the solo elder
    own = {v.id for v in world.visits["xq"] if v.worker_id == old.id} | {visit.id}
    mine = me.json(f"/api/v1/visits?month={world.month}&status=all")["visits"]
    assert ids_of(mine) == own
    assert solo.code in me.html("/dashboard") and solo.code in me.html("/elders")
    assert stranger.code not in me.html("/elders")

    # The visit moves to the other grid worker.
    if how == "moved":
        session.add(
            VisitAssignment(
                visit_id=visit.id, worker_id=new.id, previous_worker_id=old.id, reason="manual"
            )
        )
        visit.worker_id = new.id
        moved = visit
    else:
        visit.status, visit.cancel_reason = "cancelled", "reassigned"
        moved = make_visit(session, solo, new, world.month, seq=2)
    session.commit()

    assert solo.id not in ids_of(me.json("/api/v1/elders?status=all")["elders"])
    assert_error(me.get(f"/api/v1/elders/{solo.id}"), 404, "not_found")
    for status in ("all", "open"):
        after = me.json(f"/api/v1/visits?month={world.month}&status={status}")["visits"]
        assert visit.id not in ids_of(after) and moved.id not in ids_of(after)
        assert solo.id not in {v["elder"]["id"] for v in after}
    assert_error(me.get(f"/api/v1/visits/{visit.id}"), 404, "not_found")
    assert_error(me.get(f"/api/v1/visits/{moved.id}"), 404, "not_found")
    for page in ("/dashboard", "/elders"):
        html = me.html(page)
        assert solo.code not in html and "兴庆独居者" not in html, page

    them = viewer(new)
    assert solo.id in ids_of(them.json("/api/v1/elders?status=all")["elders"])
    assert them.json(f"/api/v1/visits/{moved.id}")["visit"]["elder"]["name"] == "兴庆独居者"
    assert solo.code in them.html("/dashboard")


def test_a_social_worker_sees_the_cases_routed_to_their_agency(
    world: World, viewer: Callable[[Worker], Viewer], session: Session, engine: Engine
) -> None:
    sw = world.county("xq").social_worker
    ours, other_agency = world.home_cases["xq"], world.agency_cases["xq"]
    me = viewer(sw)
    listed = me.json("/api/v1/cases")["cases"]
    assert ids_of(listed) == {ours.id}
    assert listed[0]["agency"]["code"] == world.county("xq").home.code
    html = me.html("/cases")
    assert ours.elder.code in html and other_agency.elder.code not in html
    # the elder of their case, and no other
    assert ids_of(me.json("/api/v1/elders")["elders"]) == {ours.elder_id}
    assert_error(me.get(f"/api/v1/elders/{other_agency.elder_id}"), 404, "not_found")

    before = db_state(engine)
    for case in (other_agency, world.home_cases["jf"], world.agency_cases["jf"]):
        assert_error(me.get(f"/api/v1/cases/{case.id}"), 404, "not_found")
        assert_error(
            me.api.post(f"/api/v1/cases/{case.id}/ack", headers=me.headers), 404, "not_found"
        )
    assert db_state(engine) == before

    acked = me.api.post(f"/api/v1/cases/{ours.id}/ack", headers=me.headers)
    assert acked.status_code == 200
    assert acked.get_json()["case"]["status"] == "acknowledged"
    session.expire_all()
    stored = session.get(Case, ours.id)
    assert stored is not None and stored.acknowledged_by_id == sw.id


def test_an_admin_sees_both_counties(world: World, viewer: Callable[[Worker], Viewer]) -> None:
    me = viewer(world.region.admin)
    everyone = [e for c in world.region.counties.values() for e in c.elders]
    listed = me.json("/api/v1/elders")
    assert listed["total"] == len(everyone) == 9
    for key in ("xq", "jf"):
        c = world.county(key)
        assert me.json(f"/api/v1/elders?area={c.area.code}")["total"] == len(c.elders)
        assert me.json(f"/api/v1/elders/{c.elders[0].id}")["elder"]["code"] == c.elders[0].code
        assert me.json(f"/api/v1/visits/{world.visits[key][0].id}")["visit"]["id"]
        assert me.json(f"/api/v1/cases/{world.home_cases[key].id}")["case"]["id"]
        report = me.json(f"/api/v1/reports/completion?area={c.area.code}")
        assert report["elders"] == len(c.elders)
        assert c.area.name in me.html(f"/dashboard?area={c.area.code}")
    assert ids_of(me.json("/api/v1/cases")["cases"]) == {
        c.id for c in (*world.home_cases.values(), *world.agency_cases.values())
    }
    visits = me.json(f"/api/v1/visits?month={world.month}")["visits"]
    assert len(visits) == 9
    top = me.json("/api/v1/reports/completion")
    assert (top["elders"], top["visited"]) == (9, 3)
    staff = {w["external_id"] for w in me.json("/api/v1/workers")["workers"]}
    assert {"SUP-xq", "SUP-jf", "GW-xq-1", "GW-jf-2"} <= staff
    html = me.html("/elders")
    assert all(e.code in html for e in everyone)


# --------------------------------------------------------------------------- personal data


def test_lists_mask_personal_data_the_reader_does_not_need(
    world: World, viewer: Callable[[Worker], Viewer], session: Session
) -> None:
    c = world.county("xq")
    elder = c.elders[0]
    assert elder.phone
    # A supervisor's lists: names and phones masked, no addresses.
    sup = viewer(c.supervisor)
    listed = {e["id"]: e for e in sup.json("/api/v1/elders")["elders"]}[elder.id]
    assert listed["phone"] == mask_phone(elder.phone)
    assert listed["name"] == mask_name(elder.name)
    assert "address" not in listed
    seen = {v["id"]: v for v in sup.json("/api/v1/visits")["visits"]}[world.visits["xq"][0].id]
    assert seen["elder"]["phone"] == mask_phone(elder.phone)
    assert seen["elder"]["name"] == mask_name(elder.name)
    assert seen["elder"]["address"] is None and seen["elder"]["lat"] is None
    one = sup.json(f"/api/v1/visits/{world.visits['xq'][0].id}")["visit"]
    assert one["elder"]["phone"] == mask_phone(elder.phone)
    # The full record is there for the supervisor who asks for it, and the read is audited.
    full = sup.json(f"/api/v1/elders/{elder.id}")["elder"]
    assert (full["name"], full["phone"]) == (elder.name, elder.phone)
    assert full["address"] == elder.address
    audit = session.scalars(select(AuditEntry).where(AuditEntry.action == "read_elder")).all()
    assert [(a.actor_id, a.object_id) for a in audit] == [(c.supervisor.id, str(elder.id))]
    assert elder.phone not in json.dumps([a.detail for a in audit], ensure_ascii=False)

    # The worker who visits: the name in lists, phone and address on their visit.
    assert elder.primary_contact is not None
    gw = viewer(elder.primary_contact)
    listed = {e["id"]: e for e in gw.json("/api/v1/elders")["elders"]}[elder.id]
    assert listed["name"] == elder.name and listed["phone"] == mask_phone(elder.phone)
    own = {v["id"]: v for v in gw.json("/api/v1/visits")["visits"]}[world.visits["xq"][0].id]
    assert (own["elder"]["name"], own["elder"]["phone"], own["elder"]["address"]) == (
        elder.name,
        elder.phone,
        elder.address,
    )


def test_nothing_personal_in_the_logs(
    world: World, app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    c = world.county("xq")
    worker = c.workers[0]
    elder = c.elders[0]
    caplog.set_level(logging.DEBUG)
    client = app.test_client()
    assert (
        client.post("/api/v1/auth/token", json={"phone": worker.phone, "pin": "000000"}).status_code
        == 401
    )
    assert client.post("/api/v1/auth/otp", json={"phone": worker.phone}).status_code == 202
    assert client.post("/api/v1/auth/otp", json={"phone": "+8613999999999"}).status_code == 202
    headers = api_token(client, worker.phone, PIN)
    for url in (
        "/api/v1/me",
        "/api/v1/elders",
        f"/api/v1/elders?q={elder.name}",
        f"/api/v1/elders/{elder.id}",
        "/api/v1/visits",
        f"/api/v1/visits/{world.visits['xq'][0].id}",
        "/api/v1/cases",
    ):
        assert client.get(url, headers=headers).status_code == 200, url
    pages = app.test_client()
    page_login(pages, worker.phone, PIN)
    for url in ("/dashboard", "/elders", "/cases"):
        assert pages.get(url).status_code == 200, url
    logged = "\n".join([caplog.text, *(f"{r.getMessage()} {r.args!r}" for r in caplog.records)])
    personal = {worker.phone, worker.phone[3:], worker.name, "13999999999"}
    for e in c.elders:
        assert e.phone and e.address
        personal |= {e.phone, e.phone[3:], e.name, e.address}
    leaked = sorted(p for p in personal if p in logged)
    assert not leaked, f"personal data in the logs: {leaked}"

"""`tanfang seed` and the demo region: a plausible Ningxia that the rest of the product can
plan, scope and log in to."""

from __future__ import annotations

import math
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, aliased

from server.data.ningxia import COUNTIES, LAT_MAX, LAT_MIN, LON_MAX, LON_MIN
from server.models import Agency, Area, Elder, Worker, WorkerArea
from server.services.auth import AuthError, authenticate_pin
from server.services.codes import is_valid_code
from server.services.phones import normalize_phone
from server.services.seed import SeedError, demo_logins, seed_region
from server.vocab import VISITING_ROLES, VISITS_PER_MONTH
from tests.conftest import Cli

PEPPER = b"test-pepper"
TODAY = date(2025, 6, 15)
COUNTY_BY_CODE = {c.code: c for c in COUNTIES}


def seed(session: Session, elders: int = 400, workers: int = 60, seed: int = 7, **kw: Any) -> Any:
    return seed_region(
        session, elders=elders, workers=workers, seed=seed, pepper=PEPPER, today=TODAY, **kw
    )


def areas_by_id(session: Session) -> dict[int, Area]:
    return {a.id: a for a in session.scalars(select(Area))}


def county_of(area: Area, areas: dict[int, Area]) -> Area:
    for part in area.path.strip("/").split("/"):
        node = areas[int(part)]
        if node.level == "county":
            return node
    raise AssertionError(f"{area.code} has no county above it")


def km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    dlat = math.radians(lat2 - lat1)
    dlon = math.radians(lon2 - lon1)
    a = (
        math.sin(dlat / 2) ** 2
        + math.cos(math.radians(lat1)) * math.cos(math.radians(lat2)) * math.sin(dlon / 2) ** 2
    )
    return 6371.0 * 2 * math.asin(math.sqrt(a))


def test_the_real_tree_of_ningxia(session: Session) -> None:
    summary = seed(session)
    areas = areas_by_id(session)
    by_level = Counter(a.level for a in areas.values())
    assert by_level["region"] == 1 and by_level["city"] == 5 and by_level["county"] == 22
    assert by_level["grid"] >= 22 and by_level["grid"] == summary.areas["grid"]
    counties = {a.code: a for a in areas.values() if a.level == "county"}
    assert set(counties) == set(COUNTY_BY_CODE)
    assert counties["640104"].name == "兴庆区"
    assert areas[counties["640104"].parent_id or 0].code == "640100"
    assert areas[counties["640522"].parent_id or 0].name == "中卫市"
    for area in areas.values():
        if area.parent_id is None:
            assert area.code == "640000" and area.path == f"/{area.id}/"
            continue
        parent = areas[area.parent_id]
        assert area.path == f"{parent.path}{area.id}/"
        if area.level in ("street", "community", "grid"):
            assert area.code.startswith(parent.code) and len(area.code) == len(parent.code) + 3


def test_agencies_serve_counties_and_warm_heart_homes_serve_streets(session: Session) -> None:
    summary = seed(session)
    agencies = list(session.scalars(select(Agency)))
    homes = [a for a in agencies if "暖心家园" in a.name]
    centres = [a for a in agencies if "社会工作服务中心" in a.name]
    assert len(homes) == summary.warm_heart_homes == 17
    assert sum("国家级" in h.name for h in homes) == 5
    assert len(centres) == 22
    assert {a.areas[0].level for a in centres} == {"county"}
    assert {a.areas[0].level for a in homes} == {"street"}
    assert all(a.phone for a in agencies)
    social = list(session.scalars(select(Worker).where(Worker.role == "social_worker")))
    assert {w.agency_id for w in social} == {a.id for a in agencies}
    assert all(w.monthly_capacity == 0 for w in social)


def test_every_elder_has_two_contacts_who_serve_them(session: Session) -> None:
    seed(session)
    areas = areas_by_id(session)
    workers = {w.id: w for w in session.scalars(select(Worker))}
    served: dict[int, set[int]] = {}
    for link in session.scalars(select(WorkerArea)):
        served.setdefault(link.worker_id, set()).add(link.area_id)
    elders = list(session.scalars(select(Elder)))
    assert len(elders) == 400
    for elder in elders:
        assert elder.primary_contact_id and elder.secondary_contact_id
        assert elder.primary_contact_id != elder.secondary_contact_id
        grid = areas[elder.grid_id]
        assert grid.level == "grid"
        for contact_id in (elder.primary_contact_id, elder.secondary_contact_id):
            contact = workers[contact_id]
            assert contact.role in VISITING_ROLES
            assert served[contact_id] & {grid.id, grid.parent_id}, (elder.external_id, contact)


def test_people_live_in_their_county(session: Session) -> None:
    seed(session)
    areas = areas_by_id(session)
    for elder in session.scalars(select(Elder)):
        assert elder.lat is not None and elder.lon is not None
        assert LAT_MIN <= elder.lat <= LAT_MAX and LON_MIN <= elder.lon <= LON_MAX
        county = COUNTY_BY_CODE[county_of(areas[elder.grid_id], areas).code]
        assert km(elder.lat, elder.lon, county.lat, county.lon) <= county.radius_km
        assert elder.address and elder.address.startswith(county.name)
    for worker in session.scalars(select(Worker).where(Worker.role.in_(VISITING_ROLES))):
        assert worker.lat is not None and worker.lon is not None
        county = COUNTY_BY_CODE[county_of(worker.areas[0], areas).code]
        assert km(worker.lat, worker.lon, county.lat, county.lon) <= county.radius_km


def test_codes_phones_and_ids_are_unique_and_valid(session: Session) -> None:
    seed(session)
    elders = list(session.scalars(select(Elder)))
    workers = list(session.scalars(select(Worker)))
    agencies = list(session.scalars(select(Agency)))
    codes = [e.code for e in elders]
    assert len(set(codes)) == len(codes) and all(is_valid_code(c) for c in codes)
    phones = [p for p in [e.phone for e in elders] + [w.phone for w in workers] if p]
    phones += [a.phone for a in agencies if a.phone]
    assert len(set(phones)) == len(phones)
    assert all(normalize_phone(p) == p and p.startswith("+861") for p in phones)
    assert 0.6 < sum(1 for e in elders if e.phone) / len(elders) < 0.95  # some have none
    assert len({w.external_id for w in workers}) == len(workers)
    assert all(e.enrolled_on < TODAY for e in elders)


def test_proportions_are_plausible(session: Session) -> None:
    seed(session, elders=1000, workers=200)
    elders = list(session.scalars(select(Elder)))
    n = len(elders)

    def share(attribute: str, value: object) -> float:
        return sum(1 for e in elders if getattr(e, attribute) == value) / n

    assert share("household", "shidu") == pytest.approx(0.55, abs=0.06)
    assert share("household", "shangcan") == pytest.approx(0.20, abs=0.05)
    assert share("household", "living_alone") == pytest.approx(0.15, abs=0.05)
    assert share("disability", "none") == pytest.approx(0.70, abs=0.06)
    assert share("disability", "full") == pytest.approx(0.08, abs=0.04)
    assert share("risk_tier", "standard") == pytest.approx(0.70, abs=0.02)
    assert share("risk_tier", "elevated") == pytest.approx(0.22, abs=0.02)
    assert share("risk_tier", "high") == pytest.approx(0.08, abs=0.02)
    assert 0.45 < share("gender", "F") < 0.68
    assert share("locale", "zh_CN") > 0.95
    ages = [(TODAY - e.birth_date).days / 365.25 for e in elders if e.birth_date]
    assert min(ages) >= 49 and max(ages) < 97
    assert sum(1 for a in ages if a >= 60) / n > 0.8
    # The riskiest lives get the most visits: the fully disabled are mostly not `standard`.
    full = [e for e in elders if e.disability == "full"]
    assert sum(1 for e in full if e.risk_tier != "standard") / len(full) > 0.6
    per_grid = Counter(e.grid_id for e in elders)
    assert 10 <= sum(per_grid.values()) / len(per_grid) <= 80
    workers = Counter(session.scalars(select(Worker.role)))
    visiting = workers["grid_worker"] + workers["volunteer"]
    assert workers["grid_worker"] / visiting == pytest.approx(0.74, abs=0.1)
    assert workers["grid_worker"] >= len(per_grid)


def test_capacity_covers_the_visits_the_elders_need(session: Session) -> None:
    summary = seed(session)
    areas = areas_by_id(session)
    need: Counter[str] = Counter()
    for grid_id, tier in session.execute(select(Elder.grid_id, Elder.risk_tier)):
        need[county_of(areas[grid_id], areas).code] += VISITS_PER_MONTH[tier]
    capacity: Counter[str] = Counter()
    for worker in session.scalars(select(Worker).where(Worker.role.in_(VISITING_ROLES))):
        capacity[county_of(worker.areas[0], areas).code] += worker.monthly_capacity
        low, high = (25, 60) if worker.role == "grid_worker" else (8, 20)
        assert low <= worker.monthly_capacity <= high
    assert sum(need.values()) == summary.required_visits
    assert sum(capacity.values()) == summary.visiting_capacity
    assert summary.visiting_capacity >= 1.2 * summary.required_visits
    for code, visits in need.items():
        assert capacity[code] >= visits, COUNTY_BY_CODE[code].name


def test_too_few_workers_are_raised_to_what_the_region_needs(session: Session) -> None:
    summary = seed(session, elders=300, workers=15)
    assert summary.workers_requested == 15
    assert summary.total_workers > 15
    assert summary.workers["supervisor"] == 27 and summary.workers["admin"] == 1
    assert summary.workers["grid_worker"] >= summary.areas["grid"]
    assert summary.workers["volunteer"] >= summary.areas["community"]


def test_the_same_seed_gives_the_same_region(session: Session) -> None:
    contact = aliased(Worker)
    second = aliased(Worker)

    def snapshot() -> list[Any]:
        rows = session.execute(
            select(
                Elder.external_id,
                Elder.code,
                Elder.name,
                Elder.phone,
                Elder.birth_date,
                Elder.gender,
                Elder.address,
                Elder.lat,
                Elder.lon,
                Elder.household,
                Elder.disability,
                Elder.lives_alone,
                Elder.risk_tier,
                Elder.locale,
                Elder.enrolled_on,
                Area.code,
                contact.external_id,
                second.external_id,
            )
            .join(Area, Area.id == Elder.grid_id)
            .join(contact, contact.id == Elder.primary_contact_id)
            .join(second, second.id == Elder.secondary_contact_id)
            .order_by(Elder.external_id)
        ).all()
        workers = session.execute(
            select(
                Worker.external_id,
                Worker.name,
                Worker.phone,
                Worker.role,
                Worker.lat,
                Worker.monthly_capacity,
            ).order_by(Worker.external_id)
        ).all()
        return [tuple(r) for r in rows] + [tuple(w) for w in workers]

    seed(session, elders=200, workers=40)
    first = snapshot()
    session.rollback()
    seed(session, elders=200, workers=40)
    assert snapshot() == first
    session.rollback()
    seed(session, elders=200, workers=40, seed=8)
    assert snapshot() != first


def test_a_database_with_elders_is_refused(session: Session) -> None:
    seed(session, elders=50, workers=10)
    with pytest.raises(SeedError, match="already has 50 elders"):
        seed(session, elders=50, workers=10)


def test_existing_logins_are_kept(session: Session) -> None:
    """`tanfang user create` before `tanfang demo` must not make seeding fail."""
    admin = Worker(external_id="W000001", name="管理员", phone="+8613900000001", role="admin")
    session.add(admin)
    session.flush()
    seed(session, elders=50, workers=10)
    assert (
        session.scalar(
            select(func.count()).select_from(Worker).where(Worker.external_id == "W000001")
        )
        == 1
    )
    assert session.get(Worker, admin.id) is admin and admin.name == "管理员"


def test_demo_logins_can_sign_in(session: Session) -> None:
    seed(session, elders=200, workers=40, demo_pin="135790")
    session.commit()
    logins = demo_logins(session)
    roles = Counter(role for role, _, _ in logins)
    assert roles["admin"] == 1 and roles["supervisor"] >= 2
    assert {"grid_worker", "volunteer", "social_worker"} <= set(roles)
    supervised = set()
    for role, phone, name in logins:
        worker = authenticate_pin(session, phone, "135790", PEPPER)
        assert (worker.role, worker.name) == (role, name)
        if role == "supervisor":
            supervised |= {a.code for a in worker.areas if a.level == "county"}
    assert len(supervised) >= 2
    with pytest.raises(AuthError):
        authenticate_pin(session, logins[0][1], "000000", PEPPER)


def test_progress_counts_every_elder(session: Session) -> None:
    seen: list[int] = []
    seed(session, elders=120, workers=30, progress=seen.append)
    assert sum(seen) == 120


def test_seed_command(cli: Cli) -> None:
    result = cli("seed", "--elders", "200", "--workers", "40", "--seed", "3")
    assert result.exit_code == 0, result.output
    assert "22 counties" in result.output and "200" in result.output
    assert "17 Warm Heart Homes" in result.output
    again = cli("seed", "--elders", "200", "--workers", "40")
    assert again.exit_code == 1
    assert "already has 200 elders" in again.output


def test_seed_command_needs_a_migrated_database(cli: Cli, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    result = cli("seed", "--elders", "10", "--workers", "5", env={"TANFANG_DATABASE_URL": url})
    assert result.exit_code == 2
    assert "tanfang db upgrade" in result.output


@pytest.mark.postgres
def test_seed_and_plan_leave_postgresql_with_fresh_statistics(
    pg_engine: Engine, postgres_url: str
) -> None:
    """After a bulk load PostgreSQL's planner knows the tables' sizes (with autovacuum off
    or not yet run, it would guess, and read every elder to find one by phone)."""
    from server.db import refresh_statistics

    with pg_engine.connect() as conn:
        conn.execute(text("SELECT pg_stat_reset()"))
    cli = Cli(postgres_url)
    assert cli("seed", "--elders", "300", "--workers", "30", "--seed", "5").exit_code == 0
    assert cli("plan").exit_code == 0

    def analyzed(table: str) -> bool:
        with pg_engine.connect() as conn:
            return bool(
                conn.scalar(
                    text(
                        "SELECT coalesce(last_analyze, last_autoanalyze) IS NOT NULL"
                        " FROM pg_stat_user_tables WHERE relname = :t"
                    ),
                    {"t": table},
                )
            )

    for table in ("elders", "workers", "areas", "visits", "visit_assignments"):
        assert analyzed(table), table
    refresh_statistics(pg_engine)  # nothing named: nothing to do

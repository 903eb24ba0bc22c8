"""A small but complete region for tests: two counties, each with a street, a community,
two grids, agencies, workers, a supervisor and elders."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from functools import cache

from sqlalchemy.orm import Session

from server.models import Agency, Area, Elder, Login, Visit, Worker
from server.services.areas import add_area
from server.services.auth import hash_pin
from server.services.codes import CodeAllocator

PEPPER = b"test-pepper"
PIN = "246810"


@dataclass
class County:
    """One county of the test region and the people in it."""

    area: Area
    street: Area
    community: Area
    grids: list[Area]
    agency: Agency
    home: Agency  # the street's own Warm Heart Home
    supervisor: Worker
    social_worker: Worker
    workers: list[Worker]
    elders: list[Elder] = field(default_factory=list)


@dataclass
class Region:
    """The whole test region."""

    root: Area
    city: Area
    counties: dict[str, County]
    admin: Worker


_phone_counter = [13800000000]


def next_phone() -> str:
    """A fresh valid mainland mobile number in E.164."""
    _phone_counter[0] += 1
    return f"+86{_phone_counter[0]}"


def make_worker(
    session: Session,
    external_id: str,
    name: str,
    role: str,
    areas: list[Area],
    *,
    lat: float | None = 38.47,
    lon: float | None = 106.27,
    capacity: int = 40,
    agency: Agency | None = None,
    locale: str = "zh_CN",
    pin: str | None = PIN,
) -> Worker:
    """A worker with a login."""
    worker = Worker(
        external_id=external_id,
        name=name,
        phone=next_phone(),
        role=role,
        lat=lat,
        lon=lon,
        monthly_capacity=capacity,
        locale=locale,
        agency=agency,
    )
    worker.areas = list(areas)
    session.add(worker)
    session.flush()
    if pin:
        session.add(Login(worker_id=worker.id, pin_hash=_pin_hash(pin)))
    return worker


@cache
def _pin_hash(pin: str) -> str:
    # argon2 is slow on purpose; hash each test PIN once per run
    return hash_pin(pin, PEPPER)


def make_elder(
    session: Session,
    external_id: str,
    grid: Area,
    primary: Worker | None,
    secondary: Worker | None,
    *,
    codes: CodeAllocator | None = None,
    tier: str = "standard",
    lat: float = 38.47,
    lon: float = 106.27,
    name: str = "张秀英",
    locale: str = "zh_CN",
) -> Elder:
    """An active elder in `grid`."""
    elder = Elder(
        external_id=external_id,
        code=(codes or CodeAllocator.from_db(session)).new(),
        name=name,
        phone=next_phone(),
        birth_date=date(1950, 3, 1),
        gender="F",
        address="兴庆区文化街1号",
        lat=lat,
        lon=lon,
        grid_id=grid.id,
        household="shidu",
        disability="none",
        lives_alone=True,
        risk_tier=tier,
        locale=locale,
        primary_contact=primary,
        secondary_contact=secondary,
        enrolled_on=date(2024, 1, 1),
    )
    session.add(elder)
    session.flush()
    return elder


def build_region(session: Session, elders_per_grid: int = 2) -> Region:
    """Create the test region and flush it (the caller commits)."""
    root = add_area(session, "640000", "宁夏回族自治区", "region", None)
    city = add_area(session, "640100", "银川市", "city", root)
    codes = CodeAllocator.from_db(session)
    counties: dict[str, County] = {}
    for key, code, name, lat, lon in (
        ("xq", "640104", "兴庆区", 38.47, 106.29),
        ("jf", "640106", "金凤区", 38.48, 106.20),
    ):
        county = add_area(session, code, name, "county", city)
        street = add_area(session, f"{code}001", f"{name}第一街道", "street", county)
        community = add_area(session, f"{code}001001", f"{name}幸福社区", "community", street)
        grids = [
            add_area(session, f"{code}001001{i:03d}", f"{name}第{i}网格", "grid", community)
            for i in (1, 2)
        ]
        agency = Agency(code=f"AG-{key.upper()}", name=f"{name}社工服务中心", phone=next_phone())
        agency.areas = [county]
        home = Agency(code=f"HOME-{key.upper()}", name=f"{name}暖心家园", phone=next_phone())
        home.areas = [street]
        session.add_all([agency, home])
        session.flush()
        supervisor = make_worker(session, f"SUP-{key}", f"{name}督导", "supervisor", [county])
        social = make_worker(
            session,
            f"SW-{key}",
            f"{name}社工",
            "social_worker",
            [county],
            agency=home,
            capacity=0,
        )
        workers = [
            make_worker(
                session,
                f"GW-{key}-{i}",
                f"{name}网格员{i}",
                "grid_worker",
                [grid],
                lat=lat,
                lon=lon,
            )
            for i, grid in enumerate(grids, start=1)
        ]
        c = County(county, street, community, grids, agency, home, supervisor, social, workers)
        for g_index, grid in enumerate(grids):
            for e in range(elders_per_grid):
                c.elders.append(
                    make_elder(
                        session,
                        f"E-{key}-{g_index}-{e}",
                        grid,
                        workers[g_index],
                        workers[1 - g_index],
                        codes=codes,
                        lat=lat + 0.001 * e,
                        lon=lon,
                    )
                )
        counties[key] = c
    admin = make_worker(session, "ADMIN-1", "系统管理员", "admin", [root], capacity=0)
    session.flush()
    return Region(root, city, counties, admin)


def make_visit(
    session: Session,
    elder: Elder,
    worker: Worker | None,
    month: str,
    *,
    seq: int = 1,
    status: str = "planned",
) -> Visit:
    """A visit of `elder` in `month`, due at the month's 28th."""
    year, mon = (int(p) for p in month.split("-"))
    visit = Visit(
        elder_id=elder.id,
        month=month,
        seq=seq,
        window_start=date(year, mon, 1),
        due_date=date(year, mon, 28),
        worker_id=worker.id if worker else None,
        status=status,
    )
    session.add(visit)
    session.flush()
    return visit

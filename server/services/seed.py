"""Synthetic regions for demos, tests and load tests: Ningxia's real tree, plausible people.

`seed_region` first plans the whole region in memory from one seed (the same seed and day
give the same data), then writes it with bulk inserts: the few thousand areas and agencies,
the workers, then the elders in chunks. Only a handful of demo logins get a PIN, because
each argon2 hash costs about 50 ms.

The plan, in order:
1. counties get elders in proportion to their population; each county gets as many grids
   as give about 50 elders a grid, grouped into communities (~3 grids) and real streets;
2. every elder's traits (age, household, disability, living alone) are drawn, and risk
   tiers are given by rank of a risk score, so the shares are exact and the tiers follow
   disability, loss of the only child and living alone;
3. the workforce is sized from the visits the elders need: every grid has a grid worker and
   every community a volunteer, so each elder has two different contacts who serve them.
"""

from __future__ import annotations

import heapq
import math
import random
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from itertools import accumulate
from typing import Any, TypeVar

from sqlalchemy import func, insert, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from server.data import names as name_data
from server.data import places
from server.data.ningxia import (
    CITIES,
    COUNTIES,
    LAT_MAX,
    LAT_MIN,
    LON_MAX,
    LON_MIN,
    NATIONAL_HOMES,
    REGION_CODE,
    REGION_NAME,
    REGIONAL_HOMES,
    County,
)
from server.db import Base, bulk_insert
from server.models import Agency, AgencyArea, Area, Elder, Login, Worker, WorkerArea
from server.services.areas import rebuild_paths
from server.services.auth import set_pin, validate_pin
from server.services.codes import ALPHABET, CodeAllocator
from server.vocab import AREA_LEVELS, ROLES, VISITING_ROLES, VISITS_PER_MONTH

T = TypeVar("T")

# Rows per INSERT round: large enough for insertmanyvalues to batch well, small enough
# to keep memory flat and the progress bar moving.
CHUNK = 5000

ELDERS_PER_GRID = 50
GRIDS_PER_COMMUNITY = 3
COMMUNITIES_PER_STREET = 4

# Grid workers alone carry this multiple of their grid's visits; volunteers add on top.
CAPACITY_MARGIN = 1.2
GRID_WORKER_CAPACITY = (25, 60)
VOLUNTEER_CAPACITY = (8, 20)
# Shares of the requested workforce (the rest are grid workers, about 70%).
VOLUNTEER_SHARE = 0.26
SOCIAL_WORKER_SHARE = 0.04

# fmt: off
# (first age, last age, weight): special assistance starts at 40, most enrolled are 60+.
AGE_BANDS = ((49, 59, 10), (60, 69, 35), (70, 79, 33), (80, 95, 22))
FEMALE_SHARE = 0.56  # women outlive men
HOUSEHOLDS = (
    ("shidu", 55), ("shangcan", 20), ("living_alone", 15), ("left_behind", 5), ("other", 5),
)
LIVES_ALONE_SHARE = {
    "shidu": 0.5, "shangcan": 0.3, "living_alone": 1.0, "left_behind": 0.6, "other": 0.3,
}
# (below this age, share partly disabled, share fully disabled): about 70/22/8 overall.
DISABILITY_BY_AGE = ((70, 0.13, 0.035), (80, 0.24, 0.075), (200, 0.36, 0.17))
# Weights of the risk score: what makes a monthly visit not enough.
HOUSEHOLD_RISK = {
    "shidu": 1.0, "shangcan": 0.6, "living_alone": 0.5, "left_behind": 0.4, "other": 0.0,
}
DISABILITY_RISK = {"none": 0.0, "partial": 1.0, "full": 2.5}
HIGH_SHARE, ELEVATED_SHARE = 0.08, 0.22
# Phones: the very old often have none (a relative's or a landline instead).
PHONE_SHARE_BY_AGE = ((70, 0.9), (80, 0.8), (200, 0.6))
ELDER_EN_SHARE = 0.003
WORKER_EN_SHARE = 0.01
ENROLMENT_START = date(2016, 1, 1)

# Mainland mobile prefixes of the three carriers (all valid for libphonenumber).
MOBILE_PREFIXES = (
    *(f"13{d}" for d in range(10)),
    "150", "151", "152", "153", "155", "156", "157", "158", "159",
    "166", "173", "175", "176", "177", "178",
    *(f"18{d}" for d in range(10)),
    "191", "198", "199",
)

# fmt: on

# The demo logins: supervisors of two counties in different cities.
DEMO_COUNTIES = ("640104", "640402")  # 兴庆区 (银川市), 原州区 (固原市)
DEMO_LOGIN_LIMIT = 10
ROLE_ORDER = {"admin": 0, "supervisor": 1, "social_worker": 2, "grid_worker": 3, "volunteer": 4}


class SeedError(Exception):
    """The region cannot be seeded (the database is not empty, or a bad argument)."""


@dataclass(frozen=True)
class SeedSummary:
    """What `seed_region` created."""

    areas: dict[str, int]
    agencies: int
    warm_heart_homes: int
    workers: dict[str, int]
    workers_requested: int
    elders: int
    required_visits: int
    visiting_capacity: int
    seconds: float

    @property
    def total_areas(self) -> int:
        """Areas of every level."""
        return sum(self.areas.values())

    @property
    def total_workers(self) -> int:
        """Workers of every role."""
        return sum(self.workers.values())


# --- the plan ------------------------------------------------------------------------------


@dataclass(eq=False)
class _Area:
    code: str
    name: str
    level: str
    lat: float
    lon: float
    parent: _Area | None = None
    id: int = 0


@dataclass(eq=False)
class _Worker:
    external_id: str
    name: str
    phone: str
    role: str
    areas: list[_Area]
    lat: float | None = None
    lon: float | None = None
    capacity: int = 0
    locale: str = "zh_CN"
    agency: _Agency | None = None
    id: int = 0


@dataclass(eq=False)
class _Agency:
    code: str
    name: str
    phone: str
    area: _Area
    served: int  # elders in its area, to share out social workers
    id: int = 0


@dataclass(eq=False)
class _Grid:
    area: _Area
    community: _Community
    county: _County
    elders: int = 0
    load: int = 0  # visits a month
    grid_workers: list[_Worker] = field(default_factory=list)


@dataclass(eq=False)
class _Community:
    area: _Area
    street: _Street
    village: bool  # a village (村) has group/house addresses, a community (社区) flats
    grids: list[_Grid] = field(default_factory=list)
    volunteers: list[_Worker] = field(default_factory=list)


@dataclass(eq=False)
class _Street:
    area: _Area
    county: _County
    communities: list[_Community] = field(default_factory=list)


@dataclass(eq=False)
class _County:
    data: County
    area: _Area
    elders: int
    streets: list[_Street] = field(default_factory=list)


@dataclass(slots=True)
class _Traits:
    grid: _Grid
    female: bool
    age: int
    birth_date: date
    household: str
    disability: str
    lives_alone: bool
    risk: float
    tier: str = "standard"


@dataclass
class _Plan:
    root: _Area
    cities: list[_Area]
    counties: list[_County]
    grids: list[_Grid]
    agencies: list[_Agency] = field(default_factory=list)
    workers: list[_Worker] = field(default_factory=list)
    homes: int = 0

    def areas(self) -> Iterator[_Area]:
        """Every area, parents before children."""
        yield self.root
        yield from self.cities
        for county in self.counties:
            yield county.area
        for county in self.counties:
            for street in county.streets:
                yield street.area
        for county in self.counties:
            for street in county.streets:
                for community in street.communities:
                    yield community.area
        for grid in self.grids:
            yield grid.area


# --- small helpers -------------------------------------------------------------------------


def _apportion(total: int, weights: Sequence[float]) -> list[int]:
    """Split `total` into whole parts proportional to `weights` (largest remainder)."""
    weight_sum = sum(weights)
    if total <= 0 or weight_sum <= 0:
        return [0] * len(weights)
    ideal = [total * w / weight_sum for w in weights]
    parts = [math.floor(x) for x in ideal]
    by_remainder = sorted(range(len(weights)), key=lambda i: (parts[i] - ideal[i], i))
    for i in by_remainder[: total - sum(parts)]:
        parts[i] += 1
    return parts


def _split(rng: random.Random, total: int, parts: int) -> list[int]:
    """`total` split into `parts` uneven parts of at least 1 each."""
    extra = _apportion(total - parts, [rng.uniform(0.5, 1.5) for _ in range(parts)])
    return [1 + e for e in extra]


def _fill(counts: list[int], loads: Sequence[float], total: int) -> None:
    """Raise `counts` one at a time where the load per head is highest, up to `total`."""
    heap = [(-loads[i] / counts[i], i) for i in range(len(counts))]
    heapq.heapify(heap)
    for _ in range(total - sum(counts)):
        _, i = heapq.heappop(heap)
        counts[i] += 1
        heapq.heappush(heap, (-loads[i] / counts[i], i))


def _near(
    rng: random.Random, lat: float, lon: float, max_km: float, min_km: float = 0.0
) -> tuple[float, float]:
    """A point uniformly spread over the ring `min_km`..`max_km` around (lat, lon)."""
    r = math.sqrt(rng.uniform((min_km / max_km) ** 2 if max_km else 0.0, 1.0)) * max_km
    theta = rng.uniform(0.0, 2 * math.pi)
    new_lat = lat + r * math.cos(theta) / 111.32
    new_lon = lon + r * math.sin(theta) / (111.32 * math.cos(math.radians(lat)))
    # County radii keep points inside already; the clamp guards against a future edit.
    return (
        round(min(max(new_lat, LAT_MIN), LAT_MAX), 6),
        round(min(max(new_lon, LON_MIN), LON_MAX), 6),
    )


def _chunks(rows: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


class _SeededCodes(CodeAllocator):
    """The CodeAllocator drawing from a seeded generator, so that a seed gives the same codes
    (the stock one draws from `secrets`, right for real elders, not for reproducible data)."""

    def __init__(self, rng: random.Random) -> None:
        super().__init__()
        self._rng = rng

    def new(self) -> str:
        """A fresh code, never handed out before."""
        for _ in range(100):
            code = "".join(self._rng.choices(ALPHABET, k=self.length))
            if code not in self.taken:
                self.taken.add(code)
                return code
        self.length = min(self.length + 1, 6)  # as the stock allocator does when crowded
        return self.new()


class _People:
    """Names and unique mobile numbers."""

    def __init__(self, rng: random.Random, taken_phones: set[str]) -> None:
        self.rng = rng
        self.phones = taken_phones
        surnames, weights = zip(*name_data.SURNAMES, strict=True)
        self._surnames: tuple[str, ...] = surnames
        self._cum = list(accumulate(weights))

    def surname(self) -> str:
        return self.rng.choices(self._surnames, cum_weights=self._cum)[0]

    def elder_name(self, female: bool) -> str:
        rng = self.rng
        if rng.random() < 0.12:
            given = rng.choice(
                name_data.ELDER_FEMALE_SINGLE if female else name_data.ELDER_MALE_SINGLE
            )
        elif female:
            given = rng.choice(name_data.ELDER_FEMALE_FIRST) + rng.choice(
                name_data.ELDER_FEMALE_SECOND
            )
        else:
            given = rng.choice(name_data.ELDER_MALE_FIRST) + rng.choice(name_data.ELDER_MALE_SECOND)
        return self.surname() + given

    def worker_name(self, female: bool) -> str:
        rng = self.rng
        if rng.random() < 0.25:
            given = rng.choice(
                name_data.WORKER_FEMALE_SINGLE if female else name_data.WORKER_MALE_SINGLE
            )
        elif female:
            given = rng.choice(name_data.WORKER_FEMALE_FIRST) + rng.choice(
                name_data.WORKER_FEMALE_SECOND
            )
        else:
            given = rng.choice(name_data.WORKER_MALE_FIRST) + rng.choice(
                name_data.WORKER_MALE_SECOND
            )
        return self.surname() + given

    def phone(self) -> str:
        while True:
            number = f"+86{self.rng.choice(MOBILE_PREFIXES)}{self.rng.randrange(10**8):08d}"
            if number not in self.phones:
                self.phones.add(number)
                return number


# --- step 1: the tree ----------------------------------------------------------------------


def _street_code_numbers(streets: Sequence[str]) -> list[int]:
    """GB/T 10114 numbering: 街道 001-099, 镇 100-199, 乡 200-399."""
    counters = {"街道": 0, "镇": 100, "乡": 200}
    numbers = []
    for name in streets:
        kind = "街道" if name.endswith("街道") else ("镇" if name.endswith("镇") else "乡")
        counters[kind] += 1
        numbers.append(counters[kind])
    return numbers


def _community_name(rng: random.Random, village: bool, used: set[str]) -> str:
    for _ in range(200):
        if village:
            name = rng.choice(places.VILLAGE_FIRST) + rng.choice(places.VILLAGE_SECOND) + "村"
        else:
            name = rng.choice(places.COMMUNITY_FIRST) + rng.choice(places.COMMUNITY_SECOND) + "社区"
        if name not in used:
            used.add(name)
            return name
    # Only a county with hundreds of communities runs out of combinations.
    name = f"{name[:-1] if village else name[:-2]}{len(used)}{'村' if village else '社区'}"
    used.add(name)
    return name


def _plan_tree(rng: random.Random, elders: int) -> _Plan:
    root = _Area(REGION_CODE, REGION_NAME, "region", 37.47, 106.26)
    cities = {c.code: _Area(c.code, c.name, "city", c.lat, c.lon, root) for c in CITIES}
    counts = _apportion(elders, [c.population for c in COUNTIES])
    plan = _Plan(root=root, cities=list(cities.values()), counties=[], grids=[])
    for data, county_elders in zip(COUNTIES, counts, strict=True):
        county_area = _Area(
            data.code, data.name, "county", data.lat, data.lon, cities[data.city_code]
        )
        county = _County(data, county_area, county_elders)
        plan.counties.append(county)
        n_grids = max(1, round(county_elders / ELDERS_PER_GRID))
        n_communities = max(1, round(n_grids / GRIDS_PER_COMMUNITY))
        n_streets = min(len(data.streets), max(1, round(n_communities / COMMUNITIES_PER_STREET)))
        communities_per_street = _split(rng, n_communities, n_streets)
        grids_per_community = iter(_split(rng, n_grids, n_communities))
        radius = data.radius_km
        used_names: set[str] = set()
        numbers = _street_code_numbers(data.streets)
        for s_index in range(n_streets):
            street_name = data.streets[s_index]
            is_subdistrict = street_name.endswith("街道")
            if s_index == 0:
                lat, lon = _near(rng, data.lat, data.lon, 0.15 * radius)
            elif is_subdistrict:
                lat, lon = _near(rng, data.lat, data.lon, 0.45 * radius, 0.1 * radius)
            else:
                lat, lon = _near(rng, data.lat, data.lon, 0.65 * radius, 0.3 * radius)
            street_area = _Area(
                f"{data.code}{numbers[s_index]:03d}", street_name, "street", lat, lon, county_area
            )
            street = _Street(street_area, county)
            county.streets.append(street)
            # Towns have a residents' community at their centre, the rest are villages.
            village_share = 0.0 if is_subdistrict else (0.4 if s_index == 0 else 0.8)
            n_residents = n_villages = 0
            for _ in range(communities_per_street[s_index]):
                village = rng.random() < village_share
                if village:
                    n_villages += 1
                    number = 200 + n_villages  # GB/T 10114: 村委会 200-399
                else:
                    n_residents += 1
                    number = n_residents  # 居委会 001-199
                c_lat, c_lon = _near(rng, lat, lon, (0.12 if is_subdistrict else 0.18) * radius)
                community_area = _Area(
                    f"{street_area.code}{number:03d}",
                    _community_name(rng, village, used_names),
                    "community",
                    c_lat,
                    c_lon,
                    street_area,
                )
                community = _Community(community_area, street, village)
                street.communities.append(community)
                for g in range(1, next(grids_per_community) + 1):
                    g_lat, g_lon = _near(rng, c_lat, c_lon, 0.06 * radius)
                    grid_area = _Area(
                        f"{community_area.code}{g:03d}",
                        f"{community_area.name}第{g}网格",
                        "grid",
                        g_lat,
                        g_lon,
                        community_area,
                    )
                    grid = _Grid(grid_area, community, county)
                    community.grids.append(grid)
                    plan.grids.append(grid)
        county_grids = [g for s in county.streets for c in s.communities for g in c.grids]
        for grid, n in zip(
            county_grids,
            _apportion(county_elders, [rng.uniform(0.6, 1.4) for _ in county_grids]),
            strict=True,
        ):
            grid.elders = n
    return plan


# --- step 2: the elders' traits ------------------------------------------------------------


def _draw_traits(rng: random.Random, plan: _Plan, today: date) -> list[_Traits]:
    households = [h for h, _ in HOUSEHOLDS]
    household_cum = list(accumulate(w for _, w in HOUSEHOLDS))
    bands = [(lo, hi) for lo, hi, _ in AGE_BANDS]
    band_cum = list(accumulate(w for _, _, w in AGE_BANDS))
    traits: list[_Traits] = []
    for grid in plan.grids:
        for _ in range(grid.elders):
            lo, hi = rng.choices(bands, cum_weights=band_cum)[0]
            age = rng.randint(lo, hi)
            birth = today - timedelta(days=int((age + rng.random()) * 365.2425))
            household = rng.choices(households, cum_weights=household_cum)[0]
            partial, full = next((p, f) for limit, p, f in DISABILITY_BY_AGE if age < limit)
            draw = rng.random()
            disability = "full" if draw < full else ("partial" if draw < full + partial else "none")
            lives_alone = rng.random() < LIVES_ALONE_SHARE[household]
            risk = (
                HOUSEHOLD_RISK[household]
                + DISABILITY_RISK[disability]
                + (0.8 if lives_alone else 0.0)
                + (0.6 if age >= 80 else 0.3 if age >= 70 else 0.0)
                + rng.gauss(0.0, 0.9)
            )
            female = rng.random() < FEMALE_SHARE
            traits.append(
                _Traits(grid, female, age, birth, household, disability, lives_alone, risk)
            )
    # Tiers by rank: exact shares, and the riskiest lives get the most visits.
    ranked = sorted(range(len(traits)), key=lambda i: (-traits[i].risk, i))
    n_high = round(HIGH_SHARE * len(traits))
    n_elevated = round(ELEVATED_SHARE * len(traits))
    for i in ranked[:n_high]:
        traits[i].tier = "high"
    for i in ranked[n_high : n_high + n_elevated]:
        traits[i].tier = "elevated"
    for t in traits:
        t.grid.load += VISITS_PER_MONTH[t.tier]
    return traits


# --- step 3: agencies and workers ----------------------------------------------------------


def _street_elders(street: _Street) -> int:
    return sum(g.elders for c in street.communities for g in c.grids)


def _plan_agencies(rng: random.Random, plan: _Plan, people: _People) -> None:
    for county in plan.counties:
        brand = rng.choice(places.AGENCY_BRANDS)
        plan.agencies.append(
            _Agency(
                f"SW-{county.data.code}",
                f"{county.data.name}{brand}社会工作服务中心",
                people.phone(),  # a duty mobile: referrals reach it by SMS
                county.area,
                county.elders,
            )
        )
    # Warm Heart Homes: national ones in each city's most populous county, region-level
    # ones in the next most populous counties, each in that county's busiest street.
    by_population = sorted(plan.counties, key=lambda c: (-c.data.population, c.data.code))
    national: list[_County] = []
    for city in CITIES:
        national.append(next(c for c in by_population if c.data.city_code == city.code))
    national = national[:NATIONAL_HOMES]
    regional = [c for c in by_population if c not in national][:REGIONAL_HOMES]
    for county, level in [(c, "国家级") for c in national] + [(c, "自治区级") for c in regional]:
        street = max(county.streets, key=_street_elders)  # the first of equals
        served = _street_elders(street)
        plan.agencies.append(
            _Agency(
                f"WHH-{street.area.code}",
                f"{county.data.name}{street.area.name}暖心家园（{level}）",
                people.phone(),
                street.area,
                served,
            )
        )
        plan.homes += 1


def _plan_workforce(
    rng: random.Random, plan: _Plan, requested: int, people: _People, external_ids: Iterator[str]
) -> None:
    grids = plan.grids
    communities = [c for county in plan.counties for s in county.streets for c in s.communities]
    load = sum(g.load for g in grids)

    n_social = max(len(plan.agencies), round(requested * SOCIAL_WORKER_SHARE))
    n_staff = 1 + len(plan.cities) + len(plan.counties)
    visiting = max(0, requested - n_staff - n_social)
    n_volunteers = max(len(communities), round(visiting * VOLUNTEER_SHARE))
    # Enough grid workers that each carries its share without passing the capacity cap.
    n_grid_workers = max(
        visiting - n_volunteers,
        len(grids),
        math.ceil(CAPACITY_MARGIN * load / (GRID_WORKER_CAPACITY[1] - 5)),
    )

    def worker(role: str, areas: list[_Area], female: bool, **kw: Any) -> _Worker:
        elder_named = role == "volunteer" and rng.random() < 0.4  # retirees volunteer too
        w = _Worker(
            external_id=next(external_ids),
            name=people.elder_name(female) if elder_named else people.worker_name(female),
            phone=people.phone(),
            role=role,
            areas=areas,
            locale="en" if rng.random() < WORKER_EN_SHARE else "zh_CN",
            **kw,
        )
        plan.workers.append(w)
        return w

    worker("admin", [plan.root], rng.random() < 0.5)
    for city in plan.cities:
        worker("supervisor", [city], rng.random() < 0.5)
    for county in plan.counties:
        worker("supervisor", [county.area], rng.random() < 0.5)

    social_counts = [1] * len(plan.agencies)
    _fill(social_counts, [a.served + 1 for a in plan.agencies], n_social)
    for agency, count in zip(plan.agencies, social_counts, strict=True):
        for _ in range(count):
            lat, lon = _near(rng, agency.area.lat, agency.area.lon, 1.0)
            worker(
                "social_worker", [agency.area], rng.random() < 0.75, lat=lat, lon=lon, agency=agency
            )

    radius = {id(c): c.data.radius_km for c in plan.counties}
    per_grid = [1] * len(grids)
    _fill(per_grid, [g.load + 0.1 for g in grids], n_grid_workers)
    for grid, count in zip(grids, per_grid, strict=True):
        target = CAPACITY_MARGIN * grid.load / count
        for _ in range(count):
            lat, lon = _near(rng, grid.area.lat, grid.area.lon, 0.03 * radius[id(grid.county)])
            capacity = min(
                max(round(target * rng.uniform(1.0, 1.15)), GRID_WORKER_CAPACITY[0]),
                GRID_WORKER_CAPACITY[1],
            )
            grid.grid_workers.append(
                worker(
                    "grid_worker",
                    [grid.area],
                    rng.random() < 0.7,
                    lat=lat,
                    lon=lon,
                    capacity=capacity,
                )
            )

    per_community = [1] * len(communities)
    _fill(per_community, [sum(g.load for g in c.grids) + 0.1 for c in communities], n_volunteers)
    for community, count in zip(communities, per_community, strict=True):
        r = radius[id(community.street.county)]
        for _ in range(count):
            lat, lon = _near(rng, community.area.lat, community.area.lon, 0.08 * r)
            community.volunteers.append(
                worker(
                    "volunteer",
                    [community.area],
                    rng.random() < 0.55,
                    lat=lat,
                    lon=lon,
                    capacity=rng.randint(*VOLUNTEER_CAPACITY),
                )
            )


# --- writing -------------------------------------------------------------------------------


def _insert_ids(
    session: Session,
    model: type[Base],
    id_column: InstrumentedAttribute[int],
    rows: Sequence[dict[str, Any]],
) -> list[int]:
    """Bulk-insert `rows` and return their new ids in the same order."""
    ids: list[int] = []
    for chunk in _chunks(rows):
        stmt = insert(model).returning(id_column, sort_by_parameter_order=True)
        ids.extend(session.scalars(stmt, chunk).all())
    return ids


def _write_structure(session: Session, plan: _Plan, now: datetime) -> None:
    """Areas, agencies, workers and the links between them."""
    for level in AREA_LEVELS:
        areas = [a for a in plan.areas() if a.level == level]
        rows = [
            {
                "code": a.code,
                "name": a.name,
                "level": a.level,
                "parent_id": a.parent.id if a.parent else None,
                "path": "",
                "created_at": now,
            }
            for a in areas
        ]
        for area, new_id in zip(areas, _insert_ids(session, Area, Area.id, rows), strict=True):
            area.id = new_id
    rebuild_paths(session)

    agency_rows = [
        {"code": a.code, "name": a.name, "phone": a.phone, "active": True, "created_at": now}
        for a in plan.agencies
    ]
    for agency, new_id in zip(
        plan.agencies, _insert_ids(session, Agency, Agency.id, agency_rows), strict=True
    ):
        agency.id = new_id
    session.execute(
        insert(AgencyArea), [{"agency_id": a.id, "area_id": a.area.id} for a in plan.agencies]
    )

    worker_rows = [
        {
            "external_id": w.external_id,
            "name": w.name,
            "phone": w.phone,
            "role": w.role,
            "lat": w.lat,
            "lon": w.lon,
            "monthly_capacity": w.capacity,
            "locale": w.locale,
            "agency_id": w.agency.id if w.agency else None,
            "active": True,
            "sms_opted_out": False,
            "phone_flagged": False,
            "created_at": now,
            "updated_at": now,
        }
        for w in plan.workers
    ]
    for w, new_id in zip(
        plan.workers, _insert_ids(session, Worker, Worker.id, worker_rows), strict=True
    ):
        w.id = new_id
    links = [{"worker_id": w.id, "area_id": a.id} for w in plan.workers for a in w.areas]
    for chunk in _chunks(links):
        session.execute(insert(WorkerArea), chunk)


def _address(rng: random.Random, grid: _Grid) -> str:
    community = grid.community
    prefix = f"{grid.county.data.name}{community.street.area.name}{community.area.name}"
    if community.village:
        return f"{prefix}{rng.choice(places.NUMERALS)}组{rng.randint(1, 80)}号"
    # Most elders live in older walk-up blocks of six or seven floors.
    floors = 7 if rng.random() < 0.8 else 18
    return (
        f"{prefix}{rng.randint(1, 40)}号楼{rng.randint(1, 6)}单元"
        f"{rng.randint(1, floors)}{rng.randint(1, 4):02d}室"
    )


def _write_elders(
    session: Session,
    rng: random.Random,
    traits: list[_Traits],
    people: _People,
    today: date,
    now: datetime,
    progress: Callable[[int], None] | None,
) -> None:
    codes = _SeededCodes(rng)
    enrol_days = max(1, (today - ENROLMENT_START).days - 30)
    rows: list[dict[str, Any]] = []
    index_in_grid: Counter[int] = Counter()
    for number, t in enumerate(traits, start=1):
        grid = t.grid
        i = index_in_grid[id(grid)]
        index_in_grid[id(grid)] += 1
        # Two named contacts (双岗): a grid worker of the grid in turn, and another worker
        # of the grid or a volunteer of its community.
        primary = grid.grid_workers[i % len(grid.grid_workers)]
        others = [w for w in grid.grid_workers if w is not primary] + grid.community.volunteers
        secondary = rng.choice(others)
        has_phone = rng.random() < next(p for limit, p in PHONE_SHARE_BY_AGE if t.age < limit)
        lat, lon = _near(rng, grid.area.lat, grid.area.lon, 0.04 * grid.county.data.radius_km)
        rows.append(
            {
                "external_id": f"E{number:07d}",
                "code": codes.new(),
                "name": people.elder_name(t.female),
                "phone": people.phone() if has_phone else None,
                "birth_date": t.birth_date,
                "gender": "F" if t.female else "M",
                "address": _address(rng, grid),
                "lat": lat,
                "lon": lon,
                "grid_id": grid.area.id,
                "household": t.household,
                "disability": t.disability,
                "lives_alone": t.lives_alone,
                "risk_tier": t.tier,
                "locale": "en" if rng.random() < ELDER_EN_SHARE else "zh_CN",
                "primary_contact_id": primary.id,
                "secondary_contact_id": secondary.id,
                "sms_opted_out": False,
                "phone_flagged": False,
                "status": "active",
                "enrolled_on": ENROLMENT_START + timedelta(days=rng.randrange(enrol_days)),
                "created_at": now,
                "updated_at": now,
            }
        )
        if len(rows) == CHUNK:
            _insert_elders(session, rows, progress)
            rows = []
    if rows:
        _insert_elders(session, rows, progress)


def _insert_elders(
    session: Session, rows: list[dict[str, Any]], progress: Callable[[int], None] | None
) -> None:
    # COPY on PostgreSQL: psycopg's executemany sends one INSERT per row, which is what
    # would push 100k elders past half a minute.
    bulk_insert(session, Elder, rows)
    if progress is not None:
        progress(len(rows))


def _demo_workers(plan: _Plan) -> list[_Worker]:
    """Admin, a city supervisor, two county supervisors, a social worker, a grid worker and a
    volunteer, all in or over 兴庆区 except the second county's supervisor."""
    by_area: dict[tuple[str, str], _Worker] = {}
    for w in plan.workers:
        by_area.setdefault((w.role, w.areas[0].code), w)
    first = next(c for c in plan.counties if c.data.code == DEMO_COUNTIES[0])
    grid = first.streets[0].communities[0].grids[0]
    chosen = [
        by_area[("admin", REGION_CODE)],
        by_area[("supervisor", first.data.city_code)],
        *(by_area[("supervisor", code)] for code in DEMO_COUNTIES),
        next(w for w in plan.workers if w.role == "social_worker" and w.areas[0] is first.area),
        grid.grid_workers[0],
        grid.community.volunteers[0],
    ]
    return chosen


def _check_empty(session: Session) -> None:
    elders = session.scalar(select(func.count()).select_from(Elder)) or 0
    if elders:
        raise SeedError(
            f"the database already has {elders} elders; seeding needs an empty database"
            " (point TANFANG_DATABASE_URL at a new one)"
        )
    areas = session.scalar(select(func.count()).select_from(Area)) or 0
    agencies = session.scalar(select(func.count()).select_from(Agency)) or 0
    if areas or agencies:
        raise SeedError(
            f"the database already has {areas} areas and {agencies} agencies; seeding builds"
            " the whole tree and needs a database without them"
        )


def seed_region(
    session: Session,
    *,
    elders: int,
    workers: int,
    seed: int,
    pepper: bytes,
    demo_pin: str | None = None,
    progress: Callable[[int], None] | None = None,
    today: date | None = None,
) -> SeedSummary:
    """Fill an empty database with a synthetic Ningxia of `elders` elders and about `workers`
    workers, and flush (the caller commits).

    The same `seed` and `today` give the same data. `workers` is raised when it is too few
    for two contacts per elder or for the visits the elders need. `demo_pin` gives the few
    `demo_logins` that PIN. `progress(n)` is called after each `n` elders written.
    Raises SeedError when the database already holds elders, areas or agencies.
    """
    started = time.perf_counter()
    if elders < 0 or workers < 0:
        raise SeedError("elders and workers must not be negative")
    if demo_pin is not None and (problem := validate_pin(demo_pin)):
        raise SeedError(f"demo PIN: {problem}")
    _check_empty(session)
    today = today or date.today()
    now = datetime.now(UTC)

    # Existing logins (`tanfang user create` before a demo) keep their phones and ids.
    taken_phones = set(session.scalars(select(Worker.phone)))
    taken_ids = set(session.scalars(select(Worker.external_id)))
    external_ids = (f"W{n:06d}" for n in range(1, 10**7) if f"W{n:06d}" not in taken_ids)

    plan = _plan_tree(random.Random(f"{seed}/tree"), elders)
    traits = _draw_traits(random.Random(f"{seed}/elders"), plan, today)
    people = _People(random.Random(f"{seed}/people"), taken_phones)
    staff_rng = random.Random(f"{seed}/workers")
    _plan_agencies(staff_rng, plan, people)
    _plan_workforce(staff_rng, plan, workers, people, external_ids)

    _write_structure(session, plan, now)
    _write_elders(session, random.Random(f"{seed}/homes"), traits, people, today, now, progress)

    if demo_pin is not None:
        for w in _demo_workers(plan):
            worker = session.get(Worker, w.id)
            assert worker is not None
            set_pin(session, worker, demo_pin, pepper)
    session.flush()

    roles = Counter(w.role for w in plan.workers)
    return SeedSummary(
        areas={level: sum(1 for a in plan.areas() if a.level == level) for level in AREA_LEVELS},
        agencies=len(plan.agencies),
        warm_heart_homes=plan.homes,
        workers={role: roles[role] for role in ROLES},
        workers_requested=workers,
        elders=len(traits),
        required_visits=sum(g.load for g in plan.grids),
        visiting_capacity=sum(w.capacity for w in plan.workers if w.role in VISITING_ROLES),
        seconds=time.perf_counter() - started,
    )


def demo_logins(session: Session) -> list[tuple[str, str, str]]:
    """(role, phone, name) of the logins that have a PIN, admin first, at most ten."""
    rows = session.execute(
        select(Worker.role, Worker.phone, Worker.name, Worker.id)
        .join(Login, Login.worker_id == Worker.id)
        .where(Login.pin_hash.is_not(None), Worker.active.is_(True))
        .order_by(Worker.id)
    ).all()
    ordered = sorted(rows, key=lambda r: (ROLE_ORDER.get(r.role, len(ROLE_ORDER)), r.id))
    return [(r.role, r.phone, r.name) for r in ordered[:DEMO_LOGIN_LIMIT]]

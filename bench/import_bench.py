"""How long `tanfang import` takes at province size; prints figures, asserts nothing.

    python bench/import_bench.py [--elders 100000] [--workers 2000] [--database-url URL]

Without --database-url it runs on a fresh SQLite file in a temporary folder. With a
PostgreSQL URL, give it an empty database of its own: the bench creates the schema and leaves
its rows behind.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from server.db import make_engine, make_session_factory
from server.migrate import upgrade
from server.services.imports import ImportResult, import_csv

TODAY = date(2025, 6, 15)
HOUSEHOLDS = ["shidu", "失独", "shangcan", "living_alone", "left_behind", "other"]
PHONE_FORMS: list[Callable[[int], str]] = [
    lambda n: f"139{n:08d}",
    lambda n: f"139 {n // 10000:04d} {n % 10000:04d}",
    lambda n: f"+86-139-{n // 10000:04d}-{n % 10000:04d}",
    lambda n: f"0086 139{n:08d}",
    lambda n: "".join(chr(ord(c) + 0xFEE0) for c in f"139{n:08d}"),  # full-width digits
]


def region_files(workers: int) -> tuple[str, str, list[str], list[str]]:
    """Areas and workers files, the grid codes and the worker ids."""
    areas = [
        "code,name,parent_code,level",
        "640000,宁夏回族自治区,,region",
        "640100,银川市,640000,city",
    ]
    grids: list[str] = []
    for county in range(1, 5):
        c = f"6401{county:02d}"
        areas.append(f"{c},县区{county},640100,county")
        for street in range(1, 6):
            s = f"{c}{street:03d}"
            areas.append(f"{s},街道{street},{c},street")
            for community in range(1, 6):
                m = f"{s}{community:03d}"
                areas.append(f"{m},社区{community},{s},community")
                for grid in range(1, 6):
                    g = f"{m}{grid:03d}"
                    areas.append(f"{g},第{grid}网格,{m},grid")
                    grids.append(g)
    rows = ["external_id,name,phone,role,area_codes,lat,lon,monthly_capacity,locale,agency_code"]
    ids = []
    for n in range(workers):
        ids.append(f"GW-{n:05d}")
        rows.append(
            f"GW-{n:05d},网格员{n},138{n:08d},grid_worker,{grids[n % len(grids)]},"
            f"{38.4 + n % 100 / 1000:.4f},{106.2 + n % 97 / 1000:.4f},60,zh_CN,"
        )
    return "\r\n".join(areas) + "\r\n", "\r\n".join(rows) + "\r\n", grids, ids


def elders_file(count: int, grids: list[str], workers: list[str], tier: str | None = None) -> str:
    """An elders file of `count` rows in the forms Excel users produce."""
    rng = random.Random(7)
    rows = [
        "external_id,name,phone,birth_date,gender,address,lat,lon,grid_code,household,"
        "disability,lives_alone,risk_tier,locale,primary_contact,secondary_contact"
    ]
    for n in range(count):
        primary, secondary = rng.sample(workers, 2)
        born = f"{rng.randint(1930, 1965)}/{rng.randint(1, 12)}/{rng.randint(1, 28)}"
        risk_tier = rng.choice(["standard", "elevated", "high"])  # drawn always: same rows
        rows.append(
            f"E-{n:06d},老人{n},{PHONE_FORMS[n % 5](n) if n % 7 else ''},{born},"
            f"{rng.choice('男女MF')},兴庆区文化街{n}号,{38 + rng.random():.5f},"
            f"{106 + rng.random():.5f},{rng.choice(grids)},{rng.choice(HOUSEHOLDS)},none,"
            f"{rng.choice(['是', '否', 'yes', 'no'])},"
            f"{tier or risk_tier},,{primary},{secondary}"
        )
    return "\r\n".join(rows) + "\r\n"


def timed(sessions: sessionmaker[Session], kind: str, data: bytes, label: str) -> None:
    """Import `data` in one committed transaction and print how long it took."""
    started, cpu = time.perf_counter(), time.process_time()
    with sessions() as session:
        result: ImportResult = import_csv(session, kind, data, today=TODAY)
        checked = time.perf_counter()
        session.commit()
    done, cpu = time.perf_counter(), time.process_time() - cpu
    if result.problems:
        raise SystemExit(f"{label}: {result.problems[:5]}")
    print(
        f"{label:<32} {done - started:6.2f} s wall, {cpu:6.2f} s cpu here "
        f"({len(data) / 1e6:4.1f} MB; {result.created} created, {result.updated} updated, "
        f"{result.unchanged} unchanged; commit {done - checked:.2f} s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--elders", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=2_000)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = args.database_url or f"sqlite:///{Path(folder) / 'bench.db'}"
        engine = make_engine(url)
        upgrade(engine)
        sessions = make_session_factory(engine)
        print(f"database: {engine.url.render_as_string(hide_password=True)}")
        areas, workers, grids, worker_ids = region_files(args.workers)
        timed(sessions, "areas", areas.encode("gb18030"), f"areas ({len(grids)} grids)")
        timed(sessions, "workers", workers.encode("gb18030"), f"workers ({args.workers})")
        data = elders_file(args.elders, grids, worker_ids).encode("gb18030")
        timed(sessions, "elders", data, f"elders, new ({args.elders})")
        timed(sessions, "elders", data, "elders, same file again")
        changed = elders_file(args.elders, grids, worker_ids, tier="high").encode("gb18030")
        timed(sessions, "elders", changed, "elders, every risk tier changed")
        engine.dispose()


if __name__ == "__main__":
    main()

"""`tanfang plan` end to end (load, solve, persist) at 10k elders / 1k workers and at
100k / 5k, on PostgreSQL, beside the floor: a bulk insert of as many visit rows.

    python bench/plan_bench.py [--sizes 10000:1000,100000:5000] [--sqlite]

Each size gets a fresh database seeded with `tanfang seed`; the plan runs as the real
command in a child process, so its wall time and peak memory (max RSS) are the command's.
Prints the figures, the optimality gap (cost over the proven lower bound, at the chosen number
of candidates and at 1.5 times as many) and the unassigned count. The goal on a 2-core machine:
100k / 5k in under 20 s and 1 GB, gap under 0.5%, nobody unassigned when capacity suffices.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, insert, text  # noqa: E402

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
MONTH = "2027-01"


def fresh_database(name: str, sqlite_dir: Path | None) -> str:
    if sqlite_dir is not None:
        return f"sqlite:///{sqlite_dir / (name + '.db')}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"


def drop_database(name: str, sqlite_dir: Path | None) -> None:
    if sqlite_dir is not None:
        return
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


CHILD = """
import resource, sys
from server.cli import main
try:
    main(sys.argv[1:], standalone_mode=False)
finally:
    print("MAXRSS", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)
"""


def tanfang(url: str, *args: str) -> tuple[float, float, str]:
    """Run `tanfang ARGS` in a child; (wall seconds, the child's peak RSS in MB, stdout)."""
    env = {**os.environ, "TANFANG_DATABASE_URL": url, "TANFANG_SECRET_KEY": "bench"}
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", CHILD, *args],
        env=env, capture_output=True, text=True, check=True, cwd=ROOT,
    )
    wall = time.perf_counter() - started
    peak_kb = int(done.stderr.rsplit("MAXRSS", 1)[1].split()[0])
    return wall, peak_kb / 1024, done.stdout


def floor_insert(url: str, rows: int) -> float:
    """Seconds to bulk-insert `rows` visit-shaped rows into a scratch table."""
    from sqlalchemy import Column, Date, Float, Integer, MetaData, String, Table

    engine = create_engine(url)
    meta = MetaData()
    table = Table(
        "bench_floor_visits", meta,
        Column("id", Integer, primary_key=True), Column("elder_id", Integer),
        Column("month", String(7)), Column("seq", Integer), Column("worker_id", Integer),
        Column("due_date", Date), Column("distance_km", Float),
    )  # fmt: skip
    meta.drop_all(engine)
    meta.create_all(engine)
    import datetime as dt

    data = [
        {"elder_id": i, "month": MONTH, "seq": 1, "worker_id": i % 997,
         "due_date": dt.date(2027, 1, 1 + i % 28), "distance_km": 1.5}
        for i in range(rows)
    ]  # fmt: skip
    started = time.perf_counter()
    with engine.begin() as conn:
        for start in range(0, rows, 5000):
            conn.execute(insert(table), data[start : start + 5000])
    seconds = time.perf_counter() - started
    meta.drop_all(engine)
    engine.dispose()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10000:1000,100000:5000")
    parser.add_argument("--sqlite", action="store_true", help="SQLite files instead of PostgreSQL")
    args = parser.parse_args()
    sqlite_dir = Path(tempfile.mkdtemp()) if args.sqlite else None
    print(f"database: {'SQLite' if sqlite_dir else 'PostgreSQL'}; month {MONTH}")
    for size in args.sizes.split(","):
        elders, workers = (int(x) for x in size.split(":"))
        name = f"tanfang_bench_plan_{elders}"
        url = fresh_database(name, sqlite_dir)
        try:
            tanfang(url, "db", "upgrade")
            seed_s, _, _ = tanfang(url, "seed", "--elders", str(elders), "--workers", str(workers))
            wall, peak_mb, out = tanfang(url, "plan", "--month", MONTH, "--json")
            plan = json.loads(out)
            again_s, _, out2 = tanfang(url, "plan", "--month", MONTH, "--json")
            again = json.loads(out2)
            floor_s = floor_insert(url, plan["visits"])
            lb, lbw, cost = plan["lower_bound"], plan.get("lower_bound_wider"), plan["cost"]
            print(f"\n{elders:,} elders / {workers:,} workers (seeded in {seed_s:.1f} s)")
            print(f"  tanfang plan: {wall:.1f} s wall (load {plan['seconds']['load']:.1f} s,"
                  f" solve {plan['seconds']['solve']:.1f} s,"
                  f" persist {plan['seconds']['persist']:.1f} s), peak RSS {peak_mb:.0f} MB")
            print(f"  floor: bulk insert of {plan['visits']:,} visit rows {floor_s:.1f} s")
            print(f"  visits {plan['visits']:,}, unassigned {plan['unassigned']},"
                  f" by contact {plan['by_contact']}, mean {plan['mean_km']:.2f} km,"
                  f" max load {plan['max_load_ratio']:.0%}")
            print(f"  cost {cost:,}; lower bound {lb:,} (gap {(cost - lb) / lb:.3%});"
                  + (f" at 1.5x candidates {lbw:,} (gap {(cost - lbw) / lbw:.3%})"
                     if lbw else ""))
            print(f"  second run: {again_s:.1f} s, changes {again['changes']}")
        finally:
            drop_database(name, sqlite_dir)


if __name__ == "__main__":
    main()

"""How fast `tanfang seed` fills a database: 10k elders / 1k workers and 100k / 5k, on fresh
SQLite files and on a fresh PostgreSQL database (`tanfang_bench_seed`, created and dropped
here). Prints seconds (seeding plus commit, migrations excluded), rows per second and the
peak resident memory of the process that seeded.

    python bench/seed_bench.py
    python bench/seed_bench.py --sizes 100000:5000 --pg-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres
    python bench/seed_bench.py --no-pg

Each case runs in a child process of its own, so that its peak memory is its own.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url

from server.db import make_engine, make_session_factory, transaction
from server.migrate import upgrade
from server.services.seed import seed_region

BENCH_DATABASE = "tanfang_bench_seed"
DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def run_one(url: str, elders: int, workers: int) -> dict[str, float]:
    """Migrate `url`, then time one seeding and its commit (in this process)."""
    engine = make_engine(url)
    upgrade(engine)
    started = time.perf_counter()
    with transaction(make_session_factory(engine)) as session:
        summary = seed_region(session, elders=elders, workers=workers, seed=2025, pepper=b"bench")
    seconds = time.perf_counter() - started
    engine.dispose()
    # areas, agencies and their areas, workers and their areas, elders
    rows = summary.total_areas + 2 * summary.agencies + 2 * summary.total_workers + summary.elders
    return {
        "seconds": seconds,
        "rows": rows,
        "elders": summary.elders,
        "workers": summary.total_workers,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,  # KiB on Linux
    }


def in_child(url: str, elders: int, workers: int) -> dict[str, float]:
    """`run_one` in a fresh interpreter."""
    out = subprocess.run(
        [sys.executable, __file__, "--one", url, str(elders), str(workers)],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def report(backend: str, elders: int, workers: int, r: dict[str, float]) -> None:
    print(
        f"{backend:<10} {elders:>7,} / {workers:>5,}  {r['seconds']:6.1f} s"
        f"  {r['rows'] / r['seconds']:>9,.0f} rows/s  {r['elders'] / r['seconds']:>8,.0f} elders/s"
        f"  peak {r['peak_mb']:5.0f} MB",
        flush=True,
    )


def bench_sqlite(sizes: list[tuple[int, int]]) -> None:
    for elders, workers in sizes:
        with tempfile.TemporaryDirectory() as folder:
            url = f"sqlite:///{Path(folder) / 'bench.db'}"
            report("sqlite", elders, workers, in_child(url, elders, workers))


def bench_postgres(sizes: list[tuple[int, int]], admin_url: str) -> None:
    admin = make_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # any failure means: no server to bench
        print(f"postgresql skipped: cannot connect ({type(exc).__name__})")
        return
    url = make_url(admin_url).set(database=BENCH_DATABASE).render_as_string(hide_password=False)
    try:
        for elders, workers in sizes:
            with admin.connect() as conn:
                conn.execute(text(f"DROP DATABASE IF EXISTS {BENCH_DATABASE} WITH (FORCE)"))
                conn.execute(text(f"CREATE DATABASE {BENCH_DATABASE}"))
            report("postgresql", elders, workers, in_child(url, elders, workers))
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {BENCH_DATABASE} WITH (FORCE)"))
        admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000:1000,100000:5000", help="ELDERS:WORKERS,...")
    parser.add_argument("--pg-url", default=DEFAULT_PG_URL, help="a server's maintenance DB")
    parser.add_argument("--no-pg", action="store_true", help="SQLite only")
    parser.add_argument("--one", nargs=3, metavar=("URL", "ELDERS", "WORKERS"), help="internal")
    args = parser.parse_args()
    if args.one:
        url, elders, workers = args.one
        print(json.dumps(run_one(url, int(elders), int(workers))))
        return
    sizes = [(int(e), int(w)) for e, w in (s.split(":") for s in args.sizes.split(","))]
    print(f"{'backend':<10} {'elders':>7} / {'wkrs':>5}  {'time':>8}  {'rows/s':>16}  ...")
    bench_sqlite(sizes)
    if not args.no_pg:
        bench_postgres(sizes, args.pg_url)


if __name__ == "__main__":
    main()

"""Outbound SMS dispatch against the local Twilio double: does `tanfang sms dispatch` hold
TANFANG_SMS_RATE (goal: within 5%) without ever tripping the provider's rate limit (goal: no
429)?

    python bench/sms_dispatch_bench.py                       # SQLite and PostgreSQL, 1000 at 100/s
    python bench/sms_dispatch_bench.py --messages 3000 --rate 100 --burst 1   # a stricter limit
    python bench/sms_dispatch_bench.py --no-pg

The double runs in this process with a token-bucket limit of `--rate` per second and
`--burst` tokens (Twilio itself queues above an account's rate rather than refusing, so this
is stricter than the real thing). The dispatcher is the real command, `tanfang sms dispatch
--once`, in a child process, talking to the double through the Twilio SDK. The rate is
measured from the double's arrival times of the accepted messages: (n - 1) / (last - first).
PostgreSQL runs on a database of its own (`tanfang_bench_sms`, created and dropped here).
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # `python bench/...` from anywhere: the project's packages

from sqlalchemy import text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from server.db import make_engine, make_session_factory, transaction  # noqa: E402
from server.migrate import upgrade  # noqa: E402
from server.services.outbox import enqueue  # noqa: E402
from tests.support.twilio_double import ACCOUNT_SID, AUTH_TOKEN, TwilioDouble  # noqa: E402

BENCH_DATABASE = "tanfang_bench_sms"
DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def daytime_zone() -> str:
    """A fixed-offset zone in which it is about noon now, so no message waits for 08:00."""
    offset = (12 - datetime.now(UTC).hour + 12) % 24 - 12
    return f"Etc/GMT{-offset:+d}" if offset else "Etc/GMT"


def fill(url: str, messages: int) -> None:
    """Migrate `url` and queue `messages` reminders, each to its own number."""
    engine = make_engine(url)
    upgrade(engine)
    with transaction(make_session_factory(engine)) as session:
        for i in range(messages):
            enqueue(
                session,
                phone=f"+86137{i:08d}",
                template="worker_reminder",
                params={"elder_code": "AC3D4", "due": "2026-12-28"},
                locale="zh_CN" if i % 2 else "en",
            )
    engine.dispose()


def run_case(url: str, messages: int, rate: float, burst: int) -> dict[str, float]:
    """Queue, dispatch with the real command against a rate-limited double, measure."""
    fill(url, messages)
    with TwilioDouble(rate=rate, burst=burst) as double:
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "TANFANG_DATABASE_URL": url,
            "TANFANG_SECRET_KEY": "bench",
            "TANFANG_SMS_BACKEND": "twilio",
            "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
            "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
            "TANFANG_SMS_FROM": "+15005550006",
            "TANFANG_TWILIO_API_URL": double.url,
            "TANFANG_SMS_RATE": str(rate),
            "TANFANG_TIMEZONE": daytime_zone(),
        }
        started = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                "-c",
                "from server.cli import main; main()",
                "sms",
                "dispatch",
                "--once",
            ],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
        )
        wall = time.perf_counter() - started
        posts = double.posts
    accepted = sorted(r.at for r in posts if r.status == 201)
    gaps_ms = [(b - a) * 1000 for a, b in itertools.pairwise(accepted)]
    achieved = (len(accepted) - 1) / (accepted[-1] - accepted[0]) if len(accepted) > 1 else 0.0
    repeats = sum(n - 1 for n in Counter(r.to for r in posts if r.status == 201).values())
    return {
        "sent": len(accepted),
        "wall_s": wall,
        "achieved": achieved,
        "deviation_pct": (achieved - rate) / rate * 100,
        "too_many": sum(1 for r in posts if r.status == 429),
        "repeats": repeats,
        "gap_min_ms": min(gaps_ms, default=0.0),
        "gap_p50_ms": statistics.median(gaps_ms) if gaps_ms else 0.0,
        "gap_p99_ms": statistics.quantiles(gaps_ms, n=100)[98] if len(gaps_ms) > 1 else 0.0,
    }


def print_row(name: str, messages: int, rate: float, burst: int, r: dict[str, float]) -> None:
    print(
        f"{name:<11} {messages:>6} {rate:>6.0f}/s burst {burst}  sent {r['sent']:>5.0f}"
        f"  achieved {r['achieved']:7.2f}/s ({r['deviation_pct']:+5.2f}%)"
        f"  429s {r['too_many']:.0f}  repeats {r['repeats']:.0f}"
        f"  gap min/p50/p99 {r['gap_min_ms']:.2f}/{r['gap_p50_ms']:.2f}/{r['gap_p99_ms']:.2f} ms"
        f"  wall {r['wall_s']:.2f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--burst", type=int, default=2, help="the double's bucket size")
    parser.add_argument("--pg-url", default=DEFAULT_PG_URL, help="a PostgreSQL server URL")
    parser.add_argument("--no-pg", action="store_true")
    args = parser.parse_args()

    print(
        f"outbound dispatch: {args.messages} messages at TANFANG_SMS_RATE={args.rate:g}, "
        f"double limit {args.rate:g}/s with a burst of {args.burst}"
    )
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'bench.db'}"
        print_row(
            "sqlite",
            args.messages,
            args.rate,
            args.burst,
            run_case(url, args.messages, args.rate, args.burst),
        )
    if args.no_pg:
        return
    admin_url = make_url(args.pg_url).set(database="postgres")
    admin = make_engine(
        admin_url.render_as_string(hide_password=False), isolation_level="AUTOCOMMIT"
    )
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{BENCH_DATABASE}"'))
            conn.execute(text(f'CREATE DATABASE "{BENCH_DATABASE}"'))
    except Exception as exc:
        print(f"postgresql  skipped: {type(exc).__name__}")
        admin.dispose()
        return
    try:
        url = (
            make_url(args.pg_url).set(database=BENCH_DATABASE).render_as_string(hide_password=False)
        )
        print_row(
            "postgresql",
            args.messages,
            args.rate,
            args.burst,
            run_case(url, args.messages, args.rate, args.burst),
        )
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{BENCH_DATABASE}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()

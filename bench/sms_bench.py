"""Inbound SMS webhook throughput and latency under gunicorn on PostgreSQL, beside a bare
Flask endpoint doing one INSERT (the floor), measured in the same run with wrk.

    python bench/sms_bench.py [--seconds 8] [--rounds 7] [--connections 16] [--workers 2]

Needs PostgreSQL on 127.0.0.1:5432 (trust auth) and `wrk` (Debian package). Creates and drops
the database tanfang_bench_sms. The floor and the app are measured in alternate rounds (floor,
app, floor, app, ...) so that a noisy machine slows both alike; prints requests/s, p50 and
p99 of every round, the medians, and the median of the rounds' ratios (app / floor).
Every request is a distinct, correctly signed Twilio webhook (workers' LIST and DONE, elders'
digit replies and free text), so the deduplication shortcut is never what is measured.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, select, text  # noqa: E402
from twilio.request_validator import RequestValidator  # noqa: E402

DB = "tanfang_bench_sms"
ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
URL = f"postgresql+psycopg://postgres@127.0.0.1:5432/{DB}"
TOKEN = "bench-token"
PUBLIC = "https://tanfang.bench"

FLOOR_APP = textwrap.dedent(
    '''
    import os
    from flask import Flask, request
    from sqlalchemy import create_engine, text

    app = Flask(__name__)
    engine = create_engine(os.environ["TANFANG_DATABASE_URL"], pool_pre_ping=True)
    INSERT = text("INSERT INTO floor_messages (sid, sender, body) VALUES (:sid, :sender, :body)"
                  " ON CONFLICT (sid) DO NOTHING")

    @app.post("/sms/inbound")
    def inbound():
        with engine.begin() as conn:
            conn.execute(INSERT, {"sid": request.form.get("MessageSid"),
                                  "sender": request.form.get("From"),
                                  "body": request.form.get("Body")})
        return ('<?xml version="1.0" encoding="UTF-8"?><Response />', 200,
                {"Content-Type": "application/xml"})
    '''
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_up(port: int, path: str = "/healthz") -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2)
            return
        except urllib.error.HTTPError:
            return  # answering
        except OSError:
            time.sleep(0.3)
    raise SystemExit(f"server on port {port} did not start")


def lua_script(bodies: list[tuple[str, str]], path: Path) -> None:
    """A wrk script cycling through pre-signed requests."""
    lines = ["local reqs = {}"]
    # LuaJIT caps the constants of one function: load the requests in chunks of functions
    for start in range(0, len(bodies), 5000):
        lines.append("local function load()")
        for body, sig in bodies[start : start + 5000]:
            lines.append(f"reqs[#reqs+1] = {{[==[{body}]==], [==[{sig}]==]}}")
        lines.append("end")
        lines.append("load()")
    lines.append(
        textwrap.dedent(
            """
            local counter = 1
            function setup(thread)
              thread:set("id", counter)
              counter = counter + 1
            end
            function init(args)
              -- this round's slice of the distinct messages (args: first index, size);
              -- each thread sends its own half of it
              base = tonumber(args[1])
              size = tonumber(args[2])
              k = (id - 1) * math.floor(size / 2)
            end
            request = function()
              k = k % size + 1
              local r = reqs[base + k]
              return wrk.format("POST", "/sms/inbound", {
                ["Content-Type"] = "application/x-www-form-urlencoded",
                ["X-Twilio-Signature"] = r[2]}, r[1])
            end
            """
        )
    )
    path.write_text("\n".join(lines), encoding="utf-8")


def run_wrk(
    port: int, script: Path, seconds: int, connections: int, first: int, size: int
) -> tuple[float, str, str]:
    """One wrk run sending requests `first`+1 .. `first`+`size` of the script."""
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script),
         f"http://127.0.0.1:{port}", "--", str(first), str(size)],
        capture_output=True, text=True, check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = re.search(r"^\s+50%\s+(\S+)$", out, re.M).group(1)  # type: ignore[union-attr]
    p99 = re.search(r"^\s+99%\s+(\S+)$", out, re.M).group(1)  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise SystemExit(f"{errors.group(1)} requests failed; the figures would mean nothing")
    return rps, p50, p99


def _ms(value: str) -> float:
    """wrk's latency text (`812.00us`, `35.25ms`, `1.02s`) in milliseconds."""
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", value).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=8, help="per round")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--per-round", type=int, default=40_000,
        help="distinct signed bodies per round (more than a round can send: no repeats)",
    )
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed: apt-get install wrk")

    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{DB}"'))
    procs: list[subprocess.Popen[bytes]] = []
    try:
        from dataclasses import replace

        from server.config import Config
        from server.db import refresh_statistics, transaction
        from server.migrate import upgrade
        from server.models import Elder, Worker
        from server.runtime import Runtime
        from server.services.seed import seed_region

        rt = Runtime.build(replace(Config(), database_url=URL, secret_key="bench"))
        upgrade(rt.engine)
        with transaction(rt.sessions) as session:
            seed_region(session, elders=2000, workers=150, seed=7, pepper=b"bench")
            workers = session.scalars(
                select(Worker.phone).where(Worker.role == "grid_worker")
            ).all()
            elders = session.execute(
                select(Elder.phone, Elder.code).where(Elder.phone.is_not(None))
            ).all()
        # As `tanfang seed` does: the planner's statistics after the bulk load.
        refresh_statistics(rt.engine, "areas", "workers", "worker_areas", "elders")
        with rt.engine.begin() as conn:
            conn.execute(text(
                "CREATE TABLE floor_messages (id serial PRIMARY KEY, sid text UNIQUE, "
                "sender text, body text, created_at timestamptz DEFAULT now())"
            ))
        rt.dispose()

        rng = random.Random(1)
        validator = RequestValidator(TOKEN)
        bodies = []
        # Every round has its own slice of MessageSids; the floor and the app use the same one
        # (their tables are apart), so neither ever meets a MessageSid it has seen.
        for n in range(args.per_round * (args.rounds + 1)):
            kind = rng.random()
            if kind < 0.3:
                sender, body = rng.choice(workers), "任务"
            elif kind < 0.5:
                sender, body = rng.choice(workers), f"完成 {rng.choice(elders)[1]} 4"
            elif kind < 0.8:
                sender, body = rng.choice(elders)[0], rng.choice(["1", "１", "好的，1"])
            else:
                sender, body = rng.choice(elders)[0], "谢谢你们上次来看我，家里都好。"
            form = {"MessageSid": f"SMbench{n:026d}", "From": sender, "To": "+15005550006",
                    "Body": body}
            sig = validator.compute_signature(f"{PUBLIC}/sms/inbound", form)
            bodies.append((urlencode(form), sig))
        tmp = Path(tempfile.mkdtemp())
        script = tmp / "inbound.lua"
        lua_script(bodies, script)

        env = {**os.environ, "TANFANG_DATABASE_URL": URL, "TANFANG_SECRET_KEY": "bench",
               "TWILIO_AUTH_TOKEN": TOKEN, "TANFANG_PUBLIC_URL": PUBLIC}
        (tmp / "floor_app.py").write_text(FLOOR_APP, encoding="utf-8")
        app_port, floor_port = free_port(), free_port()
        gunicorn = [sys.executable, "-m", "gunicorn", "-w", str(args.workers), "-k", "gthread",
                    "--threads", "4", "--log-level", "warning"]
        from gunicorn.config import KNOWN_SETTINGS

        if any("--no-control-socket" in (setting.cli or ()) for setting in KNOWN_SETTINGS):
            # two servers at once: no shared control socket (~/.gunicorn/gunicorn.ctl)
            gunicorn.append("--no-control-socket")
        procs.append(subprocess.Popen(
            [*gunicorn, "-b", f"127.0.0.1:{app_port}", "server:create_app()"],
            cwd=ROOT, env=env))
        procs.append(subprocess.Popen(
            [*gunicorn, "-b", f"127.0.0.1:{floor_port}", "floor_app:app"], cwd=tmp, env=env))
        wait_up(app_port)
        wait_up(floor_port, "/sms/inbound")

        print(f"inbound webhook, {args.rounds} rounds of {args.seconds}s each, "
              f"{args.connections} connections, gunicorn {args.workers} workers x 4 threads, "
              "PostgreSQL")
        # Warm-up, not counted: pools filled, statements prepared, caches primed. Its
        # MessageSids come from the last slice, which the rounds then skip.
        warm = args.rounds * args.per_round
        run_wrk(floor_port, script, 3, args.connections, warm, args.per_round)
        run_wrk(app_port, script, 3, args.connections, warm, args.per_round)
        floors: list[tuple[float, str, str]] = []
        ours: list[tuple[float, str, str]] = []
        for round_no in range(1, args.rounds + 1):
            first = (round_no - 1) * args.per_round
            floor = run_wrk(floor_port, script, args.seconds, args.connections, first,
                            args.per_round)
            floors.append(floor)
            print(f"  round {round_no} floor (bare Flask, one INSERT): {floor[0]:8.1f} req/s"
                  f"  p50 {floor[1]:>8}  p99 {floor[2]:>8}")
            mine = run_wrk(app_port, script, args.seconds, args.connections, first,
                           args.per_round)
            ours.append(mine)
            print(f"  round {round_no} tanfang /sms/inbound:           {mine[0]:8.1f} req/s"
                  f"  p50 {mine[1]:>8}  p99 {mine[2]:>8}")
        floor_rps = statistics.median(r[0] for r in floors)
        our_rps = statistics.median(r[0] for r in ours)
        # Each round's app beside the floor measured just before it: the machine's speed
        # drifts (this one's varies by half within a minute), a neighbour's does not.
        ratios = [mine[0] / floor[0] for floor, mine in zip(floors, ours, strict=True)]
        p99s = sorted(_ms(r[2]) for r in ours)
        print(f"  median floor {floor_rps:.1f} req/s, median tanfang {our_rps:.1f} req/s; "
              f"tanfang p99 median {statistics.median(p99s):.1f} ms, worst {p99s[-1]:.1f} ms")
        print(f"  per-round ratios: {', '.join(f'{r:.0%}' for r in ratios)}")
        print(f"  ratio: {statistics.median(ratios):.0%} of the floor, median of the rounds "
              f"(goal >= 50%, p99 < 100 ms)")
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            proc.wait(20)
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()

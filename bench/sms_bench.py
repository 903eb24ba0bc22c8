"""Inbound SMS webhook throughput and latency under gunicorn on PostgreSQL, beside a bare
Flask endpoint doing one INSERT (the floor), measured in the same run with wrk.

    python bench/sms_bench.py [--seconds 15] [--connections 16] [--workers 2]

Needs PostgreSQL on 127.0.0.1:5432 (trust auth) and `wrk` (Debian package). Creates and drops
the database tanfang_bench_sms. Prints requests/s, p50 and p99 for both, and the ratio.
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
    for body, sig in bodies:
        lines.append(f"reqs[#reqs+1] = {{[==[{body}]==], [==[{sig}]==]}}")
    lines.append(
        textwrap.dedent(
            """
            local counter = 1
            function setup(thread)
              thread:set("id", counter)
              counter = counter + 1
            end
            function init(args)
              -- each thread sends its own share of the distinct messages
              i = (id - 1) * math.floor(#reqs / 2)
            end
            request = function()
              i = i % #reqs + 1
              local r = reqs[i]
              return wrk.format("POST", "/sms/inbound", {
                ["Content-Type"] = "application/x-www-form-urlencoded",
                ["X-Twilio-Signature"] = r[2]}, r[1])
            end
            """
        )
    )
    path.write_text("\n".join(lines), encoding="utf-8")


def run_wrk(port: int, script: Path, seconds: int, connections: int) -> tuple[float, str, str]:
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script),
         f"http://127.0.0.1:{port}"],
        capture_output=True, text=True, check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = re.search(r"^\s+50%\s+(\S+)$", out, re.M).group(1)  # type: ignore[union-attr]
    p99 = re.search(r"^\s+99%\s+(\S+)$", out, re.M).group(1)  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        print(f"  (non-2xx responses: {errors.group(1)})")
    return rps, p50, p99


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--requests", type=int, default=40_000, help="distinct signed bodies")
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
        for n in range(args.requests):
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
        procs.append(subprocess.Popen(
            [*gunicorn, "-b", f"127.0.0.1:{app_port}", "server:create_app()"],
            cwd=ROOT, env=env))
        procs.append(subprocess.Popen(
            [*gunicorn, "-b", f"127.0.0.1:{floor_port}", "floor_app:app"], cwd=tmp, env=env))
        wait_up(app_port)
        wait_up(floor_port, "/sms/inbound")

        print(f"inbound webhook, {args.seconds}s, {args.connections} connections, "
              f"gunicorn {args.workers} workers x 4 threads, PostgreSQL")
        floor = run_wrk(floor_port, script, args.seconds, args.connections)
        print(f"  floor (bare Flask, one INSERT): {floor[0]:8.1f} req/s  p50 {floor[1]}"
              f"  p99 {floor[2]}")
        with create_engine(URL).begin() as conn:
            conn.execute(text("TRUNCATE floor_messages"))
        ours = run_wrk(app_port, script, args.seconds, args.connections)
        print(f"  tanfang /sms/inbound:           {ours[0]:8.1f} req/s  p50 {ours[1]}"
              f"  p99 {ours[2]}")
        print(f"  ratio: {ours[0] / floor[0]:.0%} of the floor (goal >= 50%, p99 < 100 ms)")
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

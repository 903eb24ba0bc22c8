"""`tanfang serve` (production, gunicorn) and `tanfang demo` (everything in one process)."""

from __future__ import annotations

import secrets
import threading
from pathlib import Path
from typing import Any

import click
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from server.cli.base import load_config, main
from server.config import Config


@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int, help="gunicorn workers.")
@click.option(
    "--threads", default=4, show_default=True, type=int, help="Request threads per worker."
)
def serve(host: str, port: int, workers: int, threads: int) -> None:
    """Run the web app under gunicorn (the scheduler runs separately: `tanfang scheduler`).

    Threaded workers (gthread): a request waiting for the database or for Twilio leaves the
    worker free for another, so a few workers (one per core) keep the cores busy. The pool of
    database connections per worker (5, plus 10 overflow) covers the threads.
    """
    config = load_config()
    if not config.secret_key:
        raise click.UsageError("TANFANG_SECRET_KEY is required for serve")
    from gunicorn.app.base import BaseApplication

    from server.app import create_app, freeze_startup_objects

    class _Gunicorn(BaseApplication):
        def load_config(self) -> None:
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", workers)
            self.cfg.set("worker_class", "gthread")
            self.cfg.set("threads", threads)
            self.cfg.set("accesslog", "-")
            # query strings can carry personal data: log the path only
            self.cfg.set("access_log_format", '%(h)s "%(m)s %(U)s" %(s)s %(b)s %(M)sms')

        def load(self) -> Any:
            app = create_app(config)
            freeze_startup_objects()
            return app

    _Gunicorn().run()


def demo_config() -> Config:
    """The configuration for `demo`: a secret key kept under ./instance so logins survive."""
    from dataclasses import replace

    config = load_config()
    if config.secret_key:
        return config
    key_file = _instance_dir(config) / "demo-secret-key"
    key_file.parent.mkdir(parents=True, exist_ok=True)
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(32))
        key_file.chmod(0o600)
    return replace(config, secret_key=key_file.read_text().strip())


def _instance_dir(config: Config) -> Path:
    url = make_url(config.database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return Path(url.database).expanduser().resolve().parent
    return Path("instance").resolve()


DEMO_PIN = "123456"


@main.command("demo")
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--elders", default=300, show_default=True, help="Size of the demo region.")
def demo(port: int, host: str, elders: int) -> None:
    """Create or upgrade the database, seed a demo region if empty, and serve everything."""
    from werkzeug.serving import run_simple

    from scheduler.process import SchedulerProcess
    from scheduler.tasks import ensure_month_planned
    from server.app import create_app
    from server.db import transaction, utcnow
    from server.migrate import upgrade
    from server.models import Elder
    from server.runtime import runtime
    from server.services.seed import demo_logins, seed_region

    config = demo_config()
    app = create_app(config)
    rt = runtime(app)
    upgrade(rt.engine)
    with transaction(rt.sessions) as session:
        if not session.scalar(select(func.count()).select_from(Elder)):
            click.echo("seeding a demo region ...")
            seed_region(
                session,
                elders=elders,
                workers=max(elders // 20, 10),
                seed=2025,
                pepper=config.pepper,
                demo_pin=DEMO_PIN,
            )
        logins = demo_logins(session)
    click.echo("planning this month ...")
    ensure_month_planned(rt, utcnow())
    process = SchedulerProcess(rt, heartbeat=5.0)
    thread = threading.Thread(target=process.run_forever, name="scheduler", daemon=True)
    thread.start()
    url = f"http://{host}:{port}"
    click.echo(f"\nTanfang demo running at {url}")
    click.echo(f"  dashboard {url}/dashboard   worker app {url}/app/   cases {url}/cases")
    if config.sms_backend == "console":
        click.echo(f"  phone simulator {url}/phone  (act as a worker's or an elder's phone)")
    click.echo(f"demo logins (PIN {DEMO_PIN}):")
    for role, phone, name in logins:
        click.echo(f"  {role:<14} {phone}  {name}")
    try:
        run_simple(host, port, app, threaded=True, use_reloader=False)
    finally:
        process.stop()
        thread.join(timeout=10)

"""`tanfang db upgrade`."""

from __future__ import annotations

import click

from server.cli.base import main, open_runtime
from server.migrate import upgrade


@main.group("db")
def db_group() -> None:
    """Database schema management."""


@db_group.command("upgrade")
@click.option("--revision", default="head", show_default=True, help="Target revision.")
def db_upgrade(revision: str) -> None:
    """Apply the migrations (creates the database on first run)."""
    with open_runtime() as rt:
        upgrade(rt.engine, revision)
        click.echo(f"database at {revision}: {rt.engine.url.render_as_string(hide_password=True)}")

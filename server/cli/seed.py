"""`tanfang seed --elders N --workers M [--seed S]`: a synthetic Ningxia of that size."""

from __future__ import annotations

import sys
import time

import click
from sqlalchemy import inspect

from server.cli.base import EXIT_MISUSE, InvalidInput, load_config, main, open_runtime
from server.db import refresh_statistics, transaction
from server.services.seed import SeedError, seed_region

SEEDED_TABLES = ("areas", "agencies", "agency_areas", "workers", "worker_areas", "elders")


class _Misuse(click.ClickException):
    """Running a command in a state it cannot work in: exit status 2."""

    exit_code = EXIT_MISUSE


@main.command("seed")
@click.option("--elders", type=click.IntRange(min=1), required=True, help="Elders to create.")
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    required=True,
    help="Workers to create (raised if too few to give every elder two contacts).",
)
@click.option(
    "--seed",
    "seed_value",
    type=int,
    default=2025,
    show_default=True,
    help="Random seed: the same seed gives the same region.",
)
@click.option("--demo-pin", default=None, help="Give the demo logins this PIN (4-12 digits).")
def seed(elders: int, workers: int, seed_value: int, demo_pin: str | None) -> None:
    """Fill an empty, migrated database with a synthetic Ningxia (real area tree, made-up
    people). Run `tanfang db upgrade` first."""
    config = load_config()
    started = time.perf_counter()
    with open_runtime(config) as rt:
        if not inspect(rt.engine).has_table("elders"):
            raise _Misuse("the database has no schema yet: run `tanfang db upgrade` first")
        with (
            click.progressbar(length=elders, label="elders", file=sys.stderr) as bar,
            transaction(rt.sessions) as session,
        ):
            try:
                summary = seed_region(
                    session,
                    elders=elders,
                    workers=workers,
                    seed=seed_value,
                    pepper=config.pepper,
                    demo_pin=demo_pin,
                    progress=bar.update,
                )
            except SeedError as exc:
                raise InvalidInput(str(exc)) from exc
        refresh_statistics(rt.engine, *SEEDED_TABLES)
    seconds = time.perf_counter() - started

    a, w = summary.areas, summary.workers
    click.echo(f"seeded Ningxia (seed {seed_value}) in {seconds:.1f} s")
    click.echo(
        f"  areas    {summary.total_areas:>8,}  ({a['region']} region, {a['city']} cities,"
        f" {a['county']} counties, {a['street']:,} streets, {a['community']:,} communities,"
        f" {a['grid']:,} grids)"
    )
    click.echo(
        f"  agencies {summary.agencies:>8,}  ({summary.agencies - summary.warm_heart_homes}"
        f" social-work centres, {summary.warm_heart_homes} Warm Heart Homes)"
    )
    click.echo(
        f"  workers  {summary.total_workers:>8,}  ({w['grid_worker']:,} grid workers,"
        f" {w['volunteer']:,} volunteers, {w['social_worker']:,} social workers,"
        f" {w['supervisor']} supervisors, {w['admin']} admin)"
    )
    click.echo(
        f"  elders   {summary.elders:>8,}  ({summary.required_visits:,} visits a month;"
        f" visiting capacity {summary.visiting_capacity:,})"
    )
    if summary.total_workers > summary.workers_requested:
        click.echo(
            f"note: {summary.workers_requested:,} workers are too few for this region;"
            f" seeded {summary.total_workers:,} so that every elder has two contacts and"
            " every visit a worker"
        )

"""`tanfang import KIND FILE [--dry-run]`: load areas, agencies, workers or elders (SPEC 4)."""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path

import click
from sqlalchemy.exc import IntegrityError

from server.cli.base import InvalidInput, load_config, main, open_runtime, unit_of_work
from server.config import Config
from server.db import refresh_statistics
from server.services.imports import KINDS, ImportResult, import_csv

# What each kind of import writes (for the planner statistics refreshed after it).
IMPORTED_TABLES = {
    "areas": ("areas",),
    "agencies": ("agencies", "agency_areas"),
    "workers": ("workers", "worker_areas"),
    "elders": ("elders",),
}

log = logging.getLogger(__name__)


@main.command("import")
@click.argument("kind", type=click.Choice(KINDS))
@click.argument("file", type=click.Path(exists=True, dir_okay=False, readable=True))
@click.option("--dry-run", is_flag=True, help="Check the file and show the counts; write nothing.")
def import_command(kind: str, file: str, dry_run: bool) -> None:
    """Check a CSV FILE of KIND and upsert it in one transaction.

    KIND is areas, agencies, workers or elders; import them in that order. Any problem is
    printed as FILE:LINE: column: message, and then nothing is imported (exit status 1).
    """
    data = Path(file).read_bytes()
    config = load_config()
    today = datetime.now(config.tz).date()
    try:
        if dry_run:
            with open_runtime(config) as rt, rt.sessions() as session:
                result = import_csv(
                    session, kind, data, today=today, default_locale=config.locale, dry_run=True
                )
                session.rollback()
        else:
            with unit_of_work(config) as (_rt, session):
                result = import_csv(session, kind, data, today=today, default_locale=config.locale)
                if result.problems:
                    # Leaving the block by an exception rolls the transaction back; nothing
                    # was written anyway, since writing starts only after a clean check.
                    _report(file, result)
    except IntegrityError as exc:
        # Never echo the statement or its parameters: they carry names and phones.
        log.warning("import of %s refused by the database: %s", kind, type(exc.orig).__name__)
        raise InvalidInput(
            f"{file}: the database refused the import ({type(exc.orig).__name__}); nothing was "
            "imported. Was another import running at the same time? Run it again."
        ) from None
    _report(file, result)
    if not dry_run and (result.created or result.updated):
        with open_runtime(config) as rt:
            refresh_statistics(rt.engine, *IMPORTED_TABLES[kind])
    if not dry_run and kind in ("elders", "workers") and (result.created or result.updated):
        _replan(config)


def _replan(config: Config) -> None:
    """New elders are planned at once, and a worker's changed capacity or areas take effect
    at once, when this month has been planned already."""
    from scheduler.planning import replan_now
    from server.db import utcnow

    with unit_of_work(config) as (_rt, session):
        run = replan_now(session, config.tz, utcnow())
    if run is not None:
        changes = run.as_dict()["changes"]
        click.echo(
            f"this month re-planned: {changes['new']} new visits, {changes['moved']} moved,"
            f" {run.plan.summary.unassigned} unassigned"
        )


def _report(file: str, result: ImportResult) -> None:
    """Print notes and problems to stderr, the counts to stdout; exit 1 on any problem."""
    for note in result.notes:
        click.echo(note.format(file), err=True)
    if result.problems:
        for problem in result.problems:
            click.echo(problem.format(file), err=True)
        count = len(result.problems)
        raise InvalidInput(
            f"{file}: {count} problem{'s' if count != 1 else ''}; nothing was imported"
        )
    counts = f"{result.created} created, {result.updated} updated, {result.unchanged} unchanged"
    if result.dry_run:
        click.echo(f"dry run, nothing written: {result.kind} from {file} would be {counts}")
    else:
        click.echo(f"imported {result.kind} from {file}: {counts}")

"""`tanfang worker leave|deactivate|activate`: changes that move open visits at once."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import click
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from server.cli.base import InvalidInput, main, unit_of_work
from server.db import utcnow
from server.models import Elder, Worker, WorkerLeave
from server.services.auth import revoke_all_tokens

DATE = click.DateTime(["%Y-%m-%d"])


@main.group("worker")
def worker_group() -> None:
    """Leave and deactivation of workers; their open visits move at once."""


def _worker(session: Session, external_id: str) -> Worker:
    worker = session.scalar(select(Worker).where(Worker.external_id == external_id))
    if worker is None:
        raise InvalidInput(f"EXTERNAL_ID: no worker {external_id!r}")
    return worker


def _replan(session: Session, tz: ZoneInfo) -> None:
    from scheduler.planning import replan_now

    run = replan_now(session, tz, utcnow())
    if run is None:
        click.echo("this month is not planned yet; the next plan takes the change into account")
        return
    changes = run.as_dict()["changes"]
    click.echo(
        f"this month re-planned: {changes['moved']} visits moved,"
        f" {changes['unassigned']} left without a worker"
    )


def _contact_of(session: Session, worker_id: int) -> int:
    """How many active elders name this worker as a contact."""
    return int(
        session.scalar(
            select(func.count())
            .select_from(Elder)
            .where(
                Elder.status == "active",
                or_(Elder.primary_contact_id == worker_id, Elder.secondary_contact_id == worker_id),
            )
        )
        or 0
    )


@worker_group.command("leave")
@click.argument("external_id")
@click.option("--from", "starts", required=True, type=DATE, help="First day, YYYY-MM-DD.")
@click.option("--to", "ends", required=True, type=DATE, help="Last day, YYYY-MM-DD.")
@click.option("--reason", default=None)
def worker_leave(external_id: str, starts: datetime, ends: datetime, reason: str | None) -> None:
    """Record leave (inclusive local dates); visits due in it move to other workers."""
    first, last = starts.date(), ends.date()
    if last < first:
        raise InvalidInput("--to: the leave ends before it starts")
    with unit_of_work() as (rt, session):
        worker = _worker(session, external_id)
        session.add(WorkerLeave(worker_id=worker.id, starts_on=first, ends_on=last, reason=reason))
        session.flush()
        click.echo(f"{worker.external_id} on leave {first.isoformat()} to {last.isoformat()}")
        _replan(session, rt.config.tz)


@worker_group.command("deactivate")
@click.argument("external_id")
@click.option("--reason", required=True, help="Why (kept in the record).")
def worker_deactivate(external_id: str, reason: str) -> None:
    """Deactivate a worker: signed out everywhere, open visits moved at once."""
    with unit_of_work() as (rt, session):
        worker = _worker(session, external_id)
        worker.active = False
        worker.deactivated_at = utcnow()
        worker.deactivation_reason = reason[:200]
        revoke_all_tokens(session, worker.id)
        session.flush()
        click.echo(f"{worker.external_id} deactivated")
        named = _contact_of(session, worker.id)
        if named:
            # LESSONS: warn before an elder is left with one contact or none
            click.echo(
                f"warning: {worker.external_id} is a named contact of {named} elders;"
                " import new contacts for them",
                err=True,
            )
        _replan(session, rt.config.tz)


@worker_group.command("activate")
@click.argument("external_id")
def worker_activate(external_id: str) -> None:
    """Activate a worker again."""
    with unit_of_work() as (rt, session):
        worker = _worker(session, external_id)
        worker.active = True
        worker.deactivated_at = None
        worker.deactivation_reason = None
        session.flush()
        click.echo(f"{worker.external_id} active")
        _replan(session, rt.config.tz)

"""`tanfang plan` and `tanfang export visits`."""

from __future__ import annotations

import csv
import json
import sys
from typing import Any

import click
from sqlalchemy import select
from sqlalchemy.orm import aliased

from server.cli.base import main, open_runtime, unit_of_work
from server.db import refresh_statistics, transaction
from server.models import Elder, Visit, Worker
from server.services.months import current_month, local_today, parse_month

EXPORT_FIELDS = (
    "visit_id",
    "month",
    "elder_external_id",
    "elder_code",
    "worker_external_id",
    "due_date",
    "status",
    "done_at",
    "outcome",
    "channel",
)


def _month(value: str | None, tz: Any) -> str:
    if not value:
        return current_month(tz)
    try:
        return parse_month(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--month") from exc


@main.command("plan")
@click.option("--month", default=None, help="YYYY-MM (default: this month).")
@click.option("--dry-run", is_flag=True, help="Compute and report, change nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def plan_command(month: str | None, dry_run: bool, as_json: bool) -> None:
    """Create the month's visits; rerunning changes nothing that is already right."""
    from scheduler.planning import run_plan

    with open_runtime() as rt:
        tz = rt.config.tz
        month = _month(month, tz)
        with transaction(rt.sessions) as session:
            run = run_plan(session, month, local_today(tz), dry_run=dry_run)
            if dry_run:
                session.rollback()
        if not dry_run and run.as_dict()["changes"]["new"]:
            refresh_statistics(rt.engine, "visits", "visit_assignments")
    if as_json:
        click.echo(json.dumps(run.as_dict(), ensure_ascii=False, indent=2))
        return
    s = run.plan.summary
    changes = run.as_dict()["changes"]
    verb = "would change" if dry_run else "changed"
    click.echo(
        f"{month}: {s.elders} elders, {s.visits} visits, {s.unassigned} unassigned;"
        f" {verb}: {changes['new']} new, {changes['moved']} moved,"
        f" {changes['unassigned']} left without a worker, {changes['cancelled']} cancelled"
    )
    click.echo(
        f"by contact: primary {s.by_contact.get('primary', 0)},"
        f" secondary {s.by_contact.get('secondary', 0)}, other {s.by_contact.get('other', 0)};"
        f" mean {s.mean_km:.2f} km; max load {s.max_load_ratio:.0%};"
        f" cost {s.cost} (lower bound {s.lower_bound})"
    )
    for u in run.plan.unassigned[:20]:
        label = run.elder_label(u.elder_id)
        click.echo(f"unassigned: elder {label} visit {u.seq}: {u.detail}", err=True)
    if len(run.plan.unassigned) > 20:
        click.echo(f"... and {len(run.plan.unassigned) - 20} more unassigned", err=True)


@main.group("export")
def export_group() -> None:
    """Export data."""


@export_group.command("visits")
@click.option("--month", required=True, help="YYYY-MM")
@click.option(
    "--format", "fmt", type=click.Choice(["csv", "json"]), default="csv", show_default=True
)
def export_visits(month: str, fmt: str) -> None:
    """The month's visits to stdout, one per row or object."""
    with unit_of_work() as (rt, session):
        month = _month(month, rt.config.tz)
        tz = rt.config.tz
        holder = aliased(Worker)
        rows = session.execute(
            select(
                Visit.id,
                Visit.month,
                Elder.external_id,
                Elder.code,
                holder.external_id,
                Visit.due_date,
                Visit.status,
                Visit.done_at,
                Visit.outcome,
                Visit.channel,
            )
            .join(Elder, Elder.id == Visit.elder_id)
            .outerjoin(holder, holder.id == Visit.worker_id)
            .where(Visit.month == month)
            .order_by(Elder.external_id, Visit.kind, Visit.seq)
        ).all()
        records = [
            dict(
                zip(
                    EXPORT_FIELDS,
                    (
                        r[0],
                        r[1],
                        r[2],
                        r[3],
                        r[4],
                        r[5].isoformat(),
                        r[6],
                        r[7].astimezone(tz).isoformat() if r[7] else None,
                        r[8],
                        r[9],
                    ),
                    strict=True,
                )
            )
            for r in rows
        ]
    if fmt == "json":
        click.echo(json.dumps(records, ensure_ascii=False, indent=1))
        return
    writer = csv.DictWriter(sys.stdout, fieldnames=EXPORT_FIELDS, lineterminator="\n")
    writer.writeheader()
    for record in records:
        writer.writerow({k: "" if v is None else v for k, v in record.items()})

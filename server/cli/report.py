"""`tanfang report`: completion against the 100% monthly target (SPEC section 9)."""

from __future__ import annotations

import csv
import json
import sys

import click
from sqlalchemy import select

from server.cli.base import InvalidInput, main, open_runtime
from server.models import Area
from server.services.months import current_month, parse_month
from server.services.reports import Completion, completion


@main.command("report")
@click.option("--month", default=None, help="YYYY-MM (default: this month).")
@click.option("--area", "area_code", default=None, help="Area code (default: the root).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "json"]),
    default="table",
    show_default=True,
)
def report(month: str | None, area_code: str | None, fmt: str) -> None:
    """Elders visited against elders due, for an area and its child areas."""
    with open_runtime() as rt, rt.sessions() as session:
        try:
            month = parse_month(month) if month else current_month(rt.config.tz)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--month") from exc
        if area_code:
            area = session.scalar(select(Area).where(Area.code == area_code))
            if area is None:
                raise InvalidInput(f"--area: unknown area {area_code!r}")
        else:
            area = session.scalar(select(Area).where(Area.parent_id.is_(None)).order_by(Area.id))
            if area is None:
                raise InvalidInput("no areas yet: import areas first")
        result = completion(session, month, area)
    if fmt == "json":
        click.echo(json.dumps(result.as_dict(), ensure_ascii=False, indent=2))
    elif fmt == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(
            [
                "month",
                "area",
                "name",
                "level",
                "elders",
                "visited",
                "rate",
                "visits_required",
                "visits_done",
            ]
        )
        for row in [result, *result.children]:
            writer.writerow(
                [
                    row.month,
                    row.area,
                    row.name,
                    row.level,
                    row.elders,
                    row.visited,
                    f"{row.rate:.4f}",
                    row.visits_required,
                    row.visits_done,
                ]
            )
    else:
        _table(result)


def _table(result: Completion) -> None:
    rows = [result, *result.children]
    width = max(len(r.name) for r in rows) + 2
    click.echo(
        f"{'area':<12} {'name':<{width}} {'elders':>8} {'visited':>8} {'rate':>7} {'visits':>13}"
    )
    for r in rows:
        click.echo(
            f"{r.area:<12} {r.name:<{width}} {r.elders:>8} {r.visited:>8} {r.rate:>7.1%}"
            f" {r.visits_done:>6}/{r.visits_required:<6}"
        )

"""`tanfang plan` and `tanfang export visits` against a real database."""

from __future__ import annotations

import csv
import io
import json

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.models import Visit, VisitAssignment
from tests.conftest import Cli
from tests.factories import build_region

MONTH = "2026-12"


def _plan(cli: Cli, *args: str) -> dict[str, object]:
    result = cli("plan", "--month", MONTH, "--json", *args)
    assert result.exit_code == 0, result.output
    data: dict[str, object] = json.loads(result.stdout)
    return data


def test_plan_assigns_every_elder_to_their_primary_contact_and_is_idempotent(
    cli: Cli, session: Session
) -> None:
    region = build_region(session)
    region.counties["xq"].elders[0].risk_tier = "high"
    session.commit()
    first = _plan(cli)
    assert first["elders"] == 8
    assert first["visits"] == 7 + 4  # one high-tier elder owes four visits
    assert first["unassigned"] == 0
    assert first["by_contact"] == {"primary": 11, "secondary": 0, "other": 0}
    assert first["cost"] >= first["lower_bound"] > 0  # type: ignore[operator]
    again = _plan(cli)
    assert again["changes"] == {"new": 0, "moved": 0, "unassigned": 0, "cancelled": 0}

    exported = cli("export", "visits", "--month", MONTH, "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(exported.stdout)))
    assert len(rows) == 11
    primary_of = {
        e.external_id: e.primary_contact.external_id
        for c in region.counties.values()
        for e in c.elders
        if e.primary_contact
    }
    assert all(r["worker_external_id"] == primary_of[r["elder_external_id"]] for r in rows)
    assert {r["status"] for r in rows} == {"planned"}
    high = sorted(r["due_date"] for r in rows if r["elder_external_id"] == "E-xq-0-0")
    assert len(high) == 4 and len(set(high)) == 4  # about weekly, not all on one day


def test_deactivated_workers_open_visits_move_to_the_other_contact(
    cli: Cli, session: Session
) -> None:
    region = build_region(session)
    session.commit()
    _plan(cli)
    worker = region.counties["jf"].workers[0]
    done = session.scalars(select(Visit).where(Visit.worker_id == worker.id)).first()
    assert done is not None
    done.status = "done"
    worker.active = False
    session.commit()
    result = _plan(cli)
    assert result["changes"]["moved"] >= 1  # type: ignore[index]
    session.expire_all()
    held = session.scalars(select(Visit).where(Visit.worker_id == worker.id)).all()
    assert [v.id for v in held] == [done.id], "only the done visit stays with its worker"
    moved = session.scalars(
        select(VisitAssignment).where(
            VisitAssignment.previous_worker_id == worker.id,
            VisitAssignment.reason == "deactivated",
        )
    ).all()
    assert moved and all(m.worker_id == region.counties["jf"].workers[1].id for m in moved)


def test_dry_run_changes_nothing(cli: Cli, session: Session) -> None:
    build_region(session)
    session.commit()
    result = _plan(cli, "--dry-run")
    assert result["visits"] == 8 and result["dry_run"] is True
    assert session.scalars(select(Visit)).first() is None


def test_bad_month_is_misuse(cli: Cli) -> None:
    assert cli("plan", "--month", "2026-13").exit_code == 2
    assert cli("export", "visits", "--month", "12/2026").exit_code == 2


def test_unassigned_visits_name_the_elder_as_the_import_and_the_export_do(
    cli: Cli, session: Session
) -> None:
    region = build_region(session)
    for county in region.counties.values():
        for worker in county.workers:
            worker.monthly_capacity = 1
    region.counties["xq"].elders[0].risk_tier = "high"
    session.commit()
    result = _plan(cli)
    assert result["unassigned"] == 7  # 11 visits owed, room for 4
    listed = result["unassigned_visits"]
    assert isinstance(listed, list) and len(listed) == 7
    elders = {e.external_id: e.code for c in region.counties.values() for e in c.elders}
    for item in listed:
        assert elders[item["elder_external_id"]] == item["elder_code"]

    text = cli("plan", "--month", MONTH, "--dry-run")
    assert text.exit_code == 0, text.output
    lines = [line for line in text.stderr.splitlines() if line.startswith("unassigned:")]
    assert len(lines) == 7
    assert all("#" not in line and " E-" in line for line in lines), lines

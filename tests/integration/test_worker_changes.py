"""Changes that move work at once: a new elder mid-month, a worker deactivated or on leave."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server.config import Config
from server.models import Elder, Visit, VisitAssignment
from server.services.months import current_month, local_today
from tests.conftest import Cli
from tests.factories import build_region

TZ = Config().tz


def _open(session: Session, worker_id: int) -> int:
    session.expire_all()
    return int(
        session.scalar(
            select(func.count())
            .select_from(Visit)
            .where(
                Visit.worker_id == worker_id,
                Visit.status == "planned",
                Visit.month == current_month(TZ),
            )
        )
        or 0
    )


def test_deactivating_a_worker_moves_their_open_visits_at_once(cli: Cli, session: Session) -> None:
    region = build_region(session)
    session.commit()
    assert cli("plan").exit_code == 0
    leaving, other = region.counties["xq"].workers
    assert _open(session, leaving.id) == 2
    result = cli("worker", "deactivate", leaving.external_id, "--reason", "调离")
    assert result.exit_code == 0, result.output
    assert "2 visits moved" in result.stdout
    assert "named contact of 4 elders" in result.stderr
    assert _open(session, leaving.id) == 0 and _open(session, other.id) == 4
    reasons = session.scalars(
        select(VisitAssignment.reason).where(VisitAssignment.previous_worker_id == leaving.id)
    ).all()
    assert reasons == ["deactivated", "deactivated"]


def test_leave_moves_visits_due_in_it(cli: Cli, session: Session) -> None:
    region = build_region(session)
    session.commit()
    assert cli("plan").exit_code == 0
    worker = region.counties["jf"].workers[0]
    today = local_today(TZ)
    result = cli(
        "worker",
        "leave",
        worker.external_id,
        "--from",
        today.isoformat(),
        "--to",
        (today + timedelta(days=40)).isoformat(),
        "--reason",
        "住院",
    )
    assert result.exit_code == 0, result.output
    assert _open(session, worker.id) == 0
    bad = cli("worker", "leave", worker.external_id, "--from", "2026-12-10", "--to", "2026-12-01")
    assert bad.exit_code == 1
    assert (
        cli("worker", "leave", "NOBODY", "--from", "2026-12-01", "--to", "2026-12-02").exit_code
        == 1
    )


def test_a_new_elder_imported_mid_month_is_planned_at_once(
    cli: Cli, session: Session, tmp_path: Path
) -> None:
    region = build_region(session)
    session.commit()
    assert cli("plan").exit_code == 0
    county = region.counties["xq"]
    csv = tmp_path / "elders.csv"
    csv.write_text(
        "external_id,name,phone,birth_date,gender,address,lat,lon,grid_code,household,"
        "disability,lives_alone,risk_tier,locale,primary_contact,secondary_contact\n"
        f"E-new-1,王桂兰,13951007777,1948-05-02,女,兴庆区文化街3号,38.471,106.291,"
        f"{county.grids[0].code},shidu,none,是,elevated,zh_CN,"
        f"{county.workers[0].external_id},{county.workers[1].external_id}\n",
        encoding="utf-8",
    )
    result = cli("import", "elders", str(csv))
    assert result.exit_code == 0, result.output
    assert "re-planned: 2 new visits" in result.stdout
    elder = session.scalar(select(Elder).where(Elder.external_id == "E-new-1"))
    assert elder is not None
    visits = session.scalars(select(Visit).where(Visit.elder_id == elder.id)).all()
    assert len(visits) == 2 and {v.worker_id for v in visits} == {county.workers[0].id}

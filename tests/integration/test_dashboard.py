"""The supervisor's dashboard names what needs attention in their own area: the overdue visits
(oldest first) and this month's check-ins made far from the elder's home."""

from __future__ import annotations

from datetime import date, timedelta
from zoneinfo import ZoneInfo

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from server.db import utcnow
from server.i18n import mask_name
from server.models import CheckIn
from server.services.months import current_month
from tests.factories import PIN, build_region, make_visit
from tests.helpers import page_login

TZ = ZoneInfo("Asia/Shanghai")


def test_overdue_visits_and_far_check_ins_are_listed_for_the_supervisor_of_the_area(
    client: FlaskClient, session: Session
) -> None:
    region = build_region(session)
    xq, jf = region.counties["xq"], region.counties["jf"]
    month = current_month(TZ)
    year, mon = (int(p) for p in month.split("-"))
    late_elder, far_elder, calm_elder = xq.elders[:3]
    foreign_elder = jf.elders[0]

    overdue = make_visit(session, late_elder, xq.workers[0], month)
    # Last month's last day: overdue whatever today's date (the month-end job has not run).
    overdue.due_date = date(year, mon, 1) - timedelta(days=1)
    overdue.month = f"{overdue.due_date:%Y-%m}"
    foreign = make_visit(session, foreign_elder, jf.workers[0], month)
    foreign.due_date = overdue.due_date
    foreign.month = overdue.month
    far_visit = make_visit(session, far_elder, xq.workers[1], month, status="done")
    near_visit = make_visit(session, calm_elder, xq.workers[0], month, status="done")
    for visit, distance, client_id in ((far_visit, 742.0, "far-1"), (near_visit, 40.0, "near-1")):
        session.add(
            CheckIn(
                client_id=client_id,
                visit_id=visit.id,
                worker_id=visit.worker_id,
                channel="pwa",
                occurred_at=utcnow(),
                month=month,
                outcome="seen",
                distance_m=distance,
                far_from_home=distance > 300,
            )
        )
    session.commit()

    page_login(client, xq.supervisor.phone, PIN)
    html = client.get(f"/dashboard?month={overdue.month}").get_data(as_text=True)
    assert late_elder.code in html  # the overdue visit, with who holds it
    assert xq.workers[0].name in html
    assert foreign_elder.code not in html  # another county's overdue visit
    assert mask_name(late_elder.name) in html or late_elder.name in html

    html = client.get(f"/dashboard?month={month}").get_data(as_text=True)
    assert "742" in html and far_elder.code in html  # flagged: more than 300 m away
    assert "远离住址" in html
    assert calm_elder.code not in html.split("远离住址", 1)[1]  # 40 m: not flagged

    # The other county's supervisor sees neither.
    other = client.application.test_client()
    page_login(other, jf.supervisor.phone, PIN)
    html = other.get(f"/dashboard?month={month}").get_data(as_text=True)
    assert far_elder.code not in html and late_elder.code not in html

"""Pages for people: login, dashboard, elders, workers (cases: `cases_pages`)."""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload
from werkzeug.wrappers import Response

from server.blueprints.api.errors import ApiError
from server.blueprints.api.reports import report_area
from server.models import Case, CheckIn, Elder, Visit, Worker
from server.runtime import config, db_session
from server.security import (
    current_scope,
    end_page_session,
    page_login_required,
    safe_next,
    start_page_session,
)
from server.services import auth
from server.services.audit import record
from server.services.months import current_month, local_today, parse_month
from server.services.phones import PhoneError, normalize_phone
from server.services.reports import completion
from server.services.scope import (
    case_condition,
    elder_condition,
    served_elder_ids,
    visit_condition,
    worker_condition,
)
from server.vocab import CASE_PRIORITIES

bp = Blueprint("web", __name__)

PAGE_SIZE = 100


@bp.get("/")
def index() -> Response:
    """Home: the dashboard when signed in, else the login page."""
    return redirect(url_for("web.dashboard" if g.get("user") else "web.login"))


@bp.route("/login", methods=["GET", "POST"])
def login() -> str | Response | tuple[str, int]:
    """Phone + PIN sign-in for pages."""
    next_url = safe_next(request.values.get("next"))
    if request.method == "GET":
        return render_template("login.html", next=next_url)
    session = db_session()
    try:
        phone = normalize_phone(request.form.get("phone", ""))
        cfg = config()
        worker = auth.authenticate_pin(
            session,
            phone,
            request.form.get("pin", "").strip(),
            cfg.pepper,
            auth.LoginPolicy(cfg.max_failed_logins, timedelta(minutes=cfg.lockout_minutes)),
        )
    except (PhoneError, auth.AuthError) as exc:
        session.commit()  # keep the failure count
        locked = isinstance(exc, auth.AuthError) and exc.code == "locked"
        message = (
            _("Too many failed attempts. Try again later.")
            if locked
            else _("The phone number or PIN is wrong.")
        )
        return render_template("login.html", next=next_url, error=message), 429 if locked else 401
    start_page_session(worker)
    record(session, worker.id, "login", "worker", worker.id, {"channel": "web"})
    session.commit()
    return redirect(next_url or url_for("web.dashboard"))


@bp.post("/logout")
def logout() -> Response:
    """End the page session (the server-side token is revoked)."""
    end_page_session()
    db_session().commit()
    flash(_("You have signed out."))
    return redirect(url_for("web.login"))


@bp.get("/dashboard")
@page_login_required()
def dashboard() -> str:
    """Completion against the 100% target, overdue visits and open cases in one's area."""
    scope = current_scope()
    session = db_session()
    tz = config().tz
    try:
        month = parse_month(request.args.get("month") or current_month(tz))
    except ValueError:
        abort(400)
    today = local_today(tz)
    report = None
    if scope.is_admin or scope.is_supervisor:
        try:
            area = report_area(scope, request.args.get("area"))
        except ApiError:
            abort(404)
        report = completion(session, month, area)
    overdue = session.scalar(
        select(func.count())
        .select_from(Visit)
        .where(
            visit_condition(scope),
            Visit.month == month,
            Visit.status == "planned",
            Visit.due_date < today,
        )
    )
    open_cases = session.execute(
        select(Case.priority, func.count())
        .where(case_condition(scope), Case.status != "resolved")
        .group_by(Case.priority)
    ).all()
    late: list[Visit] = []
    far: list[CheckIn] = []
    if scope.is_admin or scope.is_supervisor:
        # What the supervisor acts on: who holds each overdue visit (oldest first), and the
        # check-ins made more than FAR_FROM_HOME_M from the elder's home.
        late = list(
            session.scalars(
                select(Visit)
                .where(
                    visit_condition(scope),
                    Visit.month == month,
                    Visit.status == "planned",
                    Visit.due_date < today,
                )
                .options(selectinload(Visit.elder), selectinload(Visit.worker))
                .order_by(Visit.due_date, Visit.id)
                .limit(PAGE_SIZE)
            )
        )
        far = list(
            session.scalars(
                select(CheckIn)
                .join(Visit, Visit.id == CheckIn.visit_id)
                .where(visit_condition(scope), CheckIn.month == month, CheckIn.far_from_home)
                .options(
                    selectinload(CheckIn.visit).selectinload(Visit.elder),
                    selectinload(CheckIn.worker),
                )
                .order_by(CheckIn.occurred_at.desc(), CheckIn.id.desc())
                .limit(PAGE_SIZE)
            )
        )
    served = served_elder_ids(
        session, scope, [v.elder_id for v in late] + [c.visit.elder_id for c in far]
    )
    my_visits = session.scalars(
        select(Visit)
        .where(visit_condition(scope), Visit.worker_id == scope.worker_id, Visit.month == month)
        .options(selectinload(Visit.elder))
        .order_by(Visit.status != "planned", Visit.due_date)
        .limit(PAGE_SIZE)
    ).all()
    return render_template(
        "dashboard.html",
        month=month,
        report=report,
        overdue=overdue or 0,
        open_cases={p: n for p, n in open_cases},
        priorities=CASE_PRIORITIES,
        my_visits=my_visits,
        late=late,
        far=far,
        served=served,
        today=today,
    )


@bp.get("/elders")
@page_login_required()
def elders() -> str:
    """Elders in one's scope; names and phones masked except for their own contacts."""
    scope = current_scope()
    rows = (
        db_session()
        .scalars(
            select(Elder)
            .where(elder_condition(scope), Elder.status == "active")
            .options(selectinload(Elder.grid), selectinload(Elder.primary_contact))
            .order_by(Elder.id)
            .limit(PAGE_SIZE)
        )
        .all()
    )
    served = served_elder_ids(db_session(), scope, [e.id for e in rows])
    return render_template("elders.html", elders=rows, served=served)


@bp.get("/workers")
@page_login_required("supervisor", "admin")
def workers() -> str:
    """Workers serving one's areas, with this month's load."""
    scope = current_scope()
    session = db_session()
    month = current_month(config().tz)
    rows = session.scalars(
        select(Worker)
        .where(worker_condition(scope))
        .options(selectinload(Worker.areas))
        .order_by(Worker.role, Worker.external_id)
        .limit(PAGE_SIZE)
    ).all()
    loads: dict[int | None, int] = {
        worker_id: count
        for worker_id, count in session.execute(
            select(Visit.worker_id, func.count())
            .where(
                Visit.month == month,
                Visit.status != "cancelled",
                Visit.worker_id.in_([w.id for w in rows]),
            )
            .group_by(Visit.worker_id)
        ).all()
    }
    return render_template("workers.html", workers=rows, loads=loads, month=month)

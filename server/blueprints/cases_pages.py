"""Pages for working cases: the list by priority and age, one case with the elder's recent
visits, messages and timeline, and the forms to acknowledge, note, reassign and resolve."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from babel.lists import format_list
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import LazyString, format_date, format_timedelta, get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from werkzeug.wrappers import Response

from server.blueprints.api.cases import PRIORITY_ORDER
from server.db import utcnow
from server.models import Agency, Case, CaseEvent, SmsMessage, Visit, Worker
from server.runtime import config, db_session
from server.security import current_scope, current_user, page_login_required
from server.services import cases as case_service
from server.services.audit import record
from server.services.months import local_today
from server.services.scope import case_condition, served_elder_ids, visible_case, visible_elder
from server.vocab import CASE_KINDS, CASE_STATUSES

bp = Blueprint("cases", __name__)

PAGE_SIZE = 100
RECENT_MONTHS = 3
RECENT_MESSAGES = 30
NOTE_MAX = 4000

# What each line of a case's timeline says happened.
EVENT_LABELS: dict[str, LazyString] = {
    "opened": _l("Case opened"),
    "signal": _l("New signal"),
    "notified": _l("People notified"),
    "acknowledged": _l("Acknowledged"),
    "note": _l("Note"),
    "reassigned": _l("Reassigned"),
    "escalated": _l("Escalated"),
    "resolved": _l("Resolved"),
    "follow_up": _l("Follow-up visit planned"),
}

TRIGGER_LABELS: dict[str, LazyString] = {
    "checkin": _l("Visit check-in"),
    "elder_reply": _l("Elder's SMS"),
    "worker_help": _l("Worker's HELP message"),
    "visit_missed": _l("Visits missed"),
    "no_reply": _l("No reply to wellness checks"),
    "delivery_failed": _l("SMS not delivered"),
    "month_end": _l("Not visited by month end"),
}

RELATION_LABELS: dict[str, LazyString] = {
    "agency_staff": _l("agency staff"),
    "primary_contact": _l("primary contact"),
    "secondary_contact": _l("secondary contact"),
    "supervisor": _l("supervisor"),
    "owner": _l("new owner"),
    "agency": _l("agency duty phone"),
}

# Automated messages are named, never shown: their bodies stay out of the page.
TEMPLATE_LABELS: dict[str, LazyString] = {
    "elder_wellness_check": _l("Wellness check"),
    "elder_rating_request": _l("Request to rate a visit"),
    "elder_rating_thanks": _l("Thanks for the rating"),
    "elder_ack": _l("Acknowledgement"),
    "elder_help_ack": _l("Help is on the way"),
    "elder_talk_ack": _l("A social worker will call"),
    "elder_optout_confirm": _l("Messages stopped"),
    "elder_optin_confirm": _l("Messages resumed"),
    "elder_crisis_reply": _l("Crisis hotline reply"),
    "unknown_sender_reply": _l("Reply to an unknown number"),
}

SMS_STATUS_LABELS: dict[str, LazyString] = {
    "queued": _l("Waiting to send"),
    "held": _l("Waiting to send"),
    "accepted": _l("Sending"),
    "scheduled": _l("Sending"),
    "sending": _l("Sending"),
    "sent": _l("Sent"),
    "delivered": _l("Delivered"),
    "undelivered": _l("Not delivered"),
    "failed": _l("Not delivered"),
    "received": _l("Received"),
    "canceled": _l("Cancelled"),
}


def _named(labels: dict[str, LazyString], value: str | None) -> str:
    """The translated name of `value` in `labels`, else the value itself."""
    if value is None:
        return ""
    found = labels.get(value)
    return str(found) if found is not None else value


@bp.app_context_processor
def _case_labels() -> dict[str, Any]:
    return {
        "format_timedelta": format_timedelta,
        "event_label": lambda v: _named(EVENT_LABELS, v),
        "trigger_label": lambda v: _named(TRIGGER_LABELS, v),
        "relation_label": lambda v: _named(RELATION_LABELS, v),
        "template_label": lambda v: _named(TEMPLATE_LABELS, v),
        "sms_status_label": lambda v: _named(SMS_STATUS_LABELS, v),
    }


# --------------------------------------------------------------------------- the list


@bp.get("/cases")
@page_login_required()
def list_cases() -> str:
    """Cases in one's scope, most urgent and oldest first; open and acknowledged by default."""
    scope = current_scope()
    session = db_session()
    status = request.args.get("status") or ""
    kind = request.args.get("kind") or ""
    status = status if status in CASE_STATUSES else ""
    kind = kind if kind in CASE_KINDS else ""
    query = select(Case).where(case_condition(scope))
    # No status chosen: the cases still to work on (open and acknowledged).
    query = query.where(Case.status == status if status else Case.status != "resolved")
    if kind:
        query = query.where(Case.kind == kind)
    if status == "resolved":
        query = query.order_by(Case.resolved_at.desc(), Case.id.desc())
    else:
        query = query.order_by(PRIORITY_ORDER, Case.created_at, Case.id)
    rows = session.scalars(
        query.options(
            selectinload(Case.elder), selectinload(Case.agency), selectinload(Case.owner)
        ).limit(PAGE_SIZE)
    ).all()
    served = served_elder_ids(session, scope, (c.elder_id for c in rows))
    return render_template(
        "cases.html",
        cases=rows,
        served=served,
        now=utcnow(),
        status=status,
        kind=kind,
        statuses=CASE_STATUSES,
        kinds=CASE_KINDS,
    )


# --------------------------------------------------------------------------- one case


def _visible(case_id: int) -> Case:
    """The case if the signed-in person may see it; 404 otherwise (ids cannot be probed)."""
    found = visible_case(db_session(), current_scope(), case_id)
    if found is None:
        abort(404)
    return found


def _recent_start(today: date) -> date:
    """The first day of the month RECENT_MONTHS - 1 months before `today`'s."""
    months = today.year * 12 + today.month - 1 - (RECENT_MONTHS - 1)
    return date(months // 12, months % 12 + 1, 1)


def _render_case(
    case: Case,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> tuple[str, int]:
    """The case page; the elder's details are shown to those who may see them, audited."""
    scope = current_scope()
    session = db_session()
    tz = config().tz
    elder = visible_elder(session, scope, case.elder_id)
    visits: list[Visit] = []
    messages: list[SmsMessage] = []
    if elder is not None:
        record(
            session,
            scope.worker_id,
            "read_elder",
            "elder",
            elder.id,
            {"via": "case", "case": case.id},
        )
        start = _recent_start(local_today(tz))
        visits = list(
            session.scalars(
                select(Visit)
                .where(Visit.elder_id == elder.id, Visit.month >= start.strftime("%Y-%m"))
                .options(selectinload(Visit.worker))
                .order_by(Visit.month.desc(), Visit.due_date.desc(), Visit.id.desc())
            )
        )
        since = datetime(start.year, start.month, start.day, tzinfo=tz)
        messages = list(
            session.scalars(
                select(SmsMessage)
                .where(SmsMessage.elder_id == elder.id, SmsMessage.created_at >= since)
                .order_by(SmsMessage.created_at.desc(), SmsMessage.id.desc())
                .limit(RECENT_MESSAGES)
            )
        )
    candidates = (
        [] if case.status == "resolved" else case_service.reassign_candidates(session, case)
    )
    html = render_template(
        "case.html",
        case=case,
        elder=elder,
        visits=visits,
        messages=messages,
        events=case.events,
        details=_event_details(case.events),
        candidates=candidates,
        resolved_by=session.get(Worker, case.resolved_by_id) if case.resolved_by_id else None,
        acknowledged_by=(
            session.get(Worker, case.acknowledged_by_id) if case.acknowledged_by_id else None
        ),
        now=utcnow(),
        errors=errors or {},
        values=values or {},
    )
    session.commit()  # the audit entry of the read
    return html, status


def _event_details(events: list[CaseEvent]) -> dict[int, str]:
    """What the timeline's data says beyond the event's kind: who was told, from whom to whom
    a case moved. Names are looked up once for the whole timeline."""
    worker_ids: set[int] = set()
    agency_ids: set[int] = set()
    for event in events:
        data = event.data or {}
        for key in ("from", "to"):
            if isinstance(data.get(key), int):
                worker_ids.add(data[key])
        for who in _told(data):
            if isinstance(who.get("worker_id"), int):
                worker_ids.add(who["worker_id"])
            if isinstance(who.get("agency_id"), int):
                agency_ids.add(who["agency_id"])
    session = db_session()
    # Keyed by whatever the stored data holds, so a missing or odd id just finds nothing.
    people: dict[Any, str] = {
        w.id: w.name for w in session.scalars(select(Worker).where(Worker.id.in_(worker_ids)))
    }
    agencies: dict[Any, str] = {
        a.id: a.name for a in session.scalars(select(Agency).where(Agency.id.in_(agency_ids)))
    }
    locale = get_locale()
    details: dict[int, str] = {}
    for event in events:
        data = event.data or {}
        if event.kind == "reassigned":
            new = people.get(data.get("to"), "—")
            old = people.get(data.get("from"))
            details[event.id] = (
                _("from %(old)s to %(new)s", old=old, new=new) if old else _("to %(new)s", new=new)
            )
        elif event.kind == "follow_up" and isinstance(data.get("due"), str):
            try:
                due = date.fromisoformat(data["due"])
            except ValueError:
                continue
            details[event.id] = _("due %(date)s", date=format_date(due))
        elif told := _told(data):
            names = []
            for who in told:
                name = people.get(who.get("worker_id")) or agencies.get(who.get("agency_id"))
                relation = _named(RELATION_LABELS, who.get("to"))
                names.append(
                    _("%(name)s (%(relation)s)", name=name or "—", relation=relation)
                    if relation
                    else name or "—"
                )
            details[event.id] = format_list(names, locale=locale or "en")
    return details


def _told(data: dict[str, Any]) -> list[dict[str, Any]]:
    """The people a notification or escalation event says were told."""
    told = data.get("to")
    return [w for w in told if isinstance(w, dict)] if isinstance(told, list) else []


@bp.get("/cases/<int:case_id>")
@page_login_required()
def show_case(case_id: int) -> tuple[str, int]:
    """One case: header, the elder, recent visits and messages, the timeline, the forms."""
    return _render_case(_visible(case_id))


def _back(case: Case, message: str) -> Response:
    """Post/redirect/get: back to the case with a message."""
    db_session().commit()
    flash(message)
    return redirect(url_for("cases.show_case", case_id=case.id))


def _conflict(case: Case) -> Response:
    """The case changed under the person's feet (resolved in another tab or by a colleague)."""
    db_session().rollback()
    flash(_("This case is already resolved; nothing was changed."))
    return redirect(url_for("cases.show_case", case_id=case.id))


def _note_field(name: str) -> str:
    return (request.form.get(name) or "").strip()


@bp.post("/cases/<int:case_id>/ack")
@page_login_required()
def acknowledge(case_id: int) -> Response:
    """Acknowledge the case: the person has seen it and takes it on."""
    case = _visible(case_id)
    if case.status == "acknowledged":
        return _back(case, _("The case was already acknowledged."))
    try:
        case_service.acknowledge(db_session(), case, current_user())
    except case_service.CaseError:
        return _conflict(case)
    return _back(case, _("Case acknowledged."))


@bp.post("/cases/<int:case_id>/notes")
@page_login_required()
def add_note(case_id: int) -> Response | tuple[str, int]:
    """Add a note to the case's timeline."""
    case = _visible(case_id)
    note = _note_field("note")
    if not note or len(note) > NOTE_MAX:
        message = _("Write the note first.") if not note else _note_too_long()
        return _render_case(case, errors={"note": message}, values={"note": note}, status=422)
    if case.status == "resolved":
        return _conflict(case)
    case_service.add_note(db_session(), case, current_user(), note)
    return _back(case, _("Note added."))


@bp.post("/cases/<int:case_id>/reassign")
@page_login_required()
def reassign(case_id: int) -> Response | tuple[str, int]:
    """Hand the case to someone who may take it (agency staff, contacts, supervisors)."""
    case = _visible(case_id)
    if case.status == "resolved":
        return _conflict(case)
    note = _note_field("note")
    values = {"reassign_note": note, "owner": request.form.get("owner", "")}
    raw = request.form.get("owner", "")
    new_owner = db_session().get(Worker, int(raw)) if raw.isdigit() else None
    if len(note) > NOTE_MAX:
        return _render_case(case, errors={"reassign": _note_too_long()}, values=values, status=422)
    if new_owner is None:
        return _render_case(
            case,
            errors={"reassign": _("Choose who should take the case.")},
            values=values,
            status=422,
        )
    try:
        case_service.reassign(db_session(), case, current_user(), new_owner, note)
    except case_service.CaseError as exc:
        if exc.code == "conflict":
            return _conflict(case)
        db_session().rollback()
        return _render_case(
            case,
            errors={"reassign": _("That person cannot take this case. Choose from the list.")},
            values=values,
            status=422,
        )
    return _back(case, _("The case now belongs to %(name)s.", name=new_owner.name))


@bp.post("/cases/<int:case_id>/resolve")
@page_login_required()
def resolve(case_id: int) -> Response | tuple[str, int]:
    """Close the case with a note saying what was done; only a person closes a case."""
    case = _visible(case_id)
    note = _note_field("note")
    if case.status == "resolved":
        return _conflict(case)
    if not note or len(note) > NOTE_MAX:
        message = (
            _("A case can only be resolved with a note saying what was done.")
            if not note
            else _note_too_long()
        )
        return _render_case(
            case, errors={"resolve": message}, values={"resolve_note": note}, status=422
        )
    case_service.resolve(db_session(), case, current_user(), note, tz=config().tz)
    return _back(case, _("Case resolved."))


def _note_too_long() -> str:
    return _("The note is too long (at most %(n)s characters).", n=NOTE_MAX)

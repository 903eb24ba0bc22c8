"""How rows look in the API. Personal data is included only where the caller needs it."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from server.i18n import mask_name, mask_phone
from server.models import Case, Elder, Visit, Worker


def iso(value: datetime | date | None) -> str | None:
    """ISO 8601, or None."""
    return value.isoformat() if value is not None else None


def elder_brief(elder: Elder) -> dict[str, Any]:
    """An elder as named in a case: ids and code, nothing personal."""
    return {"id": elder.id, "external_id": elder.external_id, "code": elder.code}


def elder_for_visit(elder: Elder, *, serves: bool) -> dict[str, Any]:
    """What the visiting worker needs to find and call the elder; to anyone who does not
    serve the elder, the name and phone masked and no address or location."""
    return {
        "id": elder.id,
        "code": elder.code,
        "name": elder.name if serves else mask_name(elder.name),
        "phone": elder.phone if serves else mask_phone(elder.phone),
        "address": elder.address if serves else None,
        "lat": elder.lat if serves else None,
        "lon": elder.lon if serves else None,
    }


def elder_json(elder: Elder, *, full: bool, serves: bool = False) -> dict[str, Any]:
    """An elder; `full` shows every field unmasked. In a list (not `full`) the phone is
    masked, and the name too unless the reader `serves` the elder."""
    data: dict[str, Any] = {
        "id": elder.id,
        "external_id": elder.external_id,
        "code": elder.code,
        "name": elder.name if full or serves else mask_name(elder.name),
        "phone": elder.phone if full else mask_phone(elder.phone),
        "grid": elder.grid.code if elder.grid else None,
        "risk_tier": elder.risk_tier,
        "status": elder.status,
        "primary_contact": elder.primary_contact.external_id if elder.primary_contact else None,
        "secondary_contact": (
            elder.secondary_contact.external_id if elder.secondary_contact else None
        ),
    }
    if full:
        data.update(
            {
                "address": elder.address,
                "lat": elder.lat,
                "lon": elder.lon,
                "birth_date": iso(elder.birth_date),
                "gender": elder.gender,
                "household": elder.household,
                "disability": elder.disability,
                "lives_alone": elder.lives_alone,
                "locale": elder.locale,
                "sms_opted_out": elder.sms_opted_out,
                "enrolled_on": iso(elder.enrolled_on),
                "deactivated_on": iso(elder.deactivated_on),
            }
        )
    return data


def visit_json(visit: Visit, *, serves: bool) -> dict[str, Any]:
    """A visit (SPEC section 7); the elder's details in full only to one who `serves` them."""
    return {
        "id": visit.id,
        "month": visit.month,
        "seq": visit.seq,
        "kind": visit.kind,
        "elder": elder_for_visit(visit.elder, serves=serves),
        "worker": visit.worker.external_id if visit.worker else None,
        "window_start": iso(visit.window_start),
        "due_date": iso(visit.due_date),
        "status": visit.status,
        "done_at": iso(visit.done_at),
        "outcome": visit.outcome,
        "channel": visit.channel,
        "distance_km": visit.distance_km,
    }


def case_json(case: Case) -> dict[str, Any]:
    """A case (SPEC section 7)."""
    return {
        "id": case.id,
        "kind": case.kind,
        "priority": case.priority,
        "status": case.status,
        "elder": elder_brief(case.elder),
        "agency": {"code": case.agency.code, "name": case.agency.name} if case.agency else None,
        "owner": case.owner.external_id if case.owner else None,
        "escalation_level": case.escalation_level,
        "created_at": iso(case.created_at),
        "ack_due_at": iso(case.ack_due_at),
        "acknowledged_at": iso(case.acknowledged_at),
        "resolved_at": iso(case.resolved_at),
    }


def worker_json(worker: Worker, *, full: bool) -> dict[str, Any]:
    """A worker; the phone is masked unless `full`."""
    return {
        "id": worker.id,
        "external_id": worker.external_id,
        "name": worker.name,
        "phone": worker.phone if full else mask_phone(worker.phone),
        "role": worker.role,
        "locale": worker.locale,
        "monthly_capacity": worker.monthly_capacity,
        "areas": [a.code for a in worker.areas],
        "agency": worker.agency.code if worker.agency else None,
        "active": worker.active,
    }

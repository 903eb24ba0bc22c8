"""The audit log: ids and codes only, never personal data."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from server.models import AuditEntry


def record(
    session: Session,
    actor_id: int | None,
    action: str,
    object_type: str | None = None,
    object_id: int | str | None = None,
    detail: dict[str, Any] | None = None,
    ip: str | None = None,
) -> None:
    """Add one audit entry to the caller's transaction."""
    session.add(
        AuditEntry(
            actor_id=actor_id,
            action=action,
            object_type=object_type,
            object_id=None if object_id is None else str(object_id),
            detail=detail,
            ip=ip,
        )
    )

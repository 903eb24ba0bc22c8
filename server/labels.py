"""Human labels for the vocabulary, translated through Babel (`label("high")` -> 高风险)."""

from __future__ import annotations

from flask_babel import LazyString
from flask_babel import lazy_gettext as _l

LABELS: dict[str, LazyString] = {
    # roles
    "grid_worker": _l("Grid worker"),
    "volunteer": _l("Volunteer"),
    "social_worker": _l("Social worker"),
    "supervisor": _l("Supervisor"),
    "admin": _l("Administrator"),
    # risk tiers
    "standard": _l("Standard"),
    "elevated": _l("Elevated"),
    "high": _l("High"),
    # visit statuses
    "planned": _l("Planned"),
    "done": _l("Done"),
    "missed": _l("Missed"),
    "cancelled": _l("Cancelled"),
    # visit outcomes
    "seen": _l("Seen"),
    "not_home": _l("Not at home"),
    "refused": _l("Refused the visit"),
    "hospitalized": _l("In hospital"),
    "moved": _l("Moved away"),
    "deceased": _l("Deceased"),
    # case kinds, statuses and priorities
    "crisis": _l("Crisis"),
    "psych_support": _l("Psychological support"),
    "help": _l("Help request"),
    "unreachable": _l("Unreachable"),
    "overdue": _l("Overdue visit"),
    "open": _l("Open"),
    "acknowledged": _l("Acknowledged"),
    "resolved": _l("Resolved"),
    "urgent": _l("Urgent"),
    "normal": _l("Normal"),
    "low": _l("Low"),
}


def label(value: str | None) -> str:
    """The translated label of a vocabulary value (the value itself when unknown)."""
    if value is None:
        return ""
    found = LABELS.get(value)
    return str(found) if found is not None else value

"""The one definition of "the month": a calendar month in TANFANG_TIMEZONE.

The calendar itself lives in `scheduler.due_dates` (pure, no database); this module is the
server side's way to it, so every screen, report and job counts months the same way.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from scheduler.due_dates import local_date, month_of, month_of_date
from scheduler.due_dates import parse_month as _split_month

__all__ = ["current_month", "local_today", "month_of", "parse_month"]


def parse_month(text: str) -> str:
    """Validate `YYYY-MM` and return it; ValueError otherwise."""
    try:
        _split_month(text or "")
    except (ValueError, TypeError) as exc:
        raise ValueError("month must be YYYY-MM") from exc
    return text


def local_today(tz: ZoneInfo, now: datetime | None = None) -> date:
    """Today's date in the local zone."""
    return local_date(now or datetime.now(tz), tz)


def current_month(tz: ZoneInfo, now: datetime | None = None) -> str:
    """This month in the local zone."""
    return month_of_date(local_today(tz, now))

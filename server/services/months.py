"""The one definition of "the month": a calendar month in TANFANG_TIMEZONE."""

from __future__ import annotations

import re
from datetime import date, datetime
from zoneinfo import ZoneInfo

_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def parse_month(text: str) -> str:
    """Validate `YYYY-MM` and return it; ValueError otherwise."""
    if not _MONTH.match(text or ""):
        raise ValueError("month must be YYYY-MM")
    return text


def month_of(moment: datetime, tz: ZoneInfo) -> str:
    """The local month (YYYY-MM) of an aware instant."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime")
    return moment.astimezone(tz).strftime("%Y-%m")


def local_today(tz: ZoneInfo, now: datetime | None = None) -> date:
    """Today's date in the local zone."""
    return (now or datetime.now(tz)).astimezone(tz).date()


def current_month(tz: ZoneInfo, now: datetime | None = None) -> str:
    """This month in the local zone."""
    return local_today(tz, now).strftime("%Y-%m")

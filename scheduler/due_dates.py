"""The calendar of planning: the month in the local zone, tier windows and due dates.

"The month" has one definition everywhere: the calendar month in TANFANG_TIMEZONE. A moment
stored in UTC belongs to the month its local date falls in, so a check-in at 23:30 on
30 November in Asia/Shanghai (15:30 UTC) counts for November.
"""

from __future__ import annotations

import bisect
import calendar
import heapq
import itertools
import re
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

import numpy as np
from numpy.typing import NDArray

_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")

WORKING_WEEKDAYS = frozenset({0, 1, 2, 3, 4})  # Monday to Friday


def _zone(tz: str | tzinfo) -> tzinfo:
    return ZoneInfo(tz) if isinstance(tz, str) else tz


def parse_month(month: str) -> tuple[int, int]:
    """`"YYYY-MM"` as (year, month); ValueError for anything else."""
    found = _MONTH.match(month)
    if not found:
        raise ValueError(f"month must look like YYYY-MM, not {month!r}")
    return int(found.group(1)), int(found.group(2))


def month_dates(month: str) -> tuple[date, date]:
    """The first and the last local day of a month (inclusive)."""
    year, mon = parse_month(month)
    return date(year, mon, 1), date(year, mon, calendar.monthrange(year, mon)[1])


def month_of_date(day: date) -> str:
    """The month a local date belongs to."""
    return f"{day.year:04d}-{day.month:02d}"


def next_month(month: str) -> str:
    """The month after `month`."""
    return month_of_date(month_dates(month)[1] + timedelta(days=1))


def local_date(moment: datetime, tz: str | tzinfo) -> date:
    """The local date of a moment; a naive datetime is taken as UTC, as storage is UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(_zone(tz)).date()


def month_of(moment: datetime, tz: str | tzinfo) -> str:
    """The month (`YYYY-MM`) a moment belongs to in the local zone `tz`."""
    return month_of_date(local_date(moment, tz))


def month_bounds(month: str, tz: str | tzinfo) -> tuple[datetime, datetime]:
    """The month as a half-open UTC interval [start, end): local midnight to local midnight."""
    zone = _zone(tz)
    first, last = month_dates(month)
    start = datetime.combine(first, datetime.min.time(), tzinfo=zone)
    end = datetime.combine(last + timedelta(days=1), datetime.min.time(), tzinfo=zone)
    return start.astimezone(UTC), end.astimezone(UTC)


def tier_windows(first: date, last: date, count: int) -> list[tuple[date, date]]:
    """Split [first, last] into `count` consecutive windows of near-equal length.

    A month gives: one window (standard), two halves (elevated), four of about a week
    (high). A period shorter than `count` days (an elder enrolled on the 30th) still gets
    `count` windows; some then share a day rather than a visit being dropped.
    """
    if count < 1:
        raise ValueError("count must be at least 1")
    if last < first:
        raise ValueError("the period ends before it starts")
    length = (last - first).days + 1
    windows = []
    for i in range(count):
        lo = i * length // count
        hi = max((i + 1) * length // count - 1, lo)
        windows.append((first + timedelta(days=lo), first + timedelta(days=min(hi, length - 1))))
    return windows


def working_mask(
    first: date,
    last: date,
    weekdays: Iterable[int] = WORKING_WEEKDAYS,
    holidays: Iterable[date] = (),
) -> NDArray[np.bool_]:
    """For each day of [first, last], whether it is a working day."""
    days = (last - first).days + 1
    wanted = frozenset(weekdays)
    off = frozenset(holidays)
    return np.array(
        [
            (d := first + timedelta(days=i)).weekday() in wanted and d not in off
            for i in range(days)
        ],
        dtype=bool,
    )


def spread_due_days(
    worker: NDArray[np.int64],
    first: NDArray[np.int64],
    last: NDArray[np.int64],
    free: NDArray[np.bool_],
    working: NDArray[np.bool_],
    load: NDArray[np.int64] | None = None,
) -> NDArray[np.int64]:
    """Choose a due day for each visit, spreading each worker's visits over working days.

    Visit i belongs to `worker[i]` and may fall due on any day offset in
    [first[i], last[i]] on which the worker is free (`free[w, d]`: not on leave) and which
    is a working day. Visits are placed tightest window first, each on the day of its
    window that is least loaded so far for its worker, the latest such day on ties, so a
    visit falls due at its window's end unless the worker's load is better spread earlier.
    `load[w, d]` counts visits already due (kept from an earlier plan). A window with no free
    working day falls back to a free day of any kind, then to its last day; callers only
    ask for windows in which the worker is free, so the last fallback is a guard.
    """
    n = len(worker)
    due = np.empty(n, dtype=np.int64)
    if n == 0:
        return due
    order = np.lexsort((first, last, last - first, worker))
    w_s, f_s, l_s = worker[order], first[order], last[order]
    keys = np.stack((w_s, f_s, l_s), axis=1)
    cuts = np.flatnonzero(np.any(keys[1:] != keys[:-1], axis=1)) + 1
    bounds = [0, *cuts.tolist(), n]
    free_working = free & working
    work_days: dict[int, list[int]] = {}
    free_days: dict[int, list[int]] = {}
    loads: dict[int, list[int]] = {}
    ordered: list[int] = []
    for lo, hi in itertools.pairwise(bounds):
        w, a, b = int(w_s[lo]), int(f_s[lo]), int(l_s[lo])
        if w not in loads:
            work_days[w] = np.flatnonzero(free_working[w]).tolist()
            free_days[w] = np.flatnonzero(free[w]).tolist()
            loads[w] = [0] * free.shape[1] if load is None else load[w].tolist()
        row = loads[w]
        days = _within(work_days[w], a, b) or _within(free_days[w], a, b)
        if not days:
            ordered.extend([b] * (hi - lo))
            row[b] += hi - lo
            continue
        heap = [(row[d], -d) for d in days]
        heapq.heapify(heap)
        for _ in range(hi - lo):
            count, neg_day = heap[0]
            ordered.append(-neg_day)
            row[-neg_day] += 1
            heapq.heapreplace(heap, (count + 1, neg_day))
    due[order] = ordered
    return due


def _within(days: list[int], a: int, b: int) -> list[int]:
    """The days of a sorted list that lie in [a, b]."""
    return days[bisect.bisect_left(days, a) : bisect.bisect_right(days, b)]

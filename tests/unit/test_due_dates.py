"""The month in the local zone, tier windows, and how due dates spread over working days."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest

from scheduler.due_dates import (
    local_date,
    month_bounds,
    month_dates,
    month_of,
    next_month,
    spread_due_days,
    tier_windows,
    working_mask,
)


def test_a_check_in_at_2330_local_on_the_last_day_counts_for_that_month() -> None:
    late_evening = datetime(2026, 11, 30, 15, 30, tzinfo=UTC)  # 23:30 in Shanghai
    assert late_evening.strftime("%Y-%m") == "2026-11"
    assert month_of(late_evening, "Asia/Shanghai") == "2026-11"
    just_after = datetime(2026, 11, 30, 16, 0, tzinfo=UTC)  # 00:00 on 1 December
    assert month_of(just_after, "Asia/Shanghai") == "2026-12"


def test_utc_evening_of_the_last_day_is_already_next_month_locally() -> None:
    # 20:00 UTC on 31 October is 04:00 on 1 November in Shanghai
    assert month_of(datetime(2026, 10, 31, 20, 0, tzinfo=UTC), "Asia/Shanghai") == "2026-11"


def test_a_naive_datetime_is_taken_as_utc() -> None:
    assert local_date(datetime(2026, 11, 30, 15, 30), "Asia/Shanghai") == date(2026, 11, 30)


def test_month_bounds_are_local_midnights_in_utc() -> None:
    start, end = month_bounds("2026-11", "Asia/Shanghai")
    assert start == datetime(2026, 10, 31, 16, 0, tzinfo=UTC)
    assert end == datetime(2026, 11, 30, 16, 0, tzinfo=UTC)
    assert start <= datetime(2026, 11, 30, 15, 30, tzinfo=UTC) < end


def test_month_dates_know_february_and_leap_years() -> None:
    assert month_dates("2026-02") == (date(2026, 2, 1), date(2026, 2, 28))
    assert month_dates("2028-02") == (date(2028, 2, 1), date(2028, 2, 29))
    assert next_month("2026-12") == "2027-01"


@pytest.mark.parametrize("bad", ["2026-13", "2026-1", "26-11", "2026/11", ""])
def test_a_malformed_month_is_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        month_dates(bad)


def test_tier_windows_cover_the_month_without_gaps() -> None:
    first, last = date(2026, 11, 1), date(2026, 11, 30)
    assert tier_windows(first, last, 1) == [(first, last)]
    halves = tier_windows(first, last, 2)
    assert halves == [(first, date(2026, 11, 15)), (date(2026, 11, 16), last)]
    weeks = tier_windows(first, last, 4)
    assert weeks[0][0] == first and weeks[-1][1] == last
    for (_, end), (start, _) in itertools.pairwise(weeks):
        assert start == end + timedelta(days=1)
    assert all(6 <= (end - start).days + 1 <= 8 for start, end in weeks)


def test_a_short_period_still_gets_every_window() -> None:
    day = date(2026, 11, 30)
    assert tier_windows(day, day, 4) == [(day, day)] * 4


def test_working_days_skip_weekends_and_holidays() -> None:
    first, last = date(2026, 10, 1), date(2026, 10, 7)  # Thursday to Wednesday
    mask = working_mask(first, last, holidays={date(2026, 10, 1)})
    assert mask.tolist() == [False, True, False, False, True, True, True]


def _spread(windows: list[tuple[int, int]], free_days: int = 30) -> list[int]:
    first = date(2026, 11, 1)
    working = working_mask(first, first + timedelta(days=free_days - 1))
    free = np.ones((1, free_days), dtype=bool)
    lo = np.array([a for a, _ in windows], dtype=np.int64)
    hi = np.array([b for _, b in windows], dtype=np.int64)
    worker = np.zeros(len(windows), dtype=np.int64)
    return spread_due_days(worker, lo, hi, free, working).tolist()


def test_one_visit_falls_due_on_the_last_working_day_of_its_window() -> None:
    # November 2026: the 30th is a Monday, the 28th and 29th a weekend
    assert _spread([(0, 29)]) == [29]
    assert _spread([(0, 28)]) == [26]  # Friday the 27th


def test_a_full_load_is_spread_so_no_week_has_everything_due() -> None:
    due = _spread([(0, 29)] * 21)
    first = date(2026, 11, 1)
    weekdays = {(first + timedelta(days=d)).weekday() for d in due}
    assert weekdays <= {0, 1, 2, 3, 4}
    per_week = np.bincount([(d + 6) // 7 for d in due])
    assert per_week.max() <= 5  # 21 visits over 21 working days: at most one a day
    assert len(set(due)) == 21


def test_leave_days_never_carry_a_due_date() -> None:
    first = date(2026, 11, 1)
    working = working_mask(first, date(2026, 11, 30))
    free = np.ones((1, 30), dtype=bool)
    free[0, 15:30] = False  # on leave from the 16th
    due = spread_due_days(
        np.zeros(5, dtype=np.int64),
        np.zeros(5, dtype=np.int64),
        np.full(5, 29, dtype=np.int64),
        free,
        working,
    )
    assert all(d < 15 and working[d] for d in due)


def test_existing_load_pushes_new_due_dates_elsewhere() -> None:
    first = date(2026, 11, 1)
    working = working_mask(first, date(2026, 11, 30))
    load = np.zeros((1, 30), dtype=np.int64)
    load[0, 29] = 3
    due = spread_due_days(
        np.zeros(1, dtype=np.int64),
        np.zeros(1, dtype=np.int64),
        np.full(1, 29, dtype=np.int64),
        np.ones((1, 30), dtype=bool),
        working,
        load,
    )
    assert due.tolist() == [26]

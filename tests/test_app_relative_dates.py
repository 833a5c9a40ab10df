"""Relative dates in report filters, evaluated in the schedule's time zone (DST too)."""

from __future__ import annotations

import datetime as dt

import pytest

from btu.core.relative_dates import (
    Period,
    RelativeDateError,
    local_today,
    period,
    resolve_filters,
    resolve_value,
)

UTC = dt.timezone.utc
D = dt.date


def at(text: str) -> dt.datetime:
    """An instant given in UTC."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


class TestToday:
    def test_local_date_differs_from_utc(self) -> None:
        """Monday 00:30 in Paris is still Sunday in UTC: today is Monday in Paris."""
        now = at("2027-03-07 23:30")  # = Monday 2027-03-08 00:30 CET
        assert (D(2027, 3, 8), D(2027, 3, 7), D(2027, 3, 7)) == (
            local_today(now, "Europe/Paris"),
            local_today(now, "UTC"),
            local_today(now, "America/New_York"),
        )

    def test_west_of_utc(self) -> None:
        """Early UTC Monday is still Sunday evening in New York."""
        assert D(2027, 3, 7) == local_today(at("2027-03-08 03:00"), "America/New_York")

    def test_dst_spring_forward(self) -> None:
        """On the night Paris moves to summer time (UTC+2), 22:30 UTC is already the
        next day there; the day before, 22:30 UTC is still the same day (UTC+1)."""
        assert (D(2027, 3, 29), D(2027, 3, 27)) == (
            local_today(at("2027-03-28 22:30"), "Europe/Paris"),
            local_today(at("2027-03-27 22:30"), "Europe/Paris"),
        )

    def test_dst_fall_back(self) -> None:
        """After Paris returns to UTC+1, 22:30 UTC is 23:30 the same day."""
        assert D(2027, 10, 31) == local_today(at("2027-10-31 22:30"), "Europe/Paris")

    def test_naive_refused(self) -> None:
        with pytest.raises(ValueError, match="timezone-aware"):
            local_today(dt.datetime(2027, 1, 1), "UTC")

    def test_unknown_zone(self) -> None:
        with pytest.raises(RelativeDateError, match="not a known time zone"):
            local_today(at("2027-01-01 00:00"), "Mars/Olympus")


class TestPeriods:
    WED = D(2027, 3, 10)  # a Wednesday

    @pytest.mark.parametrize(
        ("name", "start", "end"),
        [
            ("this_week", D(2027, 3, 8), D(2027, 3, 14)),
            ("last_week", D(2027, 3, 1), D(2027, 3, 7)),
            ("this_month", D(2027, 3, 1), D(2027, 3, 31)),
            ("last_month", D(2027, 2, 1), D(2027, 2, 28)),
            ("this_quarter", D(2027, 1, 1), D(2027, 3, 31)),
            ("last_quarter", D(2026, 10, 1), D(2026, 12, 31)),
            ("this_year", D(2027, 1, 1), D(2027, 12, 31)),
            ("last_year", D(2026, 1, 1), D(2026, 12, 31)),
            ("last_7_days", D(2027, 3, 3), D(2027, 3, 9)),
            ("last_30_days", D(2027, 2, 8), D(2027, 3, 9)),
        ],
    )
    def test_period(self, name: str, start: dt.date, end: dt.date) -> None:
        assert Period(start, end) == period(name, self.WED)

    def test_week_starting_sunday(self) -> None:
        assert Period(D(2027, 3, 7), D(2027, 3, 13)) == period("this_week", self.WED, week_start=6)

    def test_year_boundaries(self) -> None:
        """January: last month and last quarter are in the previous year; leap February."""
        jan = D(2028, 1, 15)
        assert (
            Period(D(2027, 12, 1), D(2027, 12, 31)),
            Period(D(2027, 10, 1), D(2027, 12, 31)),
            Period(D(2028, 2, 1), D(2028, 2, 29)),
        ) == (
            period("last_month", jan),
            period("last_quarter", jan),
            period("last_month", D(2028, 3, 1)),
        )


class TestResolve:
    def test_values(self) -> None:
        today = D(2027, 3, 10)
        cases = {
            "@today": "2027-03-10",
            "@yesterday": "2027-03-09",
            "@tomorrow": "2027-03-11",
            "@today-7": "2027-03-03",
            "@today+1": "2027-03-11",
            "@yesterday-1": "2027-03-08",
            "@last_month": ["2027-02-01", "2027-02-28"],
            "@last_month.start": "2027-02-01",
            "@last_month.end": "2027-02-28",
            "@@literal": "@literal",
            "plain": "plain",
            42: 42,
        }
        assert cases == {k: resolve_value(k, today)[0] for k in cases}

    @pytest.mark.parametrize("bad", ["@", "@today-", "@lastweek", "@last_week.middle", "@today*2"])
    def test_unknown_refused(self, bad: str) -> None:
        """A mistyped relative date is refused with what can be used (never sent as is)."""
        with pytest.raises(RelativeDateError, match=r"is not a relative date: use @today"):
            resolve_value(bad, D(2027, 3, 10))

    def test_filters_in_the_schedule_zone(self) -> None:
        """Monday 07:00 in Paris: last week is the Monday to Sunday before, and the subject's
        period is that week. The same instant in Honolulu is still Sunday."""
        filters = {"company": "ACME", "from_date": "@last_week.start", "to_date": "@last_week.end"}
        now = at("2027-03-08 06:00")  # Monday 07:00 CET, Sunday 20:00 in Honolulu
        paris = resolve_filters(filters, now, "Europe/Paris")
        honolulu = resolve_filters(filters, now, "Pacific/Honolulu")
        assert (
            {"company": "ACME", "from_date": "2027-03-01", "to_date": "2027-03-07"},
            "2027-03-01 to 2027-03-07",
            {"company": "ACME", "from_date": "2027-02-22", "to_date": "2027-02-28"},
        ) == (paris.filters, paris.period_text, honolulu.filters)

    def test_filter_rows_and_no_period(self) -> None:
        """Report Builder filter rows (lists) are walked; without a period the subject's
        period is the run's day."""
        rows = [["ToDo", "date", "between", "@this_month"], ["ToDo", "status", "=", "Open"]]
        result = resolve_filters(rows, at("2027-03-10 12:00"), "UTC")
        nothing = resolve_filters({"status": "Open"}, at("2027-03-10 12:00"), "UTC")
        assert (
            [["ToDo", "date", "between", ["2027-03-01", "2027-03-31"]], rows[1]],
            "2027-03-10",
        ) == (result.filters, nothing.period_text)

    def test_bad_week_start(self) -> None:
        with pytest.raises(RelativeDateError, match="week_start"):
            resolve_filters({}, at("2027-03-10 12:00"), "UTC", week_start=7)

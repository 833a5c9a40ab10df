"""The frequency helper: every option gives a cron expression that fires when promised."""

from __future__ import annotations

import datetime as dt

import pytest

from btu.core.frequency import (
    FREQUENCIES,
    MONTHS,
    WEEKDAYS,
    FrequencyError,
    FrequencySpec,
    notes,
    parse_time_of_day,
    to_cron,
)
from btu.core.timeconv import to_epoch_ms
from streams import cron

# 2027-01-01 00:00 UTC; the walk below starts there.
START = to_epoch_ms("2027-01-01 00:00:00", "UTC")


class TestParseTimeOfDay:
    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            pytest.param("07:30", (7, 30, 0), id="hh-mm"),
            pytest.param("07:30:15", (7, 30, 15), id="hh-mm-ss"),
            pytest.param("7:05:00.000000", (7, 5, 0), id="desk-microseconds"),
            pytest.param(dt.time(23, 59, 59), (23, 59, 59), id="time"),
            pytest.param(dt.timedelta(hours=9, minutes=15), (9, 15, 0), id="mariadb-timedelta"),
            pytest.param(None, (0, 0, 0), id="empty-is-midnight"),
            pytest.param("", (0, 0, 0), id="blank-is-midnight"),
        ],
    )
    def test_accepted_values(self, value: object, expected: tuple[int, int, int]) -> None:
        """Desk strings, time objects and MariaDB timedeltas all give (h, m, s)."""
        assert expected == parse_time_of_day(value)  # type: ignore[arg-type]

    @pytest.mark.parametrize("value", ["24:00", "12:60", "noon", dt.timedelta(days=1)])
    def test_refused_values(self, value: object) -> None:
        """Impossible times are refused with a message naming Time of Day."""
        with pytest.raises(FrequencyError, match="Time of Day"):
            parse_time_of_day(value)  # type: ignore[arg-type]


class TestToCron:
    @pytest.mark.parametrize(
        ("spec", "expected"),
        [
            pytest.param(FrequencySpec("Hourly", minute=15), "15 * * * *", id="hourly"),
            pytest.param(FrequencySpec("Daily", time_of_day="07:30"), "30 7 * * *", id="daily"),
            pytest.param(
                FrequencySpec("Daily", time_of_day="07:30:20"), "20 30 7 * * *", id="daily-seconds"
            ),
            pytest.param(
                FrequencySpec("Weekly", time_of_day="18:00", weekday="Friday"),
                "0 18 * * 5",
                id="weekly-friday",
            ),
            pytest.param(
                FrequencySpec("Weekly", time_of_day="06:00", weekday="Sunday"),
                "0 6 * * 0",
                id="weekly-sunday-is-0",
            ),
            pytest.param(
                FrequencySpec("Monthly", time_of_day="01:00", day_of_month=31),
                "0 1 31 * *",
                id="monthly-31",
            ),
            pytest.param(
                FrequencySpec("Yearly", time_of_day="00:00", day_of_month=29, month="February"),
                "0 0 29 2 *",
                id="yearly-leap-day",
            ),
            pytest.param(
                FrequencySpec("Cron", cron="  */5   9-17 * * MON-FRI "),
                "*/5 9-17 * * MON-FRI",
                id="cron-whitespace-collapsed",
            ),
        ],
    )
    def test_expressions(self, spec: FrequencySpec, expected: str) -> None:
        """Each frequency writes the expected expression."""
        assert expected == to_cron(spec)

    @pytest.mark.parametrize(
        ("spec", "message"),
        [
            pytest.param(FrequencySpec("Minutely"), "Choose the frequency", id="unknown"),
            pytest.param(FrequencySpec("Hourly", minute=60), "Minute must be from 0", id="min-60"),
            pytest.param(FrequencySpec("Weekly", weekday="Funday"), "day of the week", id="day"),
            pytest.param(
                FrequencySpec("Monthly", day_of_month=0), "Day of Month must be", id="dom-0"
            ),
            pytest.param(FrequencySpec("Yearly", month="Smarch"), "Choose the month", id="month"),
            pytest.param(
                FrequencySpec("Yearly", day_of_month=31, month="April"),
                "April has at most 30 days, so day 31 never comes.",
                id="april-31",
            ),
            pytest.param(FrequencySpec("Cron", cron="  "), "Enter a cron expression", id="cron"),
        ],
    )
    def test_invalid_specs(self, spec: FrequencySpec, message: str) -> None:
        """Impossible helper values are refused with a message naming the field."""
        with pytest.raises(FrequencyError, match=message):
            to_cron(spec)

    def test_all_frequencies_are_offered(self) -> None:
        """The form's choices are exactly these six."""
        expected = ("Hourly", "Daily", "Weekly", "Monthly", "Yearly", "Cron")
        assert expected == FREQUENCIES


def _local_fires(spec: FrequencySpec, tz: str, count: int) -> list[str]:
    return [f.local_iso for f in cron.explain(to_cron(spec), tz, START, count)]


class TestEveryOptionFires:
    """The produced expressions, run through the daemon's own engine."""

    def test_hourly(self) -> None:
        """Hourly fires at the chosen minute of every hour."""
        expected = ["2027-01-01T09:45:00+09:00", "2027-01-01T10:45:00+09:00"]
        assert expected == _local_fires(FrequencySpec("Hourly", minute=45), "Asia/Tokyo", 2)

    def test_daily(self) -> None:
        """Daily fires at the time of day in the schedule's zone."""
        expected = ["2027-01-01T07:30:00+01:00", "2027-01-02T07:30:00+01:00"]
        spec = FrequencySpec("Daily", time_of_day="07:30")
        assert expected == _local_fires(spec, "Europe/Paris", 2)

    @pytest.mark.parametrize("weekday", WEEKDAYS)
    def test_weekly_each_day(self, weekday: str) -> None:
        """Weekly fires on the chosen weekday, whichever it is."""
        spec = FrequencySpec("Weekly", time_of_day="12:00", weekday=weekday)
        fires = _local_fires(spec, "UTC", 2)
        days = [dt.datetime.fromisoformat(f).strftime("%A") for f in fires]
        assert [weekday, weekday] == days

    def test_monthly_31_skips_short_months(self) -> None:
        """Monthly on day 31 fires only in months that have one."""
        spec = FrequencySpec("Monthly", time_of_day="08:00", day_of_month=31)
        expected = [
            "2027-01-31T08:00:00+00:00",
            "2027-03-31T08:00:00+01:00",
            "2027-05-31T08:00:00+01:00",
        ]
        assert expected == _local_fires(spec, "Europe/London", 3)

    @pytest.mark.parametrize("month", MONTHS)
    def test_yearly_each_month(self, month: str) -> None:
        """Yearly fires once a year on the chosen day of the chosen month."""
        spec = FrequencySpec("Yearly", time_of_day="09:00", day_of_month=28, month=month)
        fires = [dt.datetime.fromisoformat(f) for f in _local_fires(spec, "UTC", 2)]
        assert [(month, 28, 9)] * 2 == [(f.strftime("%B"), f.day, f.hour) for f in fires]
        assert 1 == fires[1].year - fires[0].year

    def test_yearly_leap_day(self) -> None:
        """Yearly on 29 February fires in leap years only."""
        spec = FrequencySpec("Yearly", time_of_day="00:00", day_of_month=29, month="February")
        expected = ["2028-02-29T00:00:00+00:00", "2032-02-29T00:00:00+00:00"]
        assert expected == _local_fires(spec, "UTC", 2)

    def test_daily_in_dst_gap(self) -> None:
        """A daily time skipped by the spring change fires once when clocks jump."""
        spec = FrequencySpec("Daily", time_of_day="02:30")
        fires = cron.explain(
            to_cron(spec), "America/New_York", to_epoch_ms("2027-03-13 12:00:00", "UTC"), 2
        )
        expected = ["2027-03-14T03:00:00-04:00", "2027-03-15T02:30:00-04:00"]
        assert expected == [f.local_iso for f in fires]


class TestNotes:
    @pytest.mark.parametrize(
        ("spec", "expected"),
        [
            pytest.param(
                FrequencySpec("Monthly", day_of_month=30),
                ["Months with fewer than 30 days are skipped."],
                id="monthly-30",
            ),
            pytest.param(FrequencySpec("Monthly", day_of_month=28), [], id="monthly-28"),
            pytest.param(
                FrequencySpec("Yearly", day_of_month=29, month="February"),
                ["Runs only in leap years."],
                id="leap",
            ),
            pytest.param(FrequencySpec("Daily"), [], id="daily"),
        ],
    )
    def test_caveats(self, spec: FrequencySpec, expected: list[str]) -> None:
        """Caveats are given for days that some months or years lack."""
        assert expected == notes(spec)

"""What the schedule form shows: expression, description and next runs from streams.cron."""

from __future__ import annotations

import pytest

from btu.core.frequency import FrequencySpec
from btu.core.schedules import ScheduleError, check_time_zone, next_runs, preview
from btu.core.timeconv import to_epoch_ms

AFTER = to_epoch_ms("2027-03-13 12:00:00", "UTC")


class TestPreview:
    def test_daily_preview(self) -> None:
        """A daily helper gives its cron, the engine's description and five runs in the zone."""
        p = preview(FrequencySpec("Daily", time_of_day="02:30"), "America/New_York", AFTER)
        assert ("30 2 * * *", "America/New_York", 5) == (p.cron, p.time_zone, len(p.next_runs))
        assert p.description == p.description_text  # no caveat for a daily schedule
        assert p.description

    def test_dst_note_in_next_runs(self) -> None:
        """A run moved by the spring change carries the engine's note."""
        p = preview(FrequencySpec("Daily", time_of_day="02:30"), "America/New_York", AFTER, 2)
        assert p.next_runs[0].startswith("2027-03-14 03:00:00-04:00 (")
        assert "2027-03-15 02:30:00-04:00" == p.next_runs[1]

    def test_caveats_join_the_description(self) -> None:
        """Helper caveats are appended to the plain-English description."""
        p = preview(FrequencySpec("Monthly", time_of_day="08:00", day_of_month=31), "UTC", AFTER)
        assert p.description_text.endswith("Months with fewer than 31 days are skipped.")

    def test_zone_is_canonicalised(self) -> None:
        """The zone is stored as the engine spells it."""
        assert "US/Eastern" == preview(FrequencySpec("Hourly"), "us/eastern", AFTER).time_zone

    @pytest.mark.parametrize(
        ("spec", "tz", "message"),
        [
            pytest.param(FrequencySpec("Cron", cron="61 * * * *"), "UTC", "minute", id="bad-field"),
            pytest.param(FrequencySpec("Cron", cron="0 0 30 2 *"), "UTC", "never", id="never"),
            pytest.param(FrequencySpec("Daily"), "Mars/Base", "unknown time zone", id="zone"),
            pytest.param(FrequencySpec("Hourly", minute=99), "UTC", "Minute must be", id="helper"),
        ],
    )
    def test_errors_block_with_a_message(self, spec: FrequencySpec, tz: str, message: str) -> None:
        """Invalid expressions, zones and helper values raise ScheduleError with a clear message."""
        with pytest.raises(ScheduleError, match=message):
            preview(spec, tz, AFTER)


def test_next_runs_error() -> None:
    """next_runs reports a bad expression as ScheduleError."""
    with pytest.raises(ScheduleError):
        next_runs("bogus", "UTC", AFTER)


def test_check_time_zone() -> None:
    """Known zones pass, unknown ones raise ScheduleError."""
    assert "Europe/Paris" == check_time_zone("Europe/Paris")
    with pytest.raises(ScheduleError, match="unknown time zone"):
        check_time_zone("Nowhere/Land")

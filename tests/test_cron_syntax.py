"""Cron syntax: fields, aliases, names, lists, ranges, steps, errors, caching, description."""

from __future__ import annotations

from datetime import datetime

import pytest

from streams import cronschedule
from streams.cron import (
    CronSchedule,
    compile_schedule,
    describe,
    iso_local,
    validate,
    validate_tz,
)
from streams.errors import CronError


def ms(text: str) -> int:
    """Epoch ms of an ISO 8601 instant with an offset."""
    return int(datetime.fromisoformat(text).timestamp()) * 1000


def utc_fires(expr: str, after: str, count: int) -> list[str]:
    """The next ``count`` fire instants in UTC, as ISO 8601."""
    schedule = compile_schedule(expr, "UTC")
    return [iso_local(t, "UTC") for t in schedule.next_n(ms(after), count)]


START = "2027-01-01T00:00:00+00:00"  # a Friday

FIRE_CASES = [
    pytest.param(
        "@yearly",
        START,
        ["2028-01-01T00:00:00+00:00", "2029-01-01T00:00:00+00:00"],
        id="alias-yearly",
    ),
    pytest.param(
        "@annually",
        START,
        ["2028-01-01T00:00:00+00:00", "2029-01-01T00:00:00+00:00"],
        id="alias-annually",
    ),
    pytest.param(
        "@monthly",
        START,
        ["2027-02-01T00:00:00+00:00", "2027-03-01T00:00:00+00:00"],
        id="alias-monthly",
    ),
    pytest.param(
        "@weekly",
        START,
        ["2027-01-03T00:00:00+00:00", "2027-01-10T00:00:00+00:00"],
        id="alias-weekly-sunday",
    ),
    pytest.param(
        "@daily",
        START,
        ["2027-01-02T00:00:00+00:00", "2027-01-03T00:00:00+00:00"],
        id="alias-daily",
    ),
    pytest.param(
        "@midnight",
        START,
        ["2027-01-02T00:00:00+00:00", "2027-01-03T00:00:00+00:00"],
        id="alias-midnight",
    ),
    pytest.param(
        "@hourly",
        START,
        ["2027-01-01T01:00:00+00:00", "2027-01-01T02:00:00+00:00"],
        id="alias-hourly",
    ),
    pytest.param(
        "@DAILY",
        START,
        ["2027-01-02T00:00:00+00:00"],
        id="alias-any-case",
    ),
    pytest.param(
        "10 * * * * *",
        START,
        ["2027-01-01T00:00:10+00:00", "2027-01-01T00:01:10+00:00"],
        id="six-fields-seconds-first",
    ),
    pytest.param(
        "*/20 * * * * *",
        START,
        ["2027-01-01T00:00:20+00:00", "2027-01-01T00:00:40+00:00", "2027-01-01T00:01:00+00:00"],
        id="six-fields-second-step",
    ),
    pytest.param(
        "0 30 9 1 1 * 2029",
        START,
        ["2029-01-01T09:30:00+00:00"],
        id="seven-fields-year",
    ),
    pytest.param(
        "0 0 0 29 2 * 2030-2040",
        START,
        ["2032-02-29T00:00:00+00:00", "2036-02-29T00:00:00+00:00", "2040-02-29T00:00:00+00:00"],
        id="seven-fields-year-range-ends",
    ),
    pytest.param(
        "0 12 * JAN,jul MON",
        START,
        ["2027-01-04T12:00:00+00:00", "2027-01-11T12:00:00+00:00"],
        id="month-and-weekday-names",
    ),
    pytest.param(
        "0 12 1 * * ",
        "2027-06-15T00:00:00+00:00",
        ["2027-07-01T12:00:00+00:00"],
        id="trailing-space",
    ),
    pytest.param(
        "0 0 * * 7",
        START,
        ["2027-01-03T00:00:00+00:00"],
        id="weekday-7-is-sunday",
    ),
    pytest.param(
        "0 0 * * 5-7",
        START,
        ["2027-01-02T00:00:00+00:00", "2027-01-03T00:00:00+00:00", "2027-01-08T00:00:00+00:00"],
        id="weekday-range-to-7",
    ),
    pytest.param(
        "5/20 * * * *",
        START,
        ["2027-01-01T00:05:00+00:00", "2027-01-01T00:25:00+00:00", "2027-01-01T00:45:00+00:00"],
        id="start-slash-step",
    ),
    pytest.param(
        "1-30/10 0 * * *",
        START,
        ["2027-01-01T00:01:00+00:00", "2027-01-01T00:11:00+00:00", "2027-01-01T00:21:00+00:00"],
        id="range-slash-step",
    ),
    pytest.param(
        "0 8,12-13 * * *",
        START,
        ["2027-01-01T08:00:00+00:00", "2027-01-01T12:00:00+00:00", "2027-01-01T13:00:00+00:00"],
        id="list-of-value-and-range",
    ),
    pytest.param(
        "0 0 13 * FRI",
        START,
        ["2027-01-08T00:00:00+00:00", "2027-01-13T00:00:00+00:00", "2027-01-15T00:00:00+00:00"],
        id="dom-dow-either-matches",
    ),
    pytest.param(
        "0 0 */2 * MON",
        START,
        ["2027-01-11T00:00:00+00:00", "2027-01-25T00:00:00+00:00", "2027-02-01T00:00:00+00:00"],
        id="dom-starting-with-star-means-both-match",
    ),
    pytest.param(
        "0 0 1 * */7",
        "2027-02-01T00:00:00+00:00",
        ["2027-08-01T00:00:00+00:00", "2028-10-01T00:00:00+00:00"],
        id="dow-starting-with-star-means-both-match",
    ),
    pytest.param(
        "0 0 31 * *",
        "2027-04-01T00:00:00+00:00",
        ["2027-05-31T00:00:00+00:00", "2027-07-31T00:00:00+00:00"],
        id="day-31-skips-30-day-months",
    ),
    pytest.param(
        "59 23 31 12 *",
        "2027-12-31T23:59:00+00:00",
        ["2028-12-31T23:59:00+00:00"],
        id="year-boundary",
    ),
]


@pytest.mark.parametrize(("expr", "after", "expected"), FIRE_CASES)
def test_fire_instants(expr: str, after: str, expected: list[str]) -> None:
    """Each syntax form fires at the instants Vixie cron (plus seconds and year) gives."""
    assert expected == utc_fires(expr, after, len(expected))


ERROR_CASES = [
    pytest.param("", "cron expression is empty", id="empty"),
    pytest.param("   ", "cron expression is empty", id="blank"),
    pytest.param("* * * *", "expected 5, 6 or 7 fields, got 4", id="four-fields"),
    pytest.param("* * * * * * * *", "expected 5, 6 or 7 fields, got 8", id="eight-fields"),
    pytest.param("61 * * * *", "minute field '61' is out of range 0-59", id="minute-61"),
    pytest.param("1,61 * * * *", "minute field '1,61' is out of range 0-59: 61", id="in-list"),
    pytest.param("1-61 * * * *", "minute field '1-61' is out of range 0-59: 61", id="in-range"),
    pytest.param("-1 * * * *", "minute field '-1' is out of range 0-59", id="negative"),
    pytest.param("0 24 * * *", "hour field '24' is out of range 0-23", id="hour-24"),
    pytest.param("0 0 0 * *", "day-of-month field '0' is out of range 1-31", id="dom-0"),
    pytest.param("0 0 32 * *", "day-of-month field '32' is out of range 1-31", id="dom-32"),
    pytest.param("0 0 * 13 *", "month field '13' is out of range 1-12", id="month-13"),
    pytest.param("0 0 * * 8", "day-of-week field '8' is out of range 0-7", id="dow-8"),
    pytest.param(
        "60 0 0 * * *",
        "second field '60' is out of range 0-59 (6 fields are: second minute hour day month "
        "weekday)",
        id="second-60",
    ),
    pytest.param("0 0 0 1 1 * 1969", "year field '1969' is out of range 1970-2099", id="year-1969"),
    pytest.param("0 0 0 1 1 * 2100", "year field '2100' is out of range 1970-2099", id="year-2100"),
    pytest.param("a * * * *", "minute field 'a': 'a' is not a number", id="letter-in-minute"),
    pytest.param(
        "0 MON * * *", "hour field 'MON': 'MON' is not a number", id="weekday-name-in-hour"
    ),
    pytest.param(
        "0 0 * FOO *",
        "month field 'FOO': 'FOO' is not a number or a name JAN-DEC",
        id="bad-month-name",
    ),
    pytest.param(
        "0 0 * * MONDAY",
        "day-of-week field 'MONDAY': 'MONDAY' is not a number or a name SUN-SAT",
        id="long-weekday-name",
    ),
    pytest.param("*/0 * * * *", "minute field '*/0': step must be at least 1, got 0", id="step-0"),
    pytest.param(
        "*/x * * * *", "minute field '*/x': step 'x' is not a number", id="step-not-number"
    ),
    pytest.param(
        "5-1 * * * *",
        "minute field '5-1': range '5-1' runs backwards (5 > 1)",
        id="backwards-range",
    ),
    pytest.param(
        "0 0 * * FRI-MON",
        "day-of-week field 'FRI-MON': range 'FRI-MON' runs backwards (5 > 1)",
        id="backwards-weekday-range",
    ),
    pytest.param("1- * * * *", "minute field '1-': range '1-' has no end", id="open-range"),
    pytest.param(
        "1,,2 * * * *", "minute field '1,,2' has an empty list item", id="empty-list-item"
    ),
    pytest.param(
        "/5 * * * *", "minute field '/5': '/5' has no value before the step", id="bare-step"
    ),
    pytest.param(
        "0 0 L * *",
        "day-of-month field 'L' is not supported (L, W, #, ?, H and R belong to other cron "
        "dialects)",
        id="unsupported-L",
    ),
    pytest.param(
        "0 0 15W * *",
        "day-of-month field '15W' is not supported (L, W, #, ?, H and R belong to other cron "
        "dialects)",
        id="unsupported-W",
    ),
    pytest.param(
        "0 0 * * 5#3",
        "day-of-week field '5#3' is not supported (L, W, #, ?, H and R belong to other cron "
        "dialects)",
        id="unsupported-hash",
    ),
    pytest.param(
        "0 0 ? * *",
        "day-of-month field '?' is not supported (L, W, #, ?, H and R belong to other cron "
        "dialects)",
        id="unsupported-question-mark",
    ),
    pytest.param(
        "H * * * *",
        "minute field 'H' is not supported (L, W, #, ?, H and R belong to other cron dialects)",
        id="unsupported-H",
    ),
    pytest.param(
        "R * * * *",
        "minute field 'R' is not supported (L, W, #, ?, H and R belong to other cron dialects)",
        id="unsupported-R",
    ),
    pytest.param(
        "0 0 * * 5L",
        "day-of-week field '5L' is not supported (L, W, #, ?, H and R belong to other cron "
        "dialects)",
        id="unsupported-last-weekday",
    ),
    pytest.param(
        "@reboot",
        "unknown alias '@reboot': expected one of @yearly, @annually, @monthly, @weekly, "
        "@daily, @midnight, @hourly",
        id="reboot",
    ),
    pytest.param("@daily 5", "alias '@daily' must be the whole expression", id="alias-with-more"),
    pytest.param(
        "0 0 30 2 *",
        "'0 0 30 2 *' can never fire: day-of-month field '30' never occurs in month field '2'",
        id="never-february-30",
    ),
    pytest.param(
        "0 0 31 4,6,9,11 *",
        "'0 0 31 4,6,9,11 *' can never fire: day-of-month field '31' never occurs in month "
        "field '4,6,9,11'",
        id="never-31-in-short-months",
    ),
    pytest.param(
        "0 0 0 29 2 * 2029-2031",
        "'0 0 0 29 2 * 2029-2031' can never fire: no day in year field '2029-2031' matches the "
        "day-of-month, month and day-of-week fields",
        id="never-leap-day-in-common-years",
    ),
    pytest.param(
        "0 0 0 1 1 */40 2028",
        "'0 0 0 1 1 */40 2028' can never fire: no day in year field '2028' matches the "
        "day-of-month, month and day-of-week fields",
        id="never-weekday-and-day-in-that-year",
    ),
]


@pytest.mark.parametrize(("expr", "message"), ERROR_CASES)
def test_invalid_expression_message(expr: str, message: str) -> None:
    """An invalid expression raises CronError whose message names the field."""
    with pytest.raises(CronError) as caught:
        compile_schedule(expr, "UTC")
    assert message == str(caught.value)


def test_non_string_expression() -> None:
    """A non-string expression is a CronError, not a TypeError."""
    with pytest.raises(CronError) as caught:
        compile_schedule(5, "UTC")  # type: ignore[arg-type]
    assert "cron expression must be a string, not int" == str(caught.value)


def test_overlong_expression() -> None:
    """An expression over 1000 characters is refused before parsing."""
    with pytest.raises(CronError) as caught:
        compile_schedule("0," * 600 + "1 * * * *", "UTC")
    assert "cron expression is longer than 1000 characters" == str(caught.value)


def test_year_in_the_past_is_refused_by_validate() -> None:
    """validate() refuses an expression that never fires after now; compile_schedule does not."""
    schedule = compile_schedule("0 0 0 1 1 * 2020", "UTC")
    with pytest.raises(CronError) as caught:
        validate("0 0 0 1 1 * 2020", "UTC", now_ms=ms("2026-05-01T00:00:00+00:00"))
    expected = (
        "'0 0 0 1 1 * 2020' can never fire after 2026-05-01T00:00:00Z: its year field '2020' "
        "is in the past"
    )
    assert (expected, None) == (str(caught.value), schedule.next_after(ms(START)))


def test_validate_returns_the_compiled_schedule() -> None:
    """validate() returns the same object as compile_schedule() for a valid pair."""
    assert compile_schedule("0 0 * * *", "UTC") is validate("0 0 * * *", "UTC")


class TestZones:
    def test_unknown_zone(self) -> None:
        """An unknown zone is a CronError naming it."""
        with pytest.raises(CronError) as caught:
            compile_schedule("0 0 * * *", "Mars/Base")
        assert "unknown time zone 'Mars/Base'" == str(caught.value)

    @pytest.mark.parametrize("name", ["", " UTC", "America/New_York\x00", "../etc/passwd"])
    def test_odd_zone_names(self, name: str) -> None:
        """Empty, padded or path-like zone names are unknown zones."""
        with pytest.raises(CronError) as caught:
            validate_tz(name)
        assert f"unknown time zone {name!r}" == str(caught.value)

    def test_canonical_spelling(self) -> None:
        """validate_tz returns pytz's spelling of a name given in another case."""
        assert ["America/New_York", "UTC", "Asia/Kolkata"] == [
            validate_tz("america/new_york"),
            validate_tz("utc"),
            validate_tz("Asia/Kolkata"),
        ]


class TestFixedTime:
    @pytest.mark.parametrize(
        ("expr", "expected"),
        [
            pytest.param("30 2 * * *", True, id="fixed"),
            pytest.param("0 9-17 * * *", True, id="hour-range-is-fixed"),
            pytest.param("*/15 * * * *", False, id="minute-step"),
            pytest.param("30 * * * *", False, id="hour-star"),
            pytest.param("0 */2 * * *", False, id="hour-star-step"),
            pytest.param("10 30 2 * * *", True, id="seconds-do-not-count"),
            pytest.param("@hourly", False, id="hourly"),
            pytest.param("@daily", True, id="daily"),
            pytest.param("@midnight", True, id="midnight"),
            pytest.param("@weekly", True, id="weekly"),
            pytest.param("@monthly", True, id="monthly"),
            pytest.param("@yearly", True, id="yearly"),
            pytest.param("@annually", True, id="annually"),
        ],
    )
    def test_fixed_time_flag(self, expr: str, expected: bool) -> None:
        """fixed_time is Debian's rule: neither minute nor hour starts with '*'."""
        assert expected == compile_schedule(expr, "UTC").fixed_time


class TestCaching:
    def test_same_pair_same_object(self) -> None:
        """compile_schedule returns one shared object per (expression, zone)."""
        first = compile_schedule("*/5 * * * *", "Europe/Paris")
        assert first is compile_schedule("*/5 * * * *", "Europe/Paris")

    def test_normalized_spellings_share_one_object(self) -> None:
        """Spellings differing in whitespace or zone case share one schedule."""
        first = compile_schedule("*/5  *\t* * *", "europe/paris")
        second = compile_schedule(" */5 * * * * ", "Europe/Paris")
        assert (first, "*/5 * * * *", "Europe/Paris") == (second, second.expr, second.tz)
        assert first is second

    def test_different_zone_different_object(self) -> None:
        """The same expression in another zone is another schedule."""
        paris = compile_schedule("0 3 * * *", "Europe/Paris")
        berlin = compile_schedule("0 3 * * *", "Europe/Berlin")
        assert (False, "Europe/Berlin") == (paris is berlin, berlin.tz)

    def test_repeated_question_is_not_recomputed(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """next_after with an after_ms already asked is answered from the memo."""
        schedule = compile_schedule("0 4 * * *", "Asia/Tokyo")
        calls: list[int] = []
        original = CronSchedule._next_second

        def counting(self: CronSchedule, after: int) -> int | None:
            calls.append(after)
            return original(self, after)

        monkeypatch.setattr(CronSchedule, "_next_second", counting)
        after = ms("2031-07-01T00:00:00+00:00") + 123
        answers = [schedule.next_after(after) for _ in range(1000)]
        assert ([answers[0]] * 1000, 1) == (answers, len(calls))

    def test_memo_is_bounded(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """The memo keeps recent answers only: an old question is computed again."""
        monkeypatch.setattr(cronschedule, "MEMO_ENTRIES", 100)
        schedule = compile_schedule("0 5 * * *", "Asia/Tokyo")
        calls: list[int] = []
        original = CronSchedule._next_second

        def counting(self: CronSchedule, after: int) -> int | None:
            calls.append(after)
            return original(self, after)

        monkeypatch.setattr(CronSchedule, "_next_second", counting)
        base = ms("2031-07-01T00:00:00+00:00")
        for k in range(110):
            schedule.next_after(base + k * 1000)
        schedule.next_after(base)
        assert (111, 100) == (len(calls), cronschedule.memo_size())


class TestNextAfter:
    def test_strictly_after_a_fire_instant(self) -> None:
        """Asking at a fire instant gives the next one, not the same one."""
        schedule = compile_schedule("0 12 * * *", "UTC")
        noon = ms("2027-05-05T12:00:00+00:00")
        assert (noon, ms("2027-05-06T12:00:00+00:00")) == (
            schedule.next_after(noon - 1),
            schedule.next_after(noon),
        )

    def test_milliseconds_before_a_second(self) -> None:
        """A fire instant 1 ms after after_ms is found; one at after_ms is not."""
        schedule = compile_schedule("* * * * * *", "UTC")
        base = ms("2027-05-05T12:00:00+00:00")
        assert [base + 1000, base + 1000, base] == [
            schedule.next_after(base),
            schedule.next_after(base + 999),
            schedule.next_after(base - 1),
        ]

    @pytest.mark.parametrize(
        "expr", ["* * * * * *", "*/7 * * * *", "0 0 13 * FRI", "0 0 29 2 *", "@hourly"]
    )
    def test_results_strictly_increase(self, expr: str) -> None:
        """next_n gives strictly increasing instants, each equal to next_after of the last."""
        schedule = compile_schedule(expr, "America/New_York")
        instants = schedule.next_n(ms("2027-03-01T00:00:00+00:00"), 50)
        chained = [schedule.next_after(t) for t in instants[:-1]]
        assert (50, sorted(set(instants)), instants[1:]) == (len(instants), instants, chained)

    def test_year_field_runs_out(self) -> None:
        """A year field limits how many instants there are; then next_after is None."""
        schedule = compile_schedule("0 0 0 1 1 * 2030-2031", "UTC")
        instants = schedule.next_n(ms(START), 5)
        assert (2, None) == (len(instants), schedule.next_after(instants[-1]))

    def test_next_n_zero(self) -> None:
        """next_n with n = 0 is an empty list."""
        assert [] == compile_schedule("@daily", "UTC").next_n(ms(START), 0)


DESCRIPTIONS = [
    pytest.param("30 2 * * *", "At 02:30 every day", id="daily-time"),
    pytest.param("*/15 * * * *", "Every 15 minutes", id="every-15-minutes"),
    pytest.param("* * * * *", "Every minute", id="every-minute"),
    pytest.param("0 0 1 * *", "At 00:00 on day 1 of every month", id="monthly"),
    pytest.param("10 * * * * *", "At second 10 of every minute", id="second-10"),
    pytest.param("* * * * * *", "Every second", id="every-second"),
    pytest.param("*/10 * * * * *", "Every 10 seconds", id="every-10-seconds"),
    pytest.param("10 30 2 * * *", "At 02:30:10 every day", id="time-with-seconds"),
    pytest.param(
        "*/10 30 2 * * *", "Every 10 seconds from 02:30:00 through 02:30:59", id="seconds-in-minute"
    ),
    pytest.param("0 * * * *", "At minute 0 of every hour", id="hourly"),
    pytest.param("5,35 * * * *", "At minutes 5 and 35 of every hour", id="two-minutes"),
    pytest.param("0 */2 * * *", "At minute 0 of every 2 hours", id="every-2-hours"),
    pytest.param("*/15 9-17 * * *", "Every 15 minutes of hours 9 through 17", id="work-hours"),
    pytest.param("0 9,17 * * *", "At 09:00 and 17:00 every day", id="two-times"),
    pytest.param("0 9 * * MON-FRI", "At 09:00 on Monday through Friday", id="weekdays"),
    pytest.param("0 0 1 JAN,JUL *", "At 00:00 on day 1 of January and July", id="two-months"),
    pytest.param("*/15 * * JAN *", "Every 15 minutes in January", id="one-month"),
    pytest.param(
        "0 0 13 * FRI",
        "At 00:00 on day 13 of every month and on every Friday",
        id="dom-or-dow",
    ),
    pytest.param(
        "5/10 * * * *", "At minutes 5 through 55 in steps of 10 of every hour", id="offset-step"
    ),
    pytest.param("0 0 0 1 1 * 2030", "At 00:00 on day 1 of January in 2030", id="year"),
    pytest.param("@yearly", "At 00:00 on day 1 of January", id="alias-yearly"),
    pytest.param("@monthly", "At 00:00 on day 1 of every month", id="alias-monthly"),
    pytest.param("@weekly", "At 00:00 on Sunday", id="alias-weekly"),
    pytest.param("@daily", "At 00:00 every day", id="alias-daily"),
    pytest.param("@hourly", "At minute 0 of every hour", id="alias-hourly"),
]


@pytest.mark.parametrize(("expr", "expected"), DESCRIPTIONS)
def test_describe(expr: str, expected: str) -> None:
    """describe() gives a plain-English sentence."""
    assert expected == describe(expr)


def test_describe_method_matches_function() -> None:
    """CronSchedule.describe() is describe() of its expression."""
    assert describe("0 9 * * MON-FRI") == compile_schedule("0 9 * * MON-FRI", "UTC").describe()


class TestIsoLocal:
    @pytest.mark.parametrize(
        ("instant", "tz", "expected"),
        [
            pytest.param(
                "2027-03-14T07:00:00+00:00",
                "America/New_York",
                "2027-03-14T03:00:00-04:00",
                id="ny",
            ),
            pytest.param(
                "2027-01-01T00:00:00+00:00",
                "Australia/Lord_Howe",
                "2027-01-01T11:00:00+11:00",
                id="lhi",
            ),
            pytest.param(
                "2027-07-01T00:00:00+00:00",
                "Australia/Lord_Howe",
                "2027-07-01T10:30:00+10:30",
                id="lhi-winter",
            ),
            pytest.param("2027-01-01T00:00:00+00:00", "UTC", "2027-01-01T00:00:00+00:00", id="utc"),
            pytest.param(
                "2027-01-01T00:00:00+00:00", "Etc/GMT+5", "2026-12-31T19:00:00-05:00", id="static"
            ),
        ],
    )
    def test_formats(self, instant: str, tz: str, expected: str) -> None:
        """iso_local gives ISO 8601 on the zone's wall clock with its offset."""
        assert expected == iso_local(ms(instant), tz)

    def test_milliseconds_shown_when_present(self) -> None:
        """An instant with milliseconds keeps them."""
        assert "2027-01-01T00:00:00.250+00:00" == iso_local(ms(START) + 250, "UTC")


def test_validate_refuses_an_instant_outside_the_years_1_to_9999() -> None:
    """``validate`` with an out-of-range ``now`` is a CronError naming it (it was a
    ValueError from datetime while building the message)."""
    with pytest.raises(CronError, match="instant 253402300800000 ms is outside the years 1-9999"):
        validate("0 0 1 1 *", "UTC", now_ms=253_402_300_800_000)

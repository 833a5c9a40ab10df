"""``btu-scheduler explain``: output, JSON, and one-line errors with exit code 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from btu_scheduler.cli import main

_SCRIPT = Path(sys.executable).parent / "btu-scheduler"
# The installed console script; in an environment without it, the same entry point.
ENTRY_POINT = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "btu_scheduler.cli"]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Exit code, stdout and stderr of ``btu-scheduler explain ARGV``."""
    code = main(["explain", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_human_output_flags_the_moved_instant(capsys: pytest.CaptureFixture[str]) -> None:
    """The listing shows the description, both clocks, and the DST note."""
    code, out, err = run(
        capsys,
        "30 2 * * *",
        "--tz",
        "America/New_York",
        "--after",
        "2027-03-13T12:00:00-05:00",
        "--count",
        "2",
    )
    expected = (
        "At 02:30 every day (America/New_York)\n"
        "  next 2 after 2027-03-13T12:00:00-05:00:\n"
        "  2027-03-14T03:00:00-04:00   2027-03-14T07:00:00Z   02:30 does not exist on "
        "2027-03-14 (clocks went forward); fired at 03:00 EDT instead\n"
        "  2027-03-15T02:30:00-04:00   2027-03-15T06:30:00Z\n"
    )
    assert (0, expected, "") == (code, out, err)


def test_json_output(capsys: pytest.CaptureFixture[str]) -> None:
    """--json prints one object with the expression, zone, description and instants."""
    code, out, _ = run(
        capsys,
        "30 1 * * *",
        "--tz",
        "America/New_York",
        "--after",
        "2027-11-07T00:00:00Z",
        "--count",
        "2",
        "--json",
    )
    expected = {
        "expr": "30 1 * * *",
        "tz": "America/New_York",
        "description": "At 01:30 every day",
        "fixed_time": True,
        "after": "2027-11-06T20:00:00-04:00",
        "instants": [
            {
                "utc_ms": 1825565400000,
                "local": "2027-11-07T01:30:00-04:00",
                "utc": "2027-11-07T05:30:00Z",
                "note": "01:30 happens twice on 2027-11-07 (clocks went back); fired at the "
                "first one only",
            },
            {
                "utc_ms": 1825655400000,
                "local": "2027-11-08T01:30:00-05:00",
                "utc": "2027-11-08T06:30:00Z",
                "note": "",
            },
        ],
    }
    assert (0, expected, 1) == (code, orjson.loads(out), out.count("\n"))


def test_default_count_and_zone(capsys: pytest.CaptureFixture[str]) -> None:
    """Without --count and --tz there are 5 instants, in UTC."""
    code, out, _ = run(capsys, "@daily", "--after", "2027-01-01T00:00:00Z", "--json")
    document = orjson.loads(out)
    expected = [f"2027-01-0{d}T00:00:00+00:00" for d in range(2, 7)]
    assert (0, "UTC", expected) == (
        code,
        document["tz"],
        [i["local"] for i in document["instants"]],
    )


def test_naive_after_is_read_in_the_zone(capsys: pytest.CaptureFixture[str]) -> None:
    """An --after without an offset is a wall time in --tz."""
    _, out, _ = run(
        capsys, "0 * * * *", "--tz", "Asia/Kolkata", "--after", "2027-01-01T09:10", "--json"
    )
    document = orjson.loads(out)
    assert ("2027-01-01T09:10:00+05:30", "2027-01-01T10:00:00+05:30") == (
        document["after"],
        document["instants"][0]["local"],
    )


def test_epoch_ms_after(capsys: pytest.CaptureFixture[str]) -> None:
    """An integer --after is epoch milliseconds."""
    _, out, _ = run(capsys, "@hourly", "--after", "1798761600000", "--count", "1", "--json")
    assert "2027-01-01T01:00:00Z" == orjson.loads(out)["instants"][0]["utc"]


def test_fields_as_separate_words(capsys: pytest.CaptureFixture[str]) -> None:
    """The expression may be passed as several words."""
    _, out, _ = run(capsys, "0", "12", "*", "*", "*", "--after", "1798761600000", "--json")
    assert ("0 12 * * *", "2027-01-01T12:00:00Z") == (
        orjson.loads(out)["expr"],
        orjson.loads(out)["instants"][0]["utc"],
    )


def test_wall_clock_job_mentions_skipped_times(capsys: pytest.CaptureFixture[str]) -> None:
    """A job with '*' in the hour names the wall times a jump forward skipped."""
    _, out, _ = run(
        capsys,
        "30 * * * *",
        "--tz",
        "Europe/London",
        "--after",
        "2027-03-28T00:45:00+00:00",
        "--count",
        "1",
    )
    expected = (
        "  2027-03-28T02:30:00+01:00   2027-03-28T01:30:00Z   01:30 was skipped on 2027-03-28: "
        "it does not exist (clocks went forward)"
    )
    assert expected == out.splitlines()[-1]


BAD_INPUT = [
    pytest.param(["61 * * * *"], "error: minute field '61' is out of range 0-59", id="minute"),
    pytest.param(["* * * *"], "error: expected 5, 6 or 7 fields, got 4", id="field-count"),
    pytest.param(
        ["0 0 L * *"],
        "error: day-of-month field 'L' is not supported (L, W, #, ?, H and R belong to other "
        "cron dialects)",
        id="unsupported",
    ),
    pytest.param(
        ["@daily", "--tz", "Mars/Base"], "error: unknown time zone 'Mars/Base'", id="zone"
    ),
    pytest.param(
        ["@daily", "--count", "0"],
        "error: --count '0' must be a whole number from 1 to 1000",
        id="count-zero",
    ),
    pytest.param(
        ["@daily", "--count", "1001"],
        "error: --count '1001' must be a whole number from 1 to 1000",
        id="count-too-big",
    ),
    pytest.param(
        ["@daily", "--count", "five"],
        "error: --count 'five' must be a whole number from 1 to 1000",
        id="count-not-number",
    ),
    pytest.param(
        ["@daily", "--after", "yesterday"],
        "error: --after 'yesterday' is not an ISO 8601 instant (e.g. 2027-03-14T02:30:00-04:00, "
        "2027-03-14T07:30:00Z or 2027-03-14T02:30)",
        id="after",
    ),
    pytest.param(
        ["0 0 30 2 *"],
        "error: '0 0 30 2 *' can never fire: day-of-month field '30' never occurs in month "
        "field '2'",
        id="never",
    ),
    pytest.param(
        ["0 0 0 1 1 * 2020", "--after", "2026-01-01T00:00:00Z"],
        "error: '0 0 0 1 1 * 2020' can never fire after 2026-01-01T00:00:00Z: its year field "
        "'2020' is in the past",
        id="year-in-past",
    ),
    pytest.param(
        ["0 12 * * *", "--tz", "America/New_York", "--after", "9999-12-31T23:59:59"],
        "error: --after '9999-12-31T23:59:59' is outside the years 1-9999 (in UTC or in "
        "America/New_York), the range of instants the scheduler handles",
        id="after-wall-time-past-9999-utc",
    ),
    pytest.param(
        ["0 12 * * *", "--tz", "America/New_York", "--after", "0001-01-01T00:00Z"],
        "error: --after '0001-01-01T00:00Z' is outside the years 1-9999 (in UTC or in "
        "America/New_York), the range of instants the scheduler handles",
        id="after-before-year-1-on-the-wall-clock",
    ),
    pytest.param(
        ["0 12 * * *", "--after", "-9999999999999999"],
        "error: --after '-9999999999999999' is outside the years 1-9999 (in UTC or in UTC), "
        "the range of instants the scheduler handles",
        id="after-huge-negative-epoch-ms",
    ),
    pytest.param(
        ["0 12 * * *", "--after", "9999999999999999"],
        "error: --after '9999999999999999' is outside the years 1-9999 (in UTC or in UTC), "
        "the range of instants the scheduler handles",
        id="after-huge-epoch-ms",
    ),
    pytest.param(
        ["59 23 31 12 *", "--tz", "America/New_York", "--after", "9999-06-01T00:00:00Z"],
        "error: '59 23 31 12 *' can never fire after 9999-06-01T00:00:00Z",
        id="next-instant-past-9999-utc",
    ),
    pytest.param(
        ["61\n* * * *"],
        "error: minute field '61' is out of range 0-59",
        id="newline-in-expression",
    ),
]


@pytest.mark.parametrize(("argv", "expected"), BAD_INPUT)
def test_bad_input_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], argv: list[str], expected: str
) -> None:
    """Bad input exits with 2, prints nothing on stdout and one line on stderr."""
    code, out, err = run(capsys, *argv)
    assert (2, "", expected + "\n") == (code, out, err)


def test_usage_error_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    """A missing expression is an argparse usage error with exit code 2."""
    with pytest.raises(SystemExit) as caught:
        main(["explain"])
    _, err = capsys.readouterr()
    assert (2, True) == (caught.value.code, "the following arguments are required: CRON" in err)


def test_installed_command() -> None:
    """The installed btu-scheduler script runs explain in a fresh process."""
    done = subprocess.run(
        [
            *ENTRY_POINT,
            "explain",
            "*/30 * * * *",
            "--tz",
            "America/New_York",
            "--after",
            "2027-11-07T05:15:00Z",
            "--count",
            "3",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    document = orjson.loads(done.stdout)
    expected = ["2027-11-07T05:30:00Z", "2027-11-07T06:00:00Z", "2027-11-07T06:30:00Z"]
    assert (0, "", expected) == (
        done.returncode,
        done.stderr,
        [i["utc"] for i in document["instants"]],
    )


def test_installed_command_bad_input() -> None:
    """The installed script exits 2 with one line on stderr and no traceback."""
    done = subprocess.run(
        [*ENTRY_POINT, "explain", "0 0 * 13 *"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (2, "", "error: month field '13' is out of range 1-12\n") == (
        done.returncode,
        done.stdout,
        done.stderr,
    )


def test_cli_instants_are_exact_at_the_end_of_time() -> None:
    """The control commands print epoch ms as ISO 8601 exactly (no float rounding at
    9999-12-31T23:59:59.999Z), and a number outside the years 1-9999 as itself."""
    from btu_scheduler.commands import _iso

    assert [
        "9999-12-31T23:59:59.999+00:00",
        "2027-01-15T08:00:00.001+00:00",
        "10000000000000000000 ms",
        "-",
    ] == [_iso(253_402_300_799_999), _iso(1_800_000_000_001), _iso(10**19), _iso(None)]

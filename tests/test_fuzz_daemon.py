"""Property-based fuzzing of a live daemon: arbitrary stream entries and RPC requests
never crash it, and every entry it cannot use is dead-lettered with a reason."""

from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streams.cron import compile_schedule
from streams.errors import CronError, ProtocolError
from streams.keys import F
from streams.messages import RpcRequest, ScheduleUpsert, decode_schedule_event
from tests.harness import Stack, now_ms, wait_for

pytestmark = pytest.mark.slow

SCHEDULE_FIELDS = ["v", "op", "id", "kind", "task", "cron", "tz", "at", "enabled", "ts", "x"]
RPC_FIELDS = ["v", "rid", "cmd", "arg", "ts", "deadline", "x"]
NEAR_VALUES = st.sampled_from([
    "1", "0", "2", "", "upsert", "delete", "cron", "once", "TS-F-1", "* * * * *",
    "*/5 * * * * *", "61 * * * *", "0 0 30 2 *", "UTC", "Europe/London", "Mars/Base",
    "1795747880000", "-1", "1.5", "99999999999999999999999", "ping", "next", "reload",
    "x" * 300, "\x00", "é",
])  # fmt: skip


def _entries(fields: list[str]) -> st.SearchStrategy[list[dict[str, str | bytes]]]:
    key = st.one_of(st.sampled_from(fields), st.text(min_size=1, max_size=8))
    value = st.one_of(NEAR_VALUES, st.text(max_size=20), st.binary(max_size=8))
    return st.lists(st.dictionaries(key, value, min_size=1, max_size=9), min_size=1, max_size=6)


def _schedule_entry_is_bad(fields: dict[str, str | bytes]) -> bool:
    try:
        event = decode_schedule_event(fields)
        if isinstance(event, ScheduleUpsert) and event.cron and event.tz:
            compile_schedule(event.cron, event.tz)
    except (ProtocolError, CronError):
        return True
    return False


def _rpc_entry_is_bad(fields: dict[str, str | bytes]) -> bool:
    try:
        RpcRequest.decode(fields)
    except ProtocolError:
        return True
    return False


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(schedule_entries=_entries(SCHEDULE_FIELDS), rpc_entries=_entries(RPC_FIELDS))
def test_fuzzed_entries_never_crash_and_bad_ones_are_dead_lettered(
    stack: Stack,
    schedule_entries: list[dict[str, str | bytes]],
    rpc_entries: list[dict[str, str | bytes]],
) -> None:
    """Whatever lands on the schedules and RPC streams, the daemon keeps answering and
    dead-letters exactly the entries it cannot parse, each with a reason."""
    if not stack.daemons:
        stack.start_daemon("fuzz")
    before = len(stack.dead())
    for fields in schedule_entries:
        stack.r.xadd(stack.keys.schedules, fields)
    for fields in rpc_entries:
        stack.r.xadd(stack.keys.rpc, fields)
    expected = sum(map(_schedule_entry_is_bad, schedule_entries)) + sum(
        map(_rpc_entry_is_bad, rpc_entries)
    )
    wait_for(lambda: len(stack.dead()) >= before + expected, 5)
    time.sleep(0.05)
    new = stack.dead()[before:]
    assert expected == len(new)
    assert all(d[F.REASON] and d[F.SOURCE] and d[F.ENTRY] for d in new)
    ping = stack.ping(2.0)
    assert ping.get("instance") == "fuzz" and stack.daemons[0].alive
    assert ping["uptime_s"] >= 0 and now_ms() > 0

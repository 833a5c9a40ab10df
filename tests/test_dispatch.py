"""Sending fires (btu_scheduler/fire/dispatch.py) on a real Redis with fake endpoints.

A fake endpoint is any object with ``enqueue(item_id, kind, due, fire_id) -> Result`` and
``close()``. Records are awaited with blocking XREADs under a deadline, never a fixed
sleep; the dispatcher's ``sent`` times come from the FakeClock.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
import structlog

from btu_scheduler.engine import Fire
from btu_scheduler.fire.answers import Result
from btu_scheduler.fire.dispatch import (
    ALREADY_FIRED,
    CLAIMED,
    DUPLICATE,
    FENCED,
    Dispatcher,
    DispatchSettings,
    OutcomeHook,
)
from btu_scheduler.fire.sender import ThreadedSender
from btu_scheduler.recovery import Recovery
from btu_scheduler.stats import Stats
from streams.keys import Keys, Outcome
from streams.messages import FireRecord
from tests.conftest import FakeClock

TOKEN = '{"instance":"test-a","epoch":1800000000000}'
INSTANCE = "test-a"
T0 = 1_800_000_000_000  # the FakeClock's start, in ms
DUE = T0 - 250
TTL_MS = 3_600_000

Answer = Result | Callable[[str, int], Result]


class FakeEndpoint:
    """Answers from a script (the last answer repeats); records every call."""

    def __init__(self, *answers: Answer) -> None:
        self.answers = list(answers) or [Result(Outcome.ENQUEUED, http=200, job="job-1")]
        self.calls: list[tuple[str, str, int, str]] = []
        self.entered = threading.Event()
        self.closed = False
        self._lock = threading.Lock()

    def enqueue(self, item_id: str, kind: str, due: int, fire_id: str) -> Result:
        with self._lock:
            n = len(self.calls)
            self.calls.append((item_id, kind, due, fire_id))
        self.entered.set()
        answer = self.answers[min(n, len(self.answers) - 1)]
        return answer(item_id, due) if callable(answer) else answer

    def close(self) -> None:
        self.closed = True


def blocking(release: threading.Event, result: Result | None = None) -> Answer:
    """An answer that waits for ``release`` (at most 5 s) before answering."""

    def answer(_item_id: str, _due: int) -> Result:
        release.wait(5)
        return result or Result(Outcome.ENQUEUED, http=200, job="slow")

    return answer


def fire(item_id: str = "TS-1", due: int = DUE, missed: bool = False) -> Fire:
    return Fire(item_id, "cron", "task", due, missed=missed)


def text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def read_fires(
    r: redis.Redis, keys: Keys, count: int, timeout: float = 5.0
) -> list[dict[str, str]]:
    """Wait (blocking XREAD, under a deadline) for ``count`` entries of the fires stream."""
    return [fields for _eid, fields in read_entries(r, keys, count, timeout)]


def read_entries(
    r: redis.Redis, keys: Keys, count: int, timeout: float = 5.0
) -> list[tuple[str, dict[str, str]]]:
    out: list[tuple[str, dict[str, str]]] = []
    last = "0-0"
    deadline = time.monotonic() + timeout
    while len(out) < count:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        reply = r.xread({keys.fires: last}, block=max(1, int(min(remaining, 0.25) * 1000)))
        for _stream, entries in reply or []:
            for eid, raw in entries:
                last = text(eid)
                out.append((last, {text(k): text(v) for k, v in raw.items()}))
    return out


def all_fires(r: redis.Redis, keys: Keys) -> list[dict[str, str]]:
    return [{text(k): text(v) for k, v in raw.items()} for _eid, raw in r.xrange(keys.fires)]


def wait_until(predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.005)
    return predicate()


@pytest.fixture
def release() -> Iterator[threading.Event]:
    """Lets blocked fake endpoint calls finish; set at teardown whatever happened."""
    event = threading.Event()
    yield event
    event.set()


@pytest.fixture
def make_dispatcher(
    real_redis: redis.Redis, keys: Keys, clock: FakeClock, release: threading.Event
) -> Iterator[Callable[..., Dispatcher]]:
    """Builds dispatchers (leader token in place) and shuts them all down afterwards."""
    made: list[Dispatcher] = []
    real_redis.set(keys.leader, TOKEN)

    def make(endpoint: Any, on_outcome: OutcomeHook | None = None, **overrides: Any) -> Dispatcher:
        defaults = {"retry_initial_s": 0.01, "retry_max_s": 0.05, "fired_ttl_ms": TTL_MS}
        settings = DispatchSettings(instance=INSTANCE, **(defaults | overrides))
        sender = ThreadedSender(endpoint.enqueue, settings.concurrency, clock)
        d = Dispatcher(real_redis, keys, sender, settings, clock=clock, on_outcome=on_outcome)
        made.append(d)
        return d

    yield make
    release.set()
    for d in made:
        d.shutdown(1.0)


def claim_one(d: Dispatcher, f: Fire, token: str = TOKEN) -> tuple[int, str]:
    [(_fire, code, previous)] = d.claim([f], token)
    return code, previous


class TestClaim:
    def test_claimed_then_duplicate(self, make_dispatcher: Callable[..., Dispatcher]) -> None:
        """The first claim of a fire_id wins and a second claim of it is a DUPLICATE."""
        # PROTOCOL.md "Firing" step 2: the marker exists, so the fire is a duplicate and
        # is recorded; ALREADY_FIRED (which the daemon only logs at debug) is for older dues.
        d = make_dispatcher(FakeEndpoint())
        assert [(CLAIMED, ""), (DUPLICATE, str(DUE))] == [
            claim_one(d, fire()),
            claim_one(d, fire()),
        ]

    def test_already_fired_when_last_fire_is_later(
        self, real_redis: redis.Redis, keys: Keys, make_dispatcher: Callable[..., Dispatcher]
    ) -> None:
        """A fire older than the item's recorded last fire is ALREADY_FIRED, setting no marker."""
        d = make_dispatcher(FakeEndpoint())
        real_redis.hset(keys.last_fire, "TS-1", str(DUE + 60_000))
        assert ((ALREADY_FIRED, str(DUE + 60_000)), 0) == (
            claim_one(d, fire()),
            real_redis.exists(keys.fired(fire().fire_id)),
        )

    def test_already_fired_when_last_fire_equal_and_marker_gone(
        self, real_redis: redis.Redis, keys: Keys, make_dispatcher: Callable[..., Dispatcher]
    ) -> None:
        """A fire whose due is the recorded last fire (marker expired) is ALREADY_FIRED."""
        d = make_dispatcher(FakeEndpoint())
        real_redis.hset(keys.last_fire, "TS-1", str(DUE))
        assert (ALREADY_FIRED, str(DUE)) == claim_one(d, fire())

    @pytest.mark.parametrize("leader", [None, '{"instance":"other","epoch":1}', TOKEN + " "])
    def test_fenced_writes_nothing(
        self,
        real_redis: redis.Redis,
        keys: Keys,
        make_dispatcher: Callable[..., Dispatcher],
        leader: str | None,
    ) -> None:
        """A token that is not the current lease value is FENCED and writes nothing."""
        d = make_dispatcher(FakeEndpoint())
        real_redis.delete(keys.leader)
        if leader is not None:
            real_redis.set(keys.leader, leader)
        assert (FENCED, 0, None) == (
            claim_one(d, fire())[0],
            real_redis.exists(keys.fired(fire().fire_id)),
            real_redis.hget(keys.last_fire, "TS-1"),
        )

    def test_claim_writes_last_fire_and_marker_with_ttl(
        self, real_redis: redis.Redis, keys: Keys, make_dispatcher: Callable[..., Dispatcher]
    ) -> None:
        """A claim records the due in last-fire and sets the marker with an expiry."""
        d = make_dispatcher(FakeEndpoint())
        real_redis.hset(keys.last_fire, "TS-1", str(DUE - 60_000))
        code, previous = claim_one(d, fire())
        pttl = real_redis.pttl(keys.fired(fire().fire_id))
        assert (CLAIMED, str(DUE - 60_000), str(DUE), f"claimed {INSTANCE}", True) == (
            code,
            previous,
            text(real_redis.hget(keys.last_fire, "TS-1")),
            text(real_redis.get(keys.fired(fire().fire_id))),
            0 < pttl <= TTL_MS,
        )

    def test_claim_to_send_is_in_flight_until_recorded(
        self, real_redis: redis.Redis, keys: Keys, make_dispatcher: Callable[..., Dispatcher]
    ) -> None:
        """A claimed fire to be sent is in inflight (score: its due) until its outcome is
        recorded; a missed one never is."""
        d = make_dispatcher(FakeEndpoint())
        d.claim([fire(), fire("TS-2", missed=True)], TOKEN)
        claimed = {text(m): s for m, s in real_redis.zrange(keys.inflight, 0, -1, withscores=True)}
        d.submit(fire())
        read_fires(real_redis, keys, 1)
        wait_until(lambda: real_redis.zcard(keys.inflight) == 0)
        assert ({fire().fire_id: DUE}, 0) == (claimed, real_redis.zcard(keys.inflight))

    def test_missed_fire_marker(
        self, real_redis: redis.Redis, keys: Keys, make_dispatcher: Callable[..., Dispatcher]
    ) -> None:
        """Claiming a missed fire marks it 'missed' and still advances last-fire."""
        d = make_dispatcher(FakeEndpoint())
        code, _ = claim_one(d, fire(missed=True))
        assert (CLAIMED, "missed", str(DUE)) == (
            code,
            text(real_redis.get(keys.fired(fire().fire_id))),
            text(real_redis.hget(keys.last_fire, "TS-1")),
        )

    def test_duplicate_when_marker_exists(
        self, real_redis: redis.Redis, keys: Keys, make_dispatcher: Callable[..., Dispatcher]
    ) -> None:
        """A fire whose marker exists (claimed elsewhere) is a DUPLICATE and changes nothing."""
        d = make_dispatcher(FakeEndpoint())
        real_redis.set(keys.fired(fire().fire_id), "claimed other")
        assert ((DUPLICATE, ""), "claimed other", None) == (
            claim_one(d, fire()),
            text(real_redis.get(keys.fired(fire().fire_id))),
            real_redis.hget(keys.last_fire, "TS-1"),
        )

    def test_batch(
        self, real_redis: redis.Redis, keys: Keys, make_dispatcher: Callable[..., Dispatcher]
    ) -> None:
        """One claim call answers for every fire of a batch, in order."""
        d = make_dispatcher(FakeEndpoint())
        real_redis.set(keys.fired(fire("B").fire_id), "claimed other")
        real_redis.hset(keys.last_fire, "C", str(DUE + 1))
        batch = [fire("A"), fire("B"), fire("C"), fire("D", DUE + 1)]
        got = [(f.id, code) for f, code, _prev in d.claim(batch, TOKEN)]
        expected = [("A", CLAIMED), ("B", DUPLICATE), ("C", ALREADY_FIRED), ("D", CLAIMED)]
        assert expected == got


class TestSubmit:
    def test_enqueued_record_and_marker(
        self, real_redis: redis.Redis, keys: Keys, make_dispatcher: Callable[..., Dispatcher]
    ) -> None:
        """A send writes one full 'enqueued' entry and marks the fire done, keeping its TTL."""
        endpoint = FakeEndpoint(Result(Outcome.ENQUEUED, http=200, job="TS-1_1799999999750"))
        d = make_dispatcher(endpoint)
        f = fire()
        claim_one(d, f)
        assert True is d.submit(f)
        [record] = read_fires(real_redis, keys, 1)
        marker_key = keys.fired(f.fire_id)
        wait_until(lambda: real_redis.get(marker_key) == b"done")
        expected = {
            "v": "1", "fire_id": f"TS-1@{DUE}", "id": "TS-1", "due": str(DUE), "sent": str(T0),
            "lag_ms": "250", "outcome": "enqueued", "http": "200", "job": "TS-1_1799999999750",
            "attempt": "1", "instance": INSTANCE, "detail": "",
        }  # fmt: skip
        assert (expected, "done", True, [("TS-1", "cron", DUE, f"TS-1@{DUE}")]) == (
            record,
            text(real_redis.get(marker_key)),
            real_redis.pttl(marker_key) > 0,
            endpoint.calls,
        )

    def test_record_decodes(
        self, real_redis: redis.Redis, keys: Keys, make_dispatcher: Callable[..., Dispatcher]
    ) -> None:
        """The entry written is readable with FireRecord.decode."""
        d = make_dispatcher(FakeEndpoint())
        d.submit(fire())
        [record] = read_fires(real_redis, keys, 1)
        expected = FireRecord(
            fire_id=f"TS-1@{DUE}", id="TS-1", due=DUE, sent=T0, outcome="enqueued",
            instance=INSTANCE, attempt=1, http=200, job="job-1",
        )  # fmt: skip
        assert expected == FireRecord.decode(record)

    def test_duplicate_answer(
        self, real_redis: redis.Redis, keys: Keys, make_dispatcher: Callable[..., Dispatcher]
    ) -> None:
        """The app's duplicate answer is recorded as 'duplicate' and the marker is done."""
        d = make_dispatcher(FakeEndpoint(Result(Outcome.DUPLICATE, http=200, job="j")))
        claim_one(d, fire())
        d.submit(fire())
        [record] = read_fires(real_redis, keys, 1)
        wait_until(lambda: real_redis.get(keys.fired(fire().fire_id)) == b"done")
        assert ("duplicate", "done") == (
            record["outcome"],
            text(real_redis.get(keys.fired(fire().fire_id))),
        )

    def test_retries_then_succeeds(
        self, real_redis: redis.Redis, keys: Keys, make_dispatcher: Callable[..., Dispatcher]
    ) -> None:
        """Two transient failures then success give retrying, retrying, enqueued with
        attempts 1, 2, 3."""
        retry = Result(Outcome.RETRYING, http=503, detail="busy")
        endpoint = FakeEndpoint(retry, retry, Result(Outcome.ENQUEUED, http=200, job="j"))
        d = make_dispatcher(endpoint)
        d.submit(fire())
        records = read_fires(real_redis, keys, 3)
        got = [(r["outcome"], r["attempt"], r["http"], r["detail"]) for r in records]
        busy = "HTTP 503: busy"
        expected = [("retrying", "1", "503", busy), ("retrying", "2", "503", busy),
                    ("enqueued", "3", "200", "")]  # fmt: skip
        assert (expected, 3) == (got, len(endpoint.calls))

    def test_permanent_failure(
        self, real_redis: redis.Redis, keys: Keys, make_dispatcher: Callable[..., Dispatcher]
    ) -> None:
        """A permanent failure is one 'failed' entry, no retry, and a 'failed' marker."""
        endpoint = FakeEndpoint(Result(Outcome.FAILED, http=404, detail="no such method"))
        d = make_dispatcher(endpoint)
        claim_one(d, fire())
        d.submit(fire())
        read_fires(real_redis, keys, 1)
        d.shutdown(1.0)  # flushes the recorder: nothing more can arrive
        got = [(r["outcome"], r["http"], r["attempt"], r["detail"])
               for r in all_fires(real_redis, keys)]  # fmt: skip
        assert ([("failed", "404", "1", "HTTP 404: no such method")], 1, "failed") == (
            got,
            len(endpoint.calls),
            text(real_redis.get(keys.fired(fire().fire_id))),
        )

    def test_retry_deadline(
        self, real_redis: redis.Redis, keys: Keys, make_dispatcher: Callable[..., Dispatcher]
    ) -> None:
        """When the next retry would pass the deadline, the fire ends as 'failed'."""
        endpoint = FakeEndpoint(Result(Outcome.RETRYING, http=500, detail="down"))
        d = make_dispatcher(endpoint, retry_initial_s=0.2, retry_max_s=10.0, retry_deadline_s=0.5)
        claim_one(d, fire())
        d.submit(fire())
        records = read_fires(real_redis, keys, 2)
        d.shutdown(1.0)
        got = [(r["outcome"], r["attempt"], r["http"]) for r in all_fires(real_redis, keys)]
        assert (2, [("retrying", "1", "500"), ("failed", "2", "500")], "failed") == (
            len(records),
            got,
            text(real_redis.get(keys.fired(fire().fire_id))),
        )
        gave_up = all_fires(real_redis, keys)[1]["detail"]
        assert gave_up.startswith("gave up after 2 attempts over ")
        assert gave_up.endswith(" s: HTTP 500: down")

    def test_retrying_logs_a_warning_and_failed_an_error_with_the_reason(
        self, real_redis: redis.Redis, keys: Keys, make_dispatcher: Callable[..., Dispatcher]
    ) -> None:
        """Retrying is a warning showing the first attempt's lag apart from the retry
        delay; failed is an error naming the HTTP status and the site's message."""
        endpoint = FakeEndpoint(
            Result(Outcome.RETRYING, http=500, detail="database is locked"),
            Result(Outcome.FAILED, http=404, detail="BTU Task Gone not found"),
        )
        d = make_dispatcher(endpoint, retry_initial_s=0.05)
        with structlog.testing.capture_logs() as lines:
            d.submit(fire())
            read_fires(real_redis, keys, 2)
        got = [(x["log_level"], x["outcome"], x.get("detail"), x.get("first_lag_ms"),
                x.get("retry_in_s")) for x in lines if x["event"] == "fire"]  # fmt: skip
        assert [
            ("warning", "retrying", "HTTP 500: database is locked", None, 0.05),
            ("error", "failed", "HTTP 404: BTU Task Gone not found", 250, None),
        ] == got

    def test_crashing_endpoint_is_failed(
        self, real_redis: redis.Redis, keys: Keys, make_dispatcher: Callable[..., Dispatcher]
    ) -> None:
        """An endpoint that raises is recorded as 'failed' instead of losing the fire."""

        def boom(_item_id: str, _due: int) -> Result:
            raise RuntimeError("bug")

        d = make_dispatcher(FakeEndpoint(boom))
        d.submit(fire())
        [record] = read_fires(real_redis, keys, 1)
        assert ("failed", "1") == (record["outcome"], record["attempt"])

    def test_slow_call_does_not_delay_others(
        self,
        real_redis: redis.Redis,
        keys: Keys,
        make_dispatcher: Callable[..., Dispatcher],
    ) -> None:
        """A fire whose call takes a second does not delay a fire submitted right after."""

        def answer(item_id: str, _due: int) -> Result:
            if item_id == "SLOW":
                time.sleep(1.0)
            return Result(Outcome.ENQUEUED, http=200, job=item_id)

        d = make_dispatcher(FakeEndpoint(answer))
        d.submit(fire("SLOW"))
        d.submit(fire("FAST"))
        entries = read_entries(real_redis, keys, 2)
        ids = [fields["id"] for _eid, fields in entries]
        stamps = [int(eid.split("-")[0]) for eid, _fields in entries]
        assert (["FAST", "SLOW"], True) == (ids, stamps[1] - stamps[0] >= 500)

    def test_backlog_full(
        self,
        real_redis: redis.Redis,
        keys: Keys,
        make_dispatcher: Callable[..., Dispatcher],
        release: threading.Event,
    ) -> None:
        """Beyond max_backlog unfinished fires, a new one is recorded 'failed' at once."""
        endpoint = FakeEndpoint(blocking(release))
        d = make_dispatcher(endpoint, max_backlog=1)
        first = d.submit(fire("A"))
        endpoint.entered.wait(5)
        claim_one(d, fire("B"))
        second = d.submit(fire("B"))
        [record] = read_fires(real_redis, keys, 1)
        wait_until(lambda: real_redis.get(keys.fired(fire("B").fire_id)) == b"failed")
        assert (True, False, "B", "failed", "", "0", "backlog full", 1, "failed") == (
            first,
            second,
            record["id"],
            record["outcome"],
            record["http"],
            record["attempt"],
            record["detail"],
            d.backlog,
            text(real_redis.get(keys.fired(fire("B").fire_id))),
        )

    def test_record_missed(
        self, real_redis: redis.Redis, keys: Keys, make_dispatcher: Callable[..., Dispatcher]
    ) -> None:
        """record() writes an unsent outcome with attempt 0 and calls no endpoint."""
        endpoint = FakeEndpoint()
        d = make_dispatcher(endpoint)
        d.record(fire(missed=True), Outcome.MISSED, "late")
        [record] = read_fires(real_redis, keys, 1)
        assert ("missed", "0", "", "", []) == (
            record["outcome"],
            record["attempt"],
            record["http"],
            record["detail"],  # PROTOCOL.md 1.1: empty but for retrying and failed
            endpoint.calls,
        )

    def test_outcome_hook_feeds_stats(
        self, real_redis: redis.Redis, keys: Keys, make_dispatcher: Callable[..., Dispatcher]
    ) -> None:
        """The on_outcome hook sees every record, so Stats counts sends and lag."""
        stats = Stats()
        retry = Result(Outcome.RETRYING, http=503)
        endpoint = FakeEndpoint(retry, Result(Outcome.ENQUEUED, http=200, job="j"))
        d = make_dispatcher(endpoint, on_outcome=stats.fire_outcome)
        d.submit(fire())
        read_fires(real_redis, keys, 2)
        snap = stats.snapshot()
        assert (1, 1, 0) == (snap["fires_sent"], snap["fires_retrying"], snap["lag_ms"]["samples"])


class TestShutdown:
    def test_hands_back_unfinished(
        self,
        real_redis: redis.Redis,
        keys: Keys,
        make_dispatcher: Callable[..., Dispatcher],
        release: threading.Event,
    ) -> None:
        """Unfinished fires are handed back by leaving them claimed in inflight for the
        next leader: every one of them, not only the item's latest (two fires of one
        item here), and last-fire is not moved back."""
        slow, retry = fire("SLOW"), fire("SLOW", DUE - 1_000)

        def answer(_item_id: str, due: int) -> Result:
            if due == DUE:
                release.wait(5)
                return Result(Outcome.ENQUEUED, http=200, job="late")
            return Result(Outcome.RETRYING, http=503)

        endpoint = FakeEndpoint(answer)
        d = make_dispatcher(endpoint, retry_initial_s=30.0, retry_max_s=30.0)
        claim_one(d, retry)
        claim_one(d, slow)
        d.submit(retry)
        d.submit(slow)
        read_fires(real_redis, keys, 1)  # the earlier fire's first attempt is recorded
        wait_until(lambda: len(endpoint.calls) == 2)
        handed = d.shutdown(0.1)
        assert (2, [f"claimed {INSTANCE}"] * 2, {retry.fire_id: DUE - 1_000, slow.fire_id: DUE},
                str(DUE)) == (
            handed,
            [text(real_redis.get(keys.fired(f.fire_id))) for f in (retry, slow)],
            {text(m): int(s) for m, s in real_redis.zrange(keys.inflight, 0, -1, withscores=True)},
            text(real_redis.hget(keys.last_fire, "SLOW")),
        )  # fmt: skip

    def test_hand_back_never_undoes_a_newer_leader(
        self,
        real_redis: redis.Redis,
        keys: Keys,
        make_dispatcher: Callable[..., Dispatcher],
        release: threading.Event,
    ) -> None:
        """The lease went to a newer leader, which finished the fire (marker ``done``) and
        fired a later instant: the old leader's hand-back deletes no marker and does not
        roll last-fire back."""
        endpoint = FakeEndpoint(blocking(release))
        d = make_dispatcher(endpoint)
        real_redis.hset(keys.last_fire, "TS-1", str(DUE - 60_000))
        claim_one(d, fire())
        d.submit(fire())
        wait_until(lambda: len(endpoint.calls) == 1)
        real_redis.set(keys.leader, '{"instance":"newer","epoch":1800000000001}')
        real_redis.set(keys.fired(fire().fire_id), "done", keepttl=True)
        real_redis.zrem(keys.inflight, fire().fire_id)
        real_redis.hset(keys.last_fire, "TS-1", str(DUE + 60_000))
        assert 1 == d.shutdown(0.1)
        assert ("done", str(DUE + 60_000)) == (
            text(real_redis.get(keys.fired(fire().fire_id))),
            text(real_redis.hget(keys.last_fire, "TS-1")),
        )

    def test_finished_fires_are_kept(
        self, real_redis: redis.Redis, keys: Keys, make_dispatcher: Callable[..., Dispatcher]
    ) -> None:
        """A fire that finished before shutdown is not handed back: done, out of
        inflight."""
        d = make_dispatcher(FakeEndpoint())
        claim_one(d, fire())
        d.submit(fire())
        read_fires(real_redis, keys, 1)
        handed = d.shutdown(1.0)
        assert (0, "done", str(DUE), 0) == (
            handed,
            text(real_redis.get(keys.fired(fire().fire_id))),
            text(real_redis.hget(keys.last_fire, "TS-1")),
            real_redis.zcard(keys.inflight),
        )

    def test_no_submit_after_shutdown(self, make_dispatcher: Callable[..., Dispatcher]) -> None:
        """After shutdown a submitted fire is refused."""
        endpoint = FakeEndpoint()
        d = make_dispatcher(endpoint)
        d.shutdown(0.5)
        assert (False, []) == (d.submit(fire()), endpoint.calls)


# -- recovering unfinished claims (btu_scheduler/recovery.py) ------------------------

HORIZON_MS = 600_000
NOW = DUE + 1_000


def recovery(d: Dispatcher, real_redis: redis.Redis, keys: Keys) -> Recovery:
    return Recovery(real_redis, keys, d, HORIZON_MS, lambda _id: ("cron", "task"))


def left_claimed(r: redis.Redis, keys: Keys, fire_id: str, due: int, marker: str) -> None:
    r.set(keys.fired(fire_id), marker, px=60_000)
    r.zadd(keys.inflight, {fire_id: due})


def test_predecessor_under_the_same_name_is_recovered_own_claims_are_not(
    real_redis: redis.Redis, keys: Keys, make_dispatcher: Callable[..., Dispatcher]
) -> None:
    """Claims of an earlier process under the same instance name (another incarnation,
    or an earlier version's ``claimed {instance}``) are re-sent; this process's own are
    not."""
    endpoint = FakeEndpoint()
    d = make_dispatcher(endpoint, incarnation="new")
    left_claimed(real_redis, keys, f"TS-A@{DUE}", DUE, f"claimed {INSTANCE} old")
    left_claimed(real_redis, keys, f"TS-B@{DUE}", DUE, f"claimed {INSTANCE}")
    left_claimed(real_redis, keys, f"TS-C@{DUE}", DUE, f"claimed {INSTANCE} new")
    assert 2 == recovery(d, real_redis, keys).run(TOKEN, NOW)
    wait_until(lambda: len(endpoint.calls) == 2)
    wait_until(lambda: real_redis.zcard(keys.inflight) == 1)
    assert ({"TS-A", "TS-B"}, [f"TS-C@{DUE}"]) == (
        {call[0] for call in endpoint.calls},
        [text(m) for m in real_redis.zrange(keys.inflight, 0, -1)],
    )


def test_every_fire_of_one_item_is_recovered(
    real_redis: redis.Redis, keys: Keys, make_dispatcher: Callable[..., Dispatcher]
) -> None:
    """Several unfinished fires of the same item are all re-sent, not only the latest."""
    endpoint = FakeEndpoint()
    d = make_dispatcher(endpoint)
    dues = [DUE - 3_000, DUE - 2_000, DUE - 1_000, DUE]
    for due in dues:
        left_claimed(real_redis, keys, Fire("TS-1", "cron", "t", due).fire_id, due, "claimed x")
    assert 4 == recovery(d, real_redis, keys).run(TOKEN, NOW)
    wait_until(lambda: len(endpoint.calls) == 4)
    assert dues == sorted(call[2] for call in endpoint.calls)


def test_finished_expired_and_old_entries_are_dropped(
    real_redis: redis.Redis, keys: Keys, make_dispatcher: Callable[..., Dispatcher]
) -> None:
    """Entries whose marker says done, whose marker expired, or older than grace + retry
    deadline are dropped without a request."""
    endpoint = FakeEndpoint()
    d = make_dispatcher(endpoint)
    left_claimed(real_redis, keys, f"TS-DONE@{DUE}", DUE, "done")
    real_redis.zadd(keys.inflight, {f"TS-GONE@{DUE}": DUE})
    old = NOW - HORIZON_MS - 1
    left_claimed(real_redis, keys, f"TS-OLD@{old}", old, "claimed x")
    assert (0, 0, []) == (
        recovery(d, real_redis, keys).run(TOKEN, NOW),
        real_redis.zcard(keys.inflight),
        endpoint.calls,
    )


def test_fenced_recovery_sends_nothing(
    real_redis: redis.Redis, keys: Keys, make_dispatcher: Callable[..., Dispatcher]
) -> None:
    """An instance that lost the lease recovers nothing and leaves the claim as it was."""
    endpoint = FakeEndpoint()
    d = make_dispatcher(endpoint)
    left_claimed(real_redis, keys, f"TS-F@{DUE}", DUE, "claimed x")
    real_redis.set(keys.leader, '{"instance":"other","epoch":1}')
    assert (0, [], "claimed x") == (
        recovery(d, real_redis, keys).run(TOKEN, NOW),
        endpoint.calls,
        text(real_redis.get(keys.fired(f"TS-F@{DUE}"))),
    )

"""The Python API's argument checks (btu.core.enqueue) and the batched publish after a
commit (btu.core.sync.publish_changed), without Frappe."""

from __future__ import annotations

import datetime as dt
import importlib
import subprocess
import sys
from zoneinfo import ZoneInfo

import orjson
import pytest
import redis

from btu.core.enqueue import EnqueueError, build_request, delay, method_path, wall_time
from btu.core.sync import publish_changed, publish_if_changed
from streams.keys import Keys
from streams.messages import ScheduleDelete, ScheduleUpsert

NOON = dt.datetime(2027, 3, 14, 12, 0)


def module_function(a: int) -> int:
    return a


class TestMethodPath:
    def test_string_path(self) -> None:
        """A dotted path is taken as given (stripped)."""
        assert "myapp.tasks.digest" == method_path(" myapp.tasks.digest ")

    def test_function_object(self) -> None:
        """A module-level function becomes module.name, as frappe.enqueue accepts both."""
        assert f"{__name__}.module_function" == method_path(module_function)

    def test_nested_and_lambda_refused(self) -> None:
        """A lambda or a nested function has no dotted path: refused, naming it."""

        def inner() -> None:
            pass

        messages = []
        for func in (inner, lambda: None):
            with pytest.raises(EnqueueError, match="not a module-level function") as e:
                method_path(func)
            messages.append(str(e.value))
        assert 2 == len(messages)

    def test_arguments_in_rq_order_are_named(self) -> None:
        """enqueue_at(at, method) (RQ's order) says which order BTU expects."""
        with pytest.raises(EnqueueError, match=r"btu.enqueue_at\(method, at"):
            method_path(NOON)  # type: ignore[arg-type]

    def test_bad_path(self) -> None:
        """A path that is not dotted is refused with the callables' message."""
        with pytest.raises(EnqueueError, match="not a dotted path"):
            method_path("digest")

    def test_private_name(self) -> None:
        with pytest.raises(EnqueueError, match="private"):
            method_path("myapp.tasks._secret")


class TestWallTime:
    def test_naive_is_system_wall_time(self) -> None:
        """A naive datetime or text is already a wall time of the system zone."""
        assert (NOON, NOON) == (
            wall_time(NOON, "Europe/Paris"),
            wall_time("2027-03-14 12:00:00", "Europe/Paris"),
        )

    def test_aware_is_converted(self) -> None:
        """An aware datetime is converted to the system zone's wall time."""
        at = dt.datetime(2027, 3, 14, 12, 0, tzinfo=ZoneInfo("America/New_York"))
        assert dt.datetime(2027, 3, 14, 17, 0) == wall_time(at, "Europe/Paris")

    def test_aware_across_dst(self) -> None:
        """An instant in the hour Paris skips becomes the wall time after the change."""
        at = dt.datetime(2027, 3, 28, 1, 30, tzinfo=dt.timezone.utc)
        assert dt.datetime(2027, 3, 28, 3, 30) == wall_time(at, "Europe/Paris")

    def test_microseconds_dropped(self) -> None:
        assert NOON == wall_time(NOON.replace(microsecond=999), "UTC")

    def test_date_refused(self) -> None:
        """A date without a time is refused (midnight is rarely what is meant)."""
        with pytest.raises(EnqueueError, match="is a date"):
            wall_time(dt.date(2027, 3, 14), "UTC")  # type: ignore[arg-type]

    def test_garbage_refused(self) -> None:
        with pytest.raises(EnqueueError, match="not a date and time"):
            wall_time("next monday", "UTC")
        with pytest.raises(EnqueueError, match="must be a datetime"):
            wall_time(1234, "UTC")  # type: ignore[arg-type]


class TestDelay:
    def test_seconds_and_timedelta(self) -> None:
        assert (dt.timedelta(seconds=90), dt.timedelta(minutes=5), dt.timedelta(0)) == (
            delay(90),
            delay(dt.timedelta(minutes=5)),
            delay(0),
        )

    def test_negative_refused(self) -> None:
        with pytest.raises(EnqueueError, match="negative"):
            delay(-1)

    def test_wrong_type_refused(self) -> None:
        """A string, bool, NaN or a method where the delta belongs is refused."""
        for bad in ("10", True, float("nan"), "myapp.tasks.digest"):
            with pytest.raises(EnqueueError, match="delta"):
                delay(bad)  # type: ignore[arg-type]


class TestBuildRequest:
    def test_options_and_function_arguments_kept_apart(self) -> None:
        """Options become item fields; other keyword arguments are the function's."""
        req = build_request(
            "myapp.tasks.digest",
            NOON,
            queue="long",
            timeout=600,
            run_as="a@example.com",
            unique_key=" digest-1 ",
            arguments={"to": "x@example.com", "days": 7},
        )
        assert (
            "myapp.tasks.digest",
            "long",
            600.0,
            "a@example.com",
            "digest-1",
            {"days": 7, "to": "x@example.com"},
            '{"days":7,"to":"x@example.com"}',
        ) == (
            req.function_path,
            req.queue,
            req.timeout,
            req.run_as,
            req.unique_key,
            req.arguments,
            req.arguments_json(),
        )

    def test_clashing_names_go_through_kwargs(self) -> None:
        """A function argument named like an option is passed in kwargs={...}."""
        req = build_request("myapp.tasks.f", NOON, queue="short", kwargs={"queue": "mine"})
        assert ("short", {"queue": "mine"}) == (req.queue, req.arguments)

    def test_argument_given_twice(self) -> None:
        with pytest.raises(EnqueueError, match=r"given twice.*days"):
            build_request("myapp.tasks.f", NOON, kwargs={"days": 1}, arguments={"days": 2})

    def test_non_json_arguments(self) -> None:
        """Arguments must survive JSON: a datetime or an object is refused."""
        with pytest.raises(EnqueueError, match="must be JSON"):
            build_request("myapp.tasks.f", NOON, arguments={"when": object()})

    def test_no_arguments_store_nothing(self) -> None:
        assert None is build_request("myapp.tasks.f", NOON).arguments_json()

    def test_bad_options(self) -> None:
        """Each bad option is refused naming it."""
        cases = [
            ({"timeout": -1}, "timeout=-1 is negative"),
            ({"timeout": "ten"}, "timeout must be a number"),
            ({"queue": 3}, "queue must be a string"),
            ({"unique_key": "k" * 141}, "unique_key is 141 characters"),
            ({"kwargs": [1]}, "kwargs must be a dict"),
        ]
        for options, message in cases:
            with pytest.raises(EnqueueError, match=message):
                build_request("myapp.tasks.f", NOON, **options)  # type: ignore[arg-type]

    def test_arguments_too_large(self) -> None:
        with pytest.raises(EnqueueError, match="bytes as JSON"):
            build_request("myapp.tasks.f", NOON, arguments={"blob": "x" * 1_000_001})


class TestPackageImport:
    def test_btu_imports_without_frappe(self) -> None:
        """`import btu` and its version need no Frappe; the API is resolved on first use."""
        code = (
            "import sys, btu; assert 'frappe' not in sys.modules; "
            "assert 'enqueue_at' in dir(btu); print(btu.__version__)"
        )
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        assert (0, "0.1.0") == (out.returncode, out.stdout.strip()), out.stderr

    def test_unknown_attribute(self) -> None:
        btu = importlib.import_module("btu")
        with pytest.raises(AttributeError, match="no attribute 'nope'"):
            btu.nope  # noqa: B018


def once(item_id: str, at: int = 1_900_000_000_000, ts: int = 1, task: str = "f") -> ScheduleUpsert:
    return ScheduleUpsert(id=item_id, kind="once", task=task, at=at, enabled=True, ts=ts)


class CountingRedis:
    """Counts the round trips a client makes: commands and pipeline executions."""

    def __init__(self, inner: redis.Redis) -> None:
        self.inner = inner
        self.calls: list[str] = []

    def hmget(self, *a: object, **k: object) -> object:
        self.calls.append("hmget")
        return self.inner.hmget(*a, **k)  # type: ignore[arg-type]

    def hget(self, *a: object, **k: object) -> object:
        self.calls.append("hget")
        return self.inner.hget(*a, **k)  # type: ignore[arg-type]

    def pipeline(self, *a: object, **k: object) -> object:
        pipe = self.inner.pipeline(*a, **k)  # type: ignore[arg-type]
        execute = pipe.execute

        def counted(*ea: object, **ek: object) -> object:
            self.calls.append("execute")
            return execute(*ea, **ek)  # type: ignore[arg-type]

        pipe.execute = counted  # type: ignore[method-assign]
        return pipe


class TestPublishChanged:
    def test_thousand_items_in_one_pipeline(self, fake_redis: redis.Redis, keys: Keys) -> None:
        """1,000 new items: one HMGET and one MULTI/EXEC, every item in stream and hash."""
        client = CountingRedis(fake_redis)
        events = [once(f"RL-{i:06d}") for i in range(1000)]
        published = publish_changed(client, keys, events)  # type: ignore[arg-type]
        assert (1000, ["hmget", "execute"], 1000, 1000) == (
            published,
            client.calls,
            fake_redis.xlen(keys.schedules),
            fake_redis.hlen(keys.state),
        )

    def test_same_result_as_one_by_one(self, fake_redis: redis.Redis, keys: Keys) -> None:
        """Unchanged items are skipped, a delete of an absent item is skipped, a changed
        item whose timing did not change keeps its catch-up baseline, a re-timed one takes
        the new one: as publish_if_changed does item by item."""
        publish_if_changed(fake_redis, keys, once("RL-6", ts=5))
        publish_if_changed(fake_redis, keys, once("RL-1", ts=5))
        publish_if_changed(fake_redis, keys, once("RL-2", ts=5))
        publish_if_changed(fake_redis, keys, once("RL-3", ts=5))
        before = fake_redis.xlen(keys.schedules)
        events = [
            once("RL-1", ts=9),  # unchanged
            once("RL-2", at=1_900_000_060_000, ts=9),  # re-timed
            ScheduleDelete(id="RL-3", ts=9),
            ScheduleDelete(id="RL-4", ts=9),  # never published
            once("RL-5", ts=9),  # new
            once("RL-6", ts=9, task="g"),  # relabelled, same timing
        ]
        published = publish_changed(fake_redis, keys, events)
        stream = [
            (f[b"op"].decode(), f[b"id"].decode()) for _i, f in fake_redis.xrange(keys.schedules)
        ][before:]
        state = {k.decode(): orjson.loads(v) for k, v in fake_redis.hgetall(keys.state).items()}
        expected_stream = [
            ("upsert", "RL-2"),
            ("delete", "RL-3"),
            ("upsert", "RL-5"),
            ("upsert", "RL-6"),
        ]
        assert (4, expected_stream) == (published, stream)
        assert (["RL-1", "RL-2", "RL-5", "RL-6"], "9", "9", "5") == (
            sorted(state),
            state["RL-2"]["ts"],
            state["RL-5"]["ts"],
            state["RL-6"]["ts"],
        )

    def test_nothing_changed_writes_nothing(self, fake_redis: redis.Redis, keys: Keys) -> None:
        client = CountingRedis(fake_redis)
        assert (0, ["hmget"]) == (
            publish_changed(client, keys, [ScheduleDelete(id="RL-9", ts=1)]),  # type: ignore[arg-type]
            client.calls,
        )

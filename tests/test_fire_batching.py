"""Batch firing in the daemon (btu_scheduler/fire/batching.py, fire/answers.py): fires
grouped into enqueue_batch requests, one outcome per fire whatever the answer, and the
fall-back to single requests for a site that does not know the batch endpoint.

A scripted in-process client stands in for HTTP (the client itself is tested in
test_fire_client.py, the whole daemon against a stand-in site in test_batch_firing.py)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from typing import Any

import orjson
import pytest

from btu_scheduler.engine import Fire
from btu_scheduler.fire.answers import Result, batch_unknown, classify_batch
from btu_scheduler.fire.batching import BatchingSender, BatchSettings
from btu_scheduler.fire.client import SendError
from streams.keys import ENQUEUE_BATCH_PATH, ENQUEUE_PATH, Outcome

UNKNOWN_417 = orjson.dumps(
    {
        "exception": "frappe.exceptions.ValidationError: Failed to get method for command "
        "btu.api.enqueue_batch with No module named 'btu.api.enqueue_batch'"
    }
)
Answer = Callable[[str, dict[str, Any]], "tuple[int, bytes]"]


def accept_all(path: str, body: dict[str, Any]) -> tuple[int, bytes]:
    """The app: every fire enqueued."""
    if path == ENQUEUE_PATH:
        return 200, orjson.dumps(
            {"message": {"job_id": "j-" + body["fire_id"], "duplicate": False}}
        )
    results = [{"fire_id": f["fire_id"], "job_id": "j-" + f["fire_id"], "duplicate": False}
               for f in body["fires"]]  # fmt: skip
    return 200, orjson.dumps({"message": {"results": results}})


class ScriptedClient:
    """Answers each POST with ``answer(path, json body)``; records every request."""

    def __init__(
        self, answer: Answer, release: threading.Event | None = None, per_fire_s: float = 0.0
    ) -> None:
        self.answer = answer
        self.release = release
        self.per_fire_s = per_fire_s  # a site this slow per fire of a request
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self.lock = threading.Lock()

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        parsed = orjson.loads(body)
        with self.lock:
            self.requests.append((path, parsed))
        while self.release is not None and not self.release.is_set():
            await asyncio.sleep(0.005)
        await asyncio.sleep(self.per_fire_s * len(parsed.get("fires", [parsed])))
        return self.answer(path, parsed)

    async def aclose(self) -> None:
        pass

    def paths(self) -> list[str]:
        with self.lock:
            return [p for p, _ in self.requests]

    def fires_sent(self) -> list[str]:
        """Every fire_id sent, singly or in a batch, in order."""
        out: list[str] = []
        with self.lock:
            for path, body in self.requests:
                batch = path == ENQUEUE_BATCH_PATH
                out += [f["fire_id"] for f in body["fires"]] if batch else [body["fire_id"]]
        return out


class Collector:
    """Callbacks for ``count`` fires; waits until each has its one result."""

    def __init__(self) -> None:
        self.results: dict[str, list[Result]] = {}
        self.lock = threading.Lock()

    def done_for(self, fire: Fire) -> Callable[[Result, int], None]:
        def done(result: Result, _sent: int) -> None:
            with self.lock:
                self.results.setdefault(fire.fire_id, []).append(result)

        return done

    def wait(self, count: int, timeout: float = 5.0) -> dict[str, Result]:
        event = threading.Event()
        for _ in range(int(timeout / 0.01)):
            with self.lock:
                if len(self.results) >= count:
                    event.set()
                    break
            event.wait(0.01)
        with self.lock:
            assert count == len(self.results), f"{len(self.results)} of {count} fires answered"
            assert [] == [fid for fid, got in self.results.items() if len(got) != 1]
            return {fid: got[0] for fid, got in self.results.items()}


def fires(count: int, prefix: str = "RL") -> list[Fire]:
    return [Fire(f"{prefix}-{i:04d}", "once", "t", 1_800_000_000_000) for i in range(count)]


@pytest.fixture
def make_sender() -> Iterator[Callable[..., tuple[BatchingSender, ScriptedClient]]]:
    made: list[BatchingSender] = []

    def make(
        answer: Answer = accept_all,
        release: threading.Event | None = None,
        per_fire_s: float = 0.0,
        **settings: Any,
    ) -> tuple[BatchingSender, ScriptedClient]:
        client = ScriptedClient(answer, release, per_fire_s)
        sender = BatchingSender(lambda: client, BatchSettings(**({"timeout_s": 5.0} | settings)))
        made.append(sender)
        return sender, client

    yield make
    for sender in made:
        sender.close()


def send(
    sender: BatchingSender, batch: list[Fire], collector: Collector, flush: bool = True
) -> None:
    for fire in batch:
        sender.send(fire, collector.done_for(fire))
    if flush:
        sender.flush()


def test_fires_handed_over_together_go_in_batches_of_batch_size(make_sender: Any) -> None:
    """250 fires and a flush: three enqueue_batch requests (100, 100, 50), each fire once,
    in order, with the fields of a single request; every fire gets its own outcome."""
    sender, client = make_sender(batch_size=100, linger_s=10.0)
    collector = Collector()
    batch = fires(250)
    send(sender, batch, collector)
    results = collector.wait(250)
    assert [ENQUEUE_BATCH_PATH] * 3 == client.paths()
    assert [100, 100, 50] == [len(body["fires"]) for _p, body in client.requests]
    assert {"id": "RL-0000", "kind": "once", "due": 1_800_000_000_000,
            "fire_id": "RL-0000@1800000000000"} == client.requests[0][1]["fires"][0]  # fmt: skip
    assert [f.fire_id for f in batch] == client.fires_sent()
    assert {(Outcome.ENQUEUED, 200)} == {(r.outcome, r.http) for r in results.values()}
    assert "j-RL-0007@1800000000000" == results["RL-0007@1800000000000"].job


def test_fires_handed_over_one_by_one_wait_the_linger_for_company(make_sender: Any) -> None:
    """Without a flush (retries come one at a time) fires wait up to the linger window and
    share one request; a lone fire flushed at once goes to the single endpoint."""
    sender, client = make_sender(batch_size=100, linger_s=0.2)
    collector = Collector()
    send(sender, fires(5), collector, flush=False)
    collector.wait(5)
    assert [(ENQUEUE_BATCH_PATH, 5)] == [(p, len(b["fires"])) for p, b in client.requests]
    send(sender, fires(1, "LONE"), collector)
    collector.wait(6)
    assert ENQUEUE_PATH == client.paths()[-1]


def test_busy_connections_let_fires_gather_into_larger_batches(make_sender: Any) -> None:
    """With every request slot taken, fires queue and leave together once one frees."""
    release = threading.Event()
    sender, client = make_sender(release=release, batch_size=100, linger_s=10.0, concurrency=1)
    collector = Collector()
    send(sender, fires(2, "A"), collector)
    for _ in range(500):
        if client.requests:
            break
        threading.Event().wait(0.01)
    send(sender, fires(30, "B"), collector)
    release.set()
    collector.wait(32)
    assert [2, 30] == [len(b["fires"]) for _p, b in client.requests]


def test_each_fire_of_a_batch_is_classified_by_its_own_status(make_sender: Any) -> None:
    """A batch answer with mixed results: each fire is classified as a single answer with
    its status would be (503, 429, 408 retryable; 404, 409, 400, 403 permanent), a
    duplicate is a duplicate, and the message becomes the detail."""
    statuses = [None, 503, 429, 408, 404, 409, 400, 403, "dup"]

    def answer(path: str, body: dict[str, Any]) -> tuple[int, bytes]:
        results: list[dict[str, Any]] = []
        for fire, status in zip(body["fires"], statuses, strict=True):
            fid = fire["fire_id"]
            if status is None or status == "dup":
                results.append({"fire_id": fid, "job_id": "j", "duplicate": status == "dup"})
            else:
                error = {"status": status, "message": f"said {status}\nmore"}
                results.append({"fire_id": fid, "error": error})
        return 200, orjson.dumps({"message": {"results": results}})

    sender, _client = make_sender(answer)
    collector = Collector()
    batch = fires(len(statuses))
    send(sender, batch, collector)
    results = collector.wait(len(batch))
    got = [(results[f.fire_id].outcome, results[f.fire_id].http) for f in batch]
    assert [
        (Outcome.ENQUEUED, 200), (Outcome.RETRYING, 503), (Outcome.RETRYING, 429),
        (Outcome.RETRYING, 408), (Outcome.FAILED, 404), (Outcome.FAILED, 409),
        (Outcome.FAILED, 400), (Outcome.FAILED, 403), (Outcome.DUPLICATE, 200),
    ] == got  # fmt: skip
    assert "said 404 more" == results[batch[4].fire_id].detail


@pytest.mark.parametrize(
    ("status", "body", "outcome"),
    [
        (503, b'{"exception": "queue down"}', Outcome.RETRYING),
        (500, b"<html>oops</html>", Outcome.RETRYING),
        (429, b"", Outcome.RETRYING),
        (403, b'{"exc_type": "PermissionError"}', Outcome.FAILED),
        (417, b'{"exception": "ValidationError: something else"}', Outcome.FAILED),
    ],
)
def test_a_whole_batch_answer_applies_to_every_fire(
    make_sender: Any, status: int, body: bytes, outcome: str
) -> None:
    """A status for the whole request is each fire's status (a 417 that is not Frappe's
    unknown-method answer is an ordinary permanent error, not a fall-back)."""
    sender, client = make_sender(lambda p, b: (status, body))
    collector = Collector()
    send(sender, fires(10), collector)
    results = collector.wait(10)
    assert {(outcome, status)} == {(r.outcome, r.http) for r in results.values()}
    assert [ENQUEUE_BATCH_PATH] == client.paths()


def test_a_network_error_retries_every_fire_of_the_batch(make_sender: Any) -> None:
    def broken(path: str, body: dict[str, Any]) -> tuple[int, bytes]:
        raise SendError("ConnectionError: closed by peer")

    sender, _client = make_sender(broken)
    collector = Collector()
    send(sender, fires(7), collector)
    results = collector.wait(7)
    assert {(Outcome.RETRYING, None, "ConnectionError: closed by peer")} == {
        (r.outcome, r.http, r.detail) for r in results.values()
    }


@pytest.mark.parametrize(
    ("status", "body"),
    [
        pytest.param(417, UNKNOWN_417, id="frappe-417"),
        pytest.param(404, b"<html><body>Not Found</body></html>", id="proxy-404"),
        pytest.param(404, b'{"exc_type": "DoesNotExistError"}', id="frappe-404"),
    ],
)
def test_a_site_without_the_batch_endpoint_gets_every_fire_singly_once(
    make_sender: Any, status: int, body: bytes
) -> None:
    """The first batch is refused as an unknown method: its fires go at once as single
    requests, each exactly once, and so do later fires, without asking the batch endpoint
    again until the re-probe."""

    def old_app(path: str, parsed: dict[str, Any]) -> tuple[int, bytes]:
        return (status, body) if path == ENQUEUE_BATCH_PATH else accept_all(path, parsed)

    sender, client = make_sender(old_app, reprobe_s=60.0)
    collector = Collector()
    first, later = fires(20, "A"), fires(15, "B")
    send(sender, first, collector)
    collector.wait(20)
    send(sender, later, collector)
    results = collector.wait(35)
    assert {Outcome.ENQUEUED} == {r.outcome for r in results.values()}
    assert [ENQUEUE_BATCH_PATH] + [ENQUEUE_PATH] * 35 == client.paths()
    singles = [b["fire_id"] for p, b in client.requests if p == ENQUEUE_PATH]
    assert sorted(f.fire_id for f in first + later) == sorted(singles)  # each exactly once


def test_the_batch_endpoint_is_tried_again_after_the_reprobe_time(make_sender: Any) -> None:
    """An app upgraded meanwhile gets batches again once the re-probe time has passed."""
    upgraded = threading.Event()

    def site(path: str, parsed: dict[str, Any]) -> tuple[int, bytes]:
        if path == ENQUEUE_BATCH_PATH and not upgraded.is_set():
            return 417, UNKNOWN_417
        return accept_all(path, parsed)

    sender, client = make_sender(site, reprobe_s=0.3)
    collector = Collector()
    send(sender, fires(5, "A"), collector)
    collector.wait(5)
    upgraded.set()
    send(sender, fires(5, "B"), collector)  # within the re-probe time: singly
    collector.wait(10)
    threading.Event().wait(0.4)
    send(sender, fires(5, "C"), collector)
    collector.wait(15)
    assert [ENQUEUE_BATCH_PATH] + [ENQUEUE_PATH] * 10 + [ENQUEUE_BATCH_PATH] == client.paths()


def test_a_batch_that_times_out_makes_the_next_ones_smaller(make_sender: Any) -> None:
    """A site slower per fire than a full batch allows (40 ms a fire, 0.5 s timeout): the
    batch of 20 times out (every fire retryable), and the same fires sent again go in
    batches of 10, which it answers in time."""
    sender, client = make_sender(per_fire_s=0.04, batch_size=100, timeout_s=0.5)
    first, again = Collector(), Collector()
    batch = fires(20)
    send(sender, batch, first)
    assert {(Outcome.RETRYING, "ReadTimeoutError")} == {
        (r.outcome, r.detail) for r in first.wait(20).values()
    }
    send(sender, batch, again)  # as the dispatcher's retries would
    assert {Outcome.ENQUEUED} == {r.outcome for r in again.wait(20).values()}
    assert [20, 10, 10] == [len(body["fires"]) for _p, body in client.requests]


def test_quick_answers_bring_the_batch_size_back(make_sender: Any) -> None:
    """After a timeout halved it, batches answered quickly double the size again."""
    sender, client = make_sender(per_fire_s=0.04, batch_size=16, timeout_s=0.5)
    collector = Collector()
    send(sender, fires(16, "SLOW"), collector)  # 0.64 s: times out, size 8
    collector.wait(16)
    client.per_fire_s = 0.0
    for round_ in range(3):  # 8, then 16 (restored), then 16
        send(sender, fires(16, f"R{round_}"), collector)
        collector.wait(16 * (round_ + 2))
    assert [16, 8, 8, 16, 16] == [len(body["fires"]) for _p, body in client.requests]


class TestClassifyBatch:
    IDS = ("A@1", "B@1", "C@1")

    def test_results_out_of_order_are_matched_by_fire_id(self) -> None:
        answer = {"message": {"results": [
            {"fire_id": "C@1", "job_id": "jc", "duplicate": False},
            {"fire_id": "A@1", "job_id": "ja", "duplicate": True},
            {"fire_id": "B@1", "error": {"status": 409, "message": "disabled"}},
        ]}}  # fmt: skip
        results = classify_batch(200, orjson.dumps(answer), list(self.IDS))
        assert [(Outcome.DUPLICATE, "ja"), (Outcome.FAILED, ""), (Outcome.ENQUEUED, "jc")] == [
            (r.outcome, r.job) for r in results
        ]

    def test_a_fire_missing_from_the_answer_is_retried(self) -> None:
        """The app de-duplicates, so sending a fire again is always safe."""
        answer = {"message": {"results": [{"fire_id": "A@1", "job_id": "ja", "duplicate": False}]}}
        results = classify_batch(200, orjson.dumps(answer), list(self.IDS))
        assert [Outcome.ENQUEUED, Outcome.RETRYING, Outcome.RETRYING] == [
            r.outcome for r in results
        ]

    @pytest.mark.parametrize(
        "body", [b"not json", b'{"message": {"job_id": "x"}}', b'{"message": {"results": 3}}']
    )
    def test_a_2xx_without_results_fails_every_fire(self, body: bytes) -> None:
        results = classify_batch(200, body, list(self.IDS))
        assert {(Outcome.FAILED, "answer has no results list")} == {
            (r.outcome, r.detail) for r in results
        }

    @pytest.mark.parametrize(
        "error", [{"status": "503"}, {"status": True}, "boom", {"message": "x"}]
    )
    def test_an_unreadable_error_entry_fails_that_fire(self, error: object) -> None:
        answer = {"message": {"results": [{"fire_id": "A@1", "error": error}]}}
        [result] = classify_batch(200, orjson.dumps(answer), ["A@1"])
        assert (Outcome.FAILED, "unreadable error in the batch answer") == (
            result.outcome,
            result.detail,
        )

    @pytest.mark.parametrize(
        ("status", "body", "unknown"),
        [
            (417, UNKNOWN_417, True),
            (417, b'{"exception": "ValidationError: bad"}', False),
            (404, b"Not Found", True),
            (404, b'{"message": {"results": []}}', False),
            (503, b"Failed to get method for command", False),
            (200, b'{"message": {"results": []}}', False),
        ],
    )
    def test_batch_unknown(self, status: int, body: bytes, unknown: bool) -> None:
        assert unknown == batch_unknown(status, body)

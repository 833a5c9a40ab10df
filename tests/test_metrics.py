"""Metrics and health (setting ``metrics_listen``): real daemon processes scraped over
HTTP while they fire, fail and retry; probes on leader, standby and with Redis cut."""

from __future__ import annotations

import threading
import urllib.error
import urllib.request
from collections import Counter
from typing import Any

import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from btu_scheduler import logs
from btu_scheduler.demo.embedded import free_port
from btu_scheduler.errors import ConfigError
from btu_scheduler.health import parse_listen
from btu_scheduler.metrics import Metrics
from streams.messages import FireRecord
from tests.harness import Stack, now_ms, wait_for
from tests.tcpproxy import TcpProxy

pytestmark = [pytest.mark.redis_server, pytest.mark.slow]


def get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except OSError:
        return 0, ""


def samples(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    status, body = get(port, "/metrics")
    assert status == 200
    out = {}
    for family in text_string_to_metric_families(body):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(scraped: dict[Any, float], name: str, **labels: str) -> float:
    return scraped[(name, tuple(sorted(labels.items())))]


def test_counters_and_histogram_move_as_the_fires_stream_says(stack: Stack) -> None:
    """One item fails: 500 (retried), then 404 (failed); another is enqueued. The scrape
    agrees with the fires stream entry for entry."""
    calls: Counter[str] = Counter()

    def fault(body: dict[str, Any]) -> tuple[int, dict[str, Any]] | None:
        if body["id"] != "TS-BAD":
            return None
        calls["TS-BAD"] += 1
        if calls["TS-BAD"] == 1:
            return 500, {"exception": "database is locked"}
        return 404, {"exc_type": "DoesNotExistError", "exception": "BTU Task Gone not found"}

    stack.cfg.fault = fault
    port = free_port()
    site = stack.site
    daemon = stack.start_daemon("m1", BTU_METRICS_LISTEN=f"127.0.0.1:{port}")
    before = samples(port)
    assert value(before, "btu_fires_total", site=site, outcome="failed") == 0
    assert value(before, "btu_leader", site=site) == 1
    assert value(before, "btu_redis_up") == 1
    assert ("process_cpu_seconds_total", ()) in before  # the default process metrics

    at = now_ms() + 300
    stack.once("TS-GOOD", at)
    stack.once("TS-BAD", at)
    wait_for(lambda: {f.outcome for f in stack.fires()} >= {"enqueued", "retrying", "failed"})
    fires = stack.fires()
    scraped = wait_for(
        lambda: (
            (s := samples(port))
            and s[("btu_fire_lag_seconds_count", (("site", site),))] == len(fires)
            and s
        ),
        5,
    )
    by_outcome = Counter(f.outcome for f in fires)
    for outcome in ("enqueued", "retrying", "failed", "duplicate", "missed"):
        assert (
            value(scraped, "btu_fires_total", site=site, outcome=outcome) == by_outcome[outcome]
        ), outcome
    assert value(scraped, "btu_fire_lag_seconds_sum", site=site) == pytest.approx(
        sum(max(0, f.lag_ms) for f in fires) / 1000
    )
    assert value(scraped, "btu_changes_applied_total", site=site) == 2
    assert value(scraped, "btu_propagation_seconds_count", site=site) == 2
    good = next(f for f in fires if f.outcome == "enqueued")
    assert value(scraped, "btu_last_fire_timestamp_seconds", site=site) == good.sent / 1000
    assert value(scraped, "btu_backlog", site=site) == 0
    assert value(scraped, "btu_retrying_fires", site=site) == 0
    assert value(scraped, "btu_armed_items", site=site) == 0  # once items are done
    assert value(scraped, "btu_dead_letters_total", site=site) == 0
    assert daemon.alive
    lines = [orjson.loads(x) for x in daemon.log().splitlines() if x.startswith("{")]
    assert all(x.get("site") == site and x.get("instance") == "m1" for x in lines)
    failed = [x for x in lines if x["event"] == "fire" and x["outcome"] == "failed"]
    retrying = [x for x in lines if x["event"] == "fire" and x["outcome"] == "retrying"]
    assert [("error", "HTTP 404: BTU Task Gone not found")] == [
        (x["level"], x["detail"]) for x in failed
    ]
    assert [("warning", "HTTP 500: database is locked")] == [
        (x["level"], x["detail"]) for x in retrying
    ]
    assert failed[0]["due_iso"].endswith("Z")
    assert [f.detail for f in fires if f.outcome != "enqueued"] == [
        "HTTP 500: database is locked",
        "HTTP 404: BTU Task Gone not found",
    ]


def test_dead_letters_are_counted(stack: Stack) -> None:
    """A malformed schedules entry moves btu_dead_letters_total by one."""
    port = free_port()
    stack.start_daemon("m1", BTU_METRICS_LISTEN=f"127.0.0.1:{port}")
    stack.r.xadd(stack.keys.schedules, {"v": "1", "op": "upsert", "id": "TS-X"})
    wait_for(lambda: stack.dead())
    wait_for(lambda: value(samples(port), "btu_dead_letters_total", site=stack.site) == 1)


def test_health_and_readiness_on_leader_and_standby(stack: Stack) -> None:
    """Leader and standby are both healthy and ready; the standby's readiness names who leads."""
    p1, p2 = free_port(), free_port()
    stack.start_daemon("h1", BTU_METRICS_LISTEN=f"127.0.0.1:{p1}")
    stack.start_daemon("h2", wait_leader=False, BTU_METRICS_LISTEN=f"127.0.0.1:{p2}")
    assert get(p1, "/healthz")[0] == 200
    assert get(p1, "/readyz") == (200, "ready: leader\n")
    wait_for(lambda: get(p2, "/readyz")[0] == 200)
    assert get(p2, "/readyz")[1] == "ready: standby (leader: h1), able to take over\n"
    assert get(p2, "/healthz")[0] == 200
    assert value(samples(p2), "btu_leader", site=stack.site) == 0
    assert get(p1, "/nothing")[0] == 404
    standby = stack.daemons[1]
    assert '"event":"standby"' in standby.log() and '"leader":"h1"' in standby.log()


def test_readiness_fails_with_the_reason_while_redis_is_cut(stack: Stack) -> None:
    """With Redis cut, /readyz is 503 with the reason and /healthz stays 200; both recover."""
    redis_port = int(stack.redis_url.rsplit(":", 1)[1].split("/")[0])
    proxy = TcpProxy(redis_port)
    port = free_port()
    try:
        daemon = stack.start_daemon("c1", BTU_REDIS_URL=proxy.url,
                                    BTU_METRICS_LISTEN=f"127.0.0.1:{port}")  # fmt: skip
        assert get(port, "/readyz")[0] == 200
        proxy.cut()
        _status, reason = wait_for(lambda: (r := get(port, "/readyz"))[0] == 503 and r, 10)
        assert reason.startswith("Redis unreachable: ") and reason.count("\n") == 1
        assert get(port, "/healthz")[0] == 200  # alive: waiting for Redis is its job
        assert value(samples(port), "btu_redis_up") == 0
        proxy.restore()
        wait_for(lambda: get(port, "/readyz")[0] == 200, 15)
        assert value(samples(port), "btu_redis_up") == 1
        assert daemon.alive
    finally:
        proxy.close()


def test_readiness_is_503_when_redis_is_down_at_start(stack: Stack) -> None:
    """Waiting for Redis at start-up: alive (healthz 200), not ready (readyz 503)."""
    proxy = TcpProxy(free_port())  # nothing listens behind it
    port = free_port()
    try:
        daemon = stack.start_daemon("s1", wait_leader=False, BTU_REDIS_URL=proxy.url,
                                    BTU_METRICS_LISTEN=f"127.0.0.1:{port}")  # fmt: skip
        wait_for(lambda: get(port, "/healthz")[0] == 200, 10)
        status, reason = wait_for(
            lambda: (
                (r := get(port, "/readyz"))[1] != "Redis unreachable: not connected yet\n" and r
            ),
            10,
        )
        assert status == 503 and reason.startswith("Redis unreachable: ")  # with the error
        assert daemon.alive
    finally:
        proxy.close()


@pytest.mark.parametrize(
    ("text", "expected"),
    [("127.0.0.1:9464", ("127.0.0.1", 9464)), (":9464", ("0.0.0.0", 9464)),
     ("[::1]:9464", ("::1", 9464))],
)  # fmt: skip
def test_listen_address_forms(text: str, expected: tuple[str, int]) -> None:
    """host:port, :port (every interface) and [v6]:port are accepted."""
    assert parse_listen(text) == expected


@pytest.mark.parametrize("text", ["9464", "host:", "host:port", "host:70000"])
def test_bad_listen_address_is_a_config_error(text: str) -> None:
    """A listen address without a numeric port is a setting error naming metrics_listen."""
    with pytest.raises(ConfigError, match="metrics_listen"):
        parse_listen(text)


def test_each_metrics_object_has_its_own_registry() -> None:
    """Two daemons in one process never share their numbers."""
    a, b = Metrics("a.example"), Metrics("b.example")
    record = FireRecord(fire_id="X@1", id="X", due=1000, sent=1250, outcome="enqueued",
                        instance="i")  # fmt: skip
    a.fire_outcome(record)
    assert a.registry.get_sample_value("btu_fire_lag_seconds_sum", {"site": "a.example"}) == 0.25
    assert b.registry.get_sample_value("btu_fire_lag_seconds_count", {"site": "b.example"}) == 0


def test_log_lines_carry_site_instance_and_iso_due() -> None:
    """Every line gets site and instance (unless it names its own), and due_iso next to due."""
    add = logs.with_context({"site": "erp.example", "instance": "i1"})
    line = add(None, "info", {"event": "fire", "due": 1_800_000_000_000, "instance": "own"})
    assert {"site": "erp.example", "instance": "own",
            "due_iso": "2027-01-15T08:00:00.000Z"}.items() <= line.items()  # fmt: skip


def test_healthz_is_503_when_a_loop_has_died() -> None:
    """A reader or lease thread that ended (a bug escaped it) makes /healthz fail, naming it."""
    from btu_scheduler.config import Settings
    from btu_scheduler.daemon import Daemon
    from tests.test_daemon_loop import FakeEndpoint

    settings = Settings(site="h.example", redis_url="redis://127.0.0.1:9/0", frappe_url="http://x",
                        api_key="k", api_secret="s", instance="h1")  # fmt: skip
    daemon = Daemon(settings, endpoint=FakeEndpoint())  # type: ignore[arg-type]
    try:
        assert daemon.observe.healthz()[0]  # starting: alive
        ended = threading.Thread(target=lambda: None)
        ended.start()
        ended.join()
        daemon.reader_thread = ended
        assert (False, "the reader loop has stopped") == daemon.observe.healthz()
        daemon.reader_thread = threading.current_thread()
        daemon._lease_thread = ended
        assert (False, "the lease loop has stopped") == daemon.observe.healthz()
        assert not daemon.observe.readyz()[0]
    finally:
        daemon.dispatcher.shutdown(0.1)

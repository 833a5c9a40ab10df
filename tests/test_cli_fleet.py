"""The operator's CLI with a multi-site configuration: one site picked with ``--site``,
``status`` with one row per site read from Redis, ``reload-config``, ``check`` and
``config`` over every site; against written keys and against a real fleet process."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import redis

from btu_scheduler import cli, poolstatus
from btu_scheduler.cluster import server_ms
from streams.keys import Keys, PoolKeys
from streams.messages import FireRecord
from streams.sites import SiteEntry
from tests.harness import API_KEY, API_SECRET, DaemonProc, Stack, wait_for

SECRET = "a-secret-that-must-never-show"


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BTU_")}
    return env | extra


def run_cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "btu_scheduler.cli", *args],
        env=clean_env(**env),
        capture_output=True,
        text=True,
        timeout=60,
    )


def write_config(path: Path, defaults: dict[str, Any], sites: dict[str, dict[str, Any]]) -> Path:
    lines = [f"{k} = {_toml(v)}" for k, v in defaults.items()]
    for name, table in sites.items():
        lines.append(f'\n[sites."{name}"]')
        lines += [f"{k} = {_toml(v)}" for k, v in table.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def _toml(value: Any) -> str:
    return orjson.dumps(value).decode() if isinstance(value, str) else str(value).lower()


@pytest.fixture
def no_btu_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The in-process CLI reads os.environ: no BTU_* variable of the caller's leaks in."""
    for name in list(os.environ):
        if name.startswith("BTU_"):
            monkeypatch.delenv(name)


@pytest.fixture
def token(redis_url: str | None) -> Iterator[str]:
    """A name for this test's sites and pool; every key holding it is removed after."""
    name = f"fl{uuid.uuid4().hex[:8]}"
    yield name
    if redis_url is None:
        return
    client = redis.Redis.from_url(redis_url)
    try:
        found = list(client.scan_iter(match=f"btu:*{name}*", count=1000))
        for start in range(0, len(found), 500):
            client.delete(*found[start : start + 500])
    finally:
        client.close()


@pytest.fixture
def r(redis_url: str | None) -> Iterator[redis.Redis]:
    if redis_url is None:
        pytest.skip("needs a real Redis: set BTU_TEST_REDIS_URL or install redis-server")
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


# -- one site of many: --site -----------------------------------------------------------

ONE_SITE_COMMANDS = [
    ["ping"], ["next"], ["schedules"], ["resync"], ["reload", "TS-1"], ["cancel", "TS-1"],
    ["fires"], ["dead"],
]  # fmt: skip


@pytest.mark.parametrize("argv", ONE_SITE_COMMANDS, ids=lambda a: a[0])
def test_one_site_commands_need_a_site_when_the_config_has_several(
    argv: list[str], tmp_path: Path, no_btu_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without --site, a command about one site exits 2 asking for one (no Redis asked)."""
    path = write_config(tmp_path / "btu.toml", {"redis_url": "redis://127.0.0.1:9/0"},
                        {"a.example.com": {}, "b.example.com": {}})  # fmt: skip
    assert 2 == cli.main([*argv, "--config", str(path)])
    err = capsys.readouterr().err
    assert "the configuration serves 2 sites (a.example.com, b.example.com): name one with " \
        "--site" in err  # fmt: skip


@pytest.mark.redis_server
@pytest.mark.slow
def test_site_picks_a_listed_or_unlisted_site_of_a_multi_site_config(
    stack: Stack, tmp_path: Path
) -> None:
    """--site reaches a site's daemon whether the file lists the site or not (a discovered
    one takes the defaults); a site with no daemon exits 1 naming the ones that have."""
    stack.start_daemon("s1")
    record = FireRecord(fire_id="TS-F@1000", id="TS-F", due=1000, sent=1001,
                        outcome="enqueued", instance="s1")  # fmt: skip
    stack.r.xadd(stack.keys.fires, record.encode())  # type: ignore[arg-type]
    path = write_config(tmp_path / "btu.toml", {"redis_url": stack.redis_url},
                        {f"other.{stack.site}": {}, f"third.{stack.site}": {}})  # fmt: skip
    config = ("--config", str(path))
    pong = run_cli("ping", "--site", stack.site, *config)
    assert 0 == pong.returncode, pong.stderr
    assert pong.stdout.startswith("pong from s1 (leader)")
    status = run_cli("status", "--site", stack.site, *config)
    assert 0 == status.returncode and "instance   s1 (leader)" in status.stdout
    fires = run_cli("fires", *config, BTU_SITE=stack.site)
    assert 0 == fires.returncode and "TS-F" in fires.stdout
    missing = run_cli("ping", "--site", f"other.{stack.site}", *config)
    assert 1 == missing.returncode
    assert f"no btu-scheduler is running for site 'other.{stack.site}'" in missing.stderr
    assert stack.site in missing.stderr  # among the sites that have a daemon


# -- status over every site, from the keys a fleet writes ------------------------------


def _lease(instance: str, pool: str | None) -> bytes:
    value: dict[str, Any] = {"instance": instance, "epoch": 1}
    if pool is not None:
        value["pool"] = pool
    return orjson.dumps(value)


def _beat(r: redis.Redis, site: str, instance: str, age_ms: int, now: int, **extra: str) -> None:
    fields = {"instance": instance, "role": "leader", "heartbeat": str(now - age_ms),
              "beat_ms": "1800", "armed": "3", "next_due": str(now + 60_000),
              "fires_sent": "5", "fires_failed": "1", "dead_letters": "0"} | extra  # fmt: skip
    r.hset(Keys(site).scheduler(instance), mapping=fields)  # type: ignore[arg-type]


@pytest.mark.redis_server
def test_status_shows_one_row_per_site_and_the_pools_daemons(
    r: redis.Redis, redis_url: str, token: str, tmp_path: Path, no_btu_env: None,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """Each site's leader, numbers and problem (no leader, dead leader, stale heartbeat,
    failed last fire) and each daemon of the pool with what it leads, in text and JSON."""
    pool = token
    names = {k: f"{k}.{token}.local" for k in
             ("ok", "noleader", "dead", "stale", "failed", "solo")}  # fmt: skip
    now = server_ms(r)
    members = PoolKeys(pool).members
    r.zadd(members, {"d1": now + 60_000, "d2": now - 5_000})
    for key in ("ok", "stale", "failed"):
        r.set(Keys(names[key]).leader, _lease("d1", pool))
    r.set(Keys(names["dead"]).leader, _lease("d2", pool))
    r.set(Keys(names["solo"]).leader, _lease("standalone-1", None), px=60_000)
    _beat(r, names["ok"], "d1", 200, now)
    _beat(r, names["stale"], "d1", 20_000, now)
    _beat(r, names["failed"], "d1", 200, now)
    _beat(r, names["dead"], "d2", 200, now)
    _beat(r, names["solo"], "standalone-1", 200, now, beat_ms="")
    r.xadd(Keys(names["ok"]).fires, FireRecord(fire_id="TS-1@1", id="TS-1", due=now - 2000,
           sent=now - 1990, outcome="enqueued", instance="d1").encode())  # type: ignore[arg-type]  # fmt: skip
    r.xadd(Keys(names["failed"]).fires, FireRecord(fire_id="TS-2@1", id="TS-2", due=now,
           sent=now, outcome="failed", instance="d1", http=503,
           detail="HTTP 503: down").encode())  # type: ignore[arg-type]  # fmt: skip
    path = write_config(tmp_path / "btu.toml", {"redis_url": redis_url, "pool": pool},
                        {name: {} for name in names.values()})  # fmt: skip

    assert 0 == cli.main(["status", "--config", str(path), "--json"])
    data = orjson.loads(capsys.readouterr().out)
    rows = {row["site"]: row for row in data["sites"]}
    assert list(rows) == list(names.values())  # the file's order
    ok = rows[names["ok"]]
    assert (True, "d1", 3, 5, 1, now + 60_000) == (
        ok["ok"],
        ok["leader"],
        ok["armed"],
        ok["fires_sent"],
        ok["fires_failed"],
        ok["next_due"],
    )
    assert "enqueued" == ok["last_fire"]["outcome"]
    assert 150 <= ok["heartbeat_age_ms"] < 5_000
    problems = {key: rows[names[key]]["problem"] for key in names}
    assert problems["ok"] is None and problems["solo"] is None
    assert "no leader" == problems["noleader"]
    assert problems["dead"].startswith("leader d2 is not alive")
    assert problems["stale"].startswith("heartbeat 2")
    assert "last fire failed: HTTP 503: down" == problems["failed"]
    assert (2, 4) == (data["ok"], data["problems"])
    [pool_info] = data["pools"]
    daemons = {d["instance"]: d for d in pool_info["daemons"]}
    assert {"d1": (True, 3), "d2": (False, 1)} == {
        name: (d["alive"], d["leads"]) for name, d in daemons.items()
    }

    assert 0 == cli.main(["status", "--config", str(path)])
    text = capsys.readouterr().out
    lines = {line.split()[0]: line for line in text.splitlines() if line.strip()}
    assert lines["SITE"].split()[:3] == ["SITE", "LEADER", "ARMED"]
    assert lines[names["ok"]].endswith("ok") and " enqueued " in lines[names["ok"]]
    assert "PROBLEM: no leader" in lines[names["noleader"]]
    assert "6 sites: 2 ok, 4 with a problem" in text
    assert f"pool '{pool}' at {redis_url}: 1 daemon alive" in text
    assert lines["d1"].split()[-1] == "3" and "yes" in lines["d1"]
    assert "no (gone" in lines["d2"]

    assert 0 == cli.main(["status", "--config", str(path), "--problems"])
    shown = capsys.readouterr().out
    assert names["ok"] not in shown and names["solo"] not in shown
    assert all(names[key] in shown for key in ("noleader", "dead", "stale", "failed"))
    assert "6 sites: 2 ok, 4 with a problem" in shown


@pytest.mark.redis_server
def test_status_reads_a_thousand_sites_in_two_round_trips(
    r: redis.Redis, token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """1,000 led sites: two pipelined round trips, no command sent on its own."""
    pool = token
    now = server_ms(r)
    r.zadd(PoolKeys(pool).members, {"d1": now + 60_000})
    sites = [f"s{n}.{token}.local" for n in range(1_000)]
    pipe = r.pipeline(transaction=False)
    for site in sites:
        pipe.set(Keys(site).leader, _lease("d1", pool))
        pipe.hset(Keys(site).scheduler("d1"), mapping={"heartbeat": str(now), "beat_ms": "9000",
                                                       "armed": "20"})  # fmt: skip
    pipe.execute()
    counts = {"pipelines": 0, "commands": 0}
    run_pipeline = redis.client.Pipeline.execute
    send = redis.Redis.execute_command

    def counted_pipeline(self: Any, *args: Any, **kwargs: Any) -> Any:
        counts["pipelines"] += 1
        return run_pipeline(self, *args, **kwargs)

    def counted_command(self: Any, *args: Any, **kwargs: Any) -> Any:
        counts["commands"] += 1
        return send(self, *args, **kwargs)

    monkeypatch.setattr(redis.client.Pipeline, "execute", counted_pipeline)
    monkeypatch.setattr(redis.Redis, "execute_command", counted_command)
    data = poolstatus.read_pool(r, [poolstatus.SiteRef(s) for s in sites], pool)
    monkeypatch.undo()
    assert {"pipelines": 2, "commands": 0} == counts
    assert 1_000 == sum(1 for row in data["sites"] if row["ok"] and row["armed"] == 20)
    assert [("d1", 1_000)] == [(d["instance"], d["leads"]) for d in data["daemons"]]


# -- reload-config ------------------------------------------------------------------------


@pytest.mark.redis_server
def test_reload_config_reaches_the_alive_daemons_of_the_pool_only(
    r: redis.Redis, redis_url: str, token: str, tmp_path: Path, no_btu_env: None,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """No daemon alive: exit 1 saying so, nothing written; then one entry per call with
    cmd=reload-config, counting only the daemons whose membership has not expired."""
    pool = PoolKeys(token)
    path = write_config(tmp_path / "btu.toml", {"redis_url": redis_url, "pool": token},
                        {f"a.{token}.local": {}})  # fmt: skip
    assert 1 == cli.main(["reload-config", "--config", str(path)])
    out = capsys.readouterr()
    assert f"no daemon of pool '{token}' is alive" in out.err
    assert 0 == r.exists(pool.control)
    now = server_ms(r)
    r.zadd(pool.members, {"live": now + 60_000, "gone": now - 1_000})
    assert 0 == cli.main(["reload-config", "--config", str(path)])
    assert "reload-config sent to pool" in (out := capsys.readouterr()).out
    assert "1 daemon alive (live)" in out.out
    [(_entry, fields)] = r.xrange(pool.control)
    assert {b"cmd": b"reload-config"} == fields


# -- check and config over every site -------------------------------------------------


@pytest.mark.redis_server
@pytest.mark.slow
def test_check_checks_redis_once_and_every_site(stack: Stack, tmp_path: Path) -> None:
    """One Redis line, one line per site (a wrong secret fails its site only, exit 1);
    --site checks one site."""
    bad = f"bad.{stack.site}"
    path = write_config(
        tmp_path / "btu.toml",
        {"redis_url": stack.redis_url, "frappe_url": stack.endpoint.url, "api_key": API_KEY,
         "api_secret": API_SECRET},
        {stack.site: {}, bad: {"api_secret": "wrong-secret"}},
    )  # fmt: skip
    out = run_cli("check", "--config", str(path))
    assert 1 == out.returncode
    lines = out.stdout.splitlines()
    assert 3 == len(lines) and lines[0].startswith("ok      redis ")
    assert lines[1].startswith(f"ok      site   {stack.site}")
    assert lines[2].startswith(f"FAILED  site   {bad}") and "HTTP 401" in lines[2]
    one = run_cli("check", "--config", str(path), "--site", stack.site)
    assert 0 == one.returncode and 2 == len(one.stdout.splitlines())
    as_json = orjson.loads(run_cli("check", "--config", str(path), "--json").stdout)
    assert [(None, True), (stack.site, True), (bad, False)] == [
        (c["site"], c["ok"]) for c in as_json
    ]


def test_config_prints_the_defaults_and_each_sites_settings_masked(
    tmp_path: Path, no_btu_env: None, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """Text: the defaults with their sources, then what each site sets; JSON: every
    site's effective settings. No secret is printed."""
    monkeypatch.setenv("BTU_GRACE_SECONDS", "30")
    path = write_config(
        tmp_path / "btu.toml",
        {"redis_url": f"redis://u:{SECRET}@127.0.0.1:6379/0", "api_key": "k",
         "api_secret": SECRET},
        {"erp.example.com": {}, "shop.example.com": {"api_key": "k2", "api_secret": SECRET,
                                                     "grace_seconds": 60}},
    )  # fmt: skip
    assert 0 == cli.main(["config", "--config", str(path)])
    text = capsys.readouterr().out
    assert SECRET not in text
    blocks = text.split("\n\n")
    assert "[defaults]" in blocks[0] and "# 2 sites listed; discover = false" in blocks[0]
    assert "30.0  (env BTU_GRACE_SECONDS)" in blocks[0]
    assert "redis://u:********@127.0.0.1:6379/0" in blocks[0]
    erp, shop = blocks[1].splitlines(), blocks[2].splitlines()
    assert ['[sites."erp.example.com"]', "host_header erp.example.com"] == [
        " ".join(line.split()) for line in erp
    ]
    assert {"api_key k2", "host_header shop.example.com", "grace_seconds 60.0"} == {
        " ".join(line.split()) for line in shop[1:]
    }  # the same secret as the defaults: not repeated
    assert 0 == cli.main(["config", "--config", str(path), "--json"])
    data = orjson.loads(capsys.readouterr().out)
    assert SECRET not in orjson.dumps(data).decode()
    assert 30.0 == data["sites"]["erp.example.com"]["grace_seconds"]
    assert ("k2", "********") == (data["sites"]["shop.example.com"]["api_key"],
                                  data["sites"]["shop.example.com"]["api_secret"])  # fmt: skip
    assert "site" not in data["defaults"]


# -- a real fleet process -------------------------------------------------------------


@pytest.mark.redis_server
@pytest.mark.slow
def test_status_and_reload_config_against_a_running_fleet(stack: Stack, tmp_path: Path) -> None:
    """A ``run`` with two sites: status has a row per site (fires counted), ping --site
    answers; a third site added to the file is served after reload-config; after a clean
    stop, reload-config exits 1."""
    pool = f"p-{uuid.uuid4().hex[:8]}"
    other, third = f"b.{stack.site}", f"c.{stack.site}"
    defaults = {"redis_url": stack.redis_url, "frappe_url": stack.endpoint.url,
                "api_key": API_KEY, "api_secret": API_SECRET, "pool": pool,
                "lease_seconds": 1.5, "log_format": "json"}  # fmt: skip
    path = write_config(tmp_path / "btu.toml", defaults, {stack.site: {}, other: {}})
    env = clean_env(BTU_CONFIG=str(path), BTU_INSTANCE="f1")
    proc = DaemonProc(env, tmp_path / "f1.log")
    stack.daemons.append(proc)
    config = ("--config", str(path))
    try:
        stack.cron("TS-EVERY", "* * * * * *")

        def rows() -> dict[str, Any] | None:
            out = run_cli("status", "--json", *config)
            assert out.returncode == 0, out.stderr + proc.log()[-2000:]
            data = orjson.loads(out.stdout)
            found = {row["site"]: row for row in data["sites"]}
            mine = found[stack.site]
            ready = all(r["ok"] for r in found.values()) and (mine["fires_sent"] or 0) >= 1
            return found if ready else None

        found = wait_for(rows, 30, 0.3)
        assert {"f1"} == {row["leader"] for row in found.values()}
        assert 1 == found[stack.site]["armed"]
        text = run_cli("status", *config).stdout
        assert "2 sites: 2 ok, 0 with a problem" in text
        assert f"pool '{pool}'" in text and "1 daemon alive" in text
        pong = run_cli("ping", "--site", other, *config)
        assert pong.stdout.startswith("pong from f1 (leader)"), pong.stderr
        assert 2 == run_cli("ping", *config).returncode

        write_config(path, defaults, {stack.site: {}, other: {}, third: {}})
        reload = run_cli("reload-config", *config)
        assert 0 == reload.returncode, reload.stderr
        assert "1 daemon alive (f1)" in reload.stdout
        wait_for(lambda: (rows() or {}).get(third, {}).get("ok"), 30, 0.3)
    finally:
        proc.term()
        for site in (other, third):
            found_keys = list(stack.r.scan_iter(match=f"btu:{site}:*"))
            if found_keys:
                stack.r.delete(*found_keys)
    after = run_cli("reload-config", *config)
    assert 1 == after.returncode and "is alive" in after.stderr
    stopped = orjson.loads(run_cli("status", "--json", *config).stdout)
    assert {"no leader"} == {row["problem"] for row in stopped["sites"]}
    for key in (PoolKeys(pool).members, PoolKeys(pool).members + ":digests",
                PoolKeys(pool).control):  # fmt: skip
        stack.r.delete(key)


@pytest.mark.redis_server
def test_status_with_discovery_covers_the_registered_sites(
    private_redis: Any, tmp_path: Path, no_btu_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    """discover = true: the sites the app registered in Redis get a row after the listed
    ones (each once), with the problem of having no leader here."""
    client = redis.Redis.from_url(private_redis.url)
    entries = [SiteEntry(name, name, "0.1.0", 1) for name in ("disc.example.com",
                                                              "listed.example.com")]  # fmt: skip
    client.hset("btu:sites", mapping={e.site: e.encode() for e in entries})
    client.hset("btu:sites", "broken.example.com", "{not json")  # set aside, not shown
    client.close()
    path = tmp_path / "btu.toml"
    path.write_text(f'redis_url = "{private_redis.url}"\ndiscover = true\n'
                    '[sites."listed.example.com"]\n')  # fmt: skip
    assert 0 == cli.main(["status", "--json", "--config", str(path)])
    data = orjson.loads(capsys.readouterr().out)
    assert [("listed.example.com", "no leader"), ("disc.example.com", "no leader")] == [
        (row["site"], row["problem"]) for row in data["sites"]
    ]


@pytest.mark.redis_server
def test_status_follows_a_lease_held_by_another_pools_daemon(r: redis.Redis, token: str) -> None:
    """A site led by a daemon of another pool is ok while that pool says it is alive."""
    now = server_ms(r)
    other = f"{token}-other"
    r.zadd(PoolKeys(other).members, {"x1": now + 60_000, "x2": now - 1})
    sites = [f"alive.{token}.local", f"dead.{token}.local"]
    for site, instance in zip(sites, ("x1", "x2"), strict=True):
        r.set(Keys(site).leader, _lease(instance, other))
        _beat(r, site, instance, 100, now)
    data = poolstatus.read_pool(r, [poolstatus.SiteRef(s) for s in sites], token)
    assert [None, "leader x2 is not alive (the site is taken over within a lease)"] == [
        row["problem"] for row in data["sites"]
    ]
    assert [] == data["daemons"]  # not this pool's daemons


def test_status_over_every_site_exits_1_when_redis_cannot_be_read(
    tmp_path: Path, no_btu_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    """Redis unreachable: exit 1 with one line naming it, password masked."""
    path = write_config(tmp_path / "btu.toml", {"redis_url": f"redis://u:{SECRET}@127.0.0.1:9/0"},
                        {"a.example.com": {}, "b.example.com": {}})  # fmt: skip
    assert 1 == cli.main(["status", "--config", str(path)])
    err = capsys.readouterr().err
    assert "cannot reach Redis at redis://u:********@127.0.0.1:9/0" in err
    assert SECRET not in err

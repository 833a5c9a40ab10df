"""The operator's CLI against real daemons: check, reload, cancel, dead, schedules and
status views, config sources, argument errors, pipes and JSON numbers."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from btu_scheduler import cli
from streams.messages import FireRecord
from tests.harness import Stack, now_ms, wait_for
from tests.tcpproxy import TcpProxy

pytestmark = [pytest.mark.redis_server, pytest.mark.slow]


def run_cli(stack: Stack, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "btu_scheduler.cli", *args],
        env=stack.env("cli", **env),
        capture_output=True,
        text=True,
        timeout=30,
    )


@pytest.mark.parametrize(
    "argv",
    [["next", "0"], ["next", "-3"], ["ping", "--timeout", "-1"], ["ping", "--timeout", "nan"],
     ["fires", "--count", "0"], ["schedules", "0"]],
)  # fmt: skip
def test_bad_local_arguments_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """Arguments checked locally (counts, timeouts) exit 2 with argparse's error line."""
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    assert exc.value.code == 2
    assert "error:" in capsys.readouterr().err


def test_check_passes_against_the_site_and_fails_on_a_wrong_secret(stack: Stack) -> None:
    """check exits 0 against the site, 1 naming the refused token or the unreachable URL."""
    good = run_cli(stack, "check")
    assert 0 == good.returncode, good.stdout + good.stderr
    assert "answers as 'btu-daemon@stand-in'" in good.stdout
    bad = run_cli(stack, "check", BTU_API_SECRET="wrong")
    assert 1 == bad.returncode
    assert "refused the token of api_key 'test-key' (HTTP 401" in bad.stdout
    assert "wrong" not in bad.stdout.replace("wrong secret", "")
    nowhere = run_cli(stack, "check", BTU_FRAPPE_URL="http://127.0.0.1:9")
    assert 1 == nowhere.returncode and "cannot reach the site" in nowhere.stdout


def test_a_wrong_secret_is_an_error_line_at_start(stack: Stack) -> None:
    """A wrong secret is a site_check_failed error line at start-up, without the secret."""
    daemon = stack.start_daemon("w1", BTU_API_SECRET="wrong")
    line = wait_for(
        lambda: [x for x in daemon.log().splitlines() if '"site_check_failed"' in x], 10
    )[0]
    entry = orjson.loads(line)
    assert ("error", "w1") == (entry["level"], entry["instance"])
    assert "HTTP 401" in entry["error"] and "wrong" not in line
    assert daemon.alive  # it keeps running: the site may be fixed without a restart


def test_reload_and_cancel_from_the_cli(stack: Stack) -> None:
    """Both answer in one line; a probe (ping) is logged at debug only, a change at info."""
    daemon = stack.start_daemon("r1")
    stack.cron("TS-CLI-1", "0 3 * * *")
    wait_for(lambda: stack.rpc_or_none("schedules"))
    reloaded = run_cli(stack, "reload", "TS-CLI-1")
    assert 0 == reloaded.returncode and "TS-CLI-1: reloaded, next " in reloaded.stdout
    cancelled = run_cli(stack, "cancel", "TS-CLI-1")
    assert "TS-CLI-1: cancelled until its next change" in cancelled.stdout
    rows = orjson.loads(run_cli(stack, "schedules", "--json").stdout)
    assert [("TS-CLI-1", "cancelled")] == [(r["id"], r["state"]) for r in rows]
    assert 0 == run_cli(stack, "ping").returncode
    rpc_lines = [orjson.loads(x) for x in daemon.log().splitlines() if '"event":"rpc"' in x]
    assert {"reload", "cancel"} == {x["cmd"] for x in rpc_lines}


def test_schedules_has_a_header_and_tells_states_apart(stack: Stack) -> None:
    """Armed, disabled, done (a once item that fired) and broken (with its error)."""
    stack.start_daemon("s1")
    stack.cron("TS-ARMED", "0 3 * * *")
    stack.cron("TS-OFF", "0 3 * * *", enabled=False)
    stack.cron("TS-BROKEN", "0 3 * * *", tz="Mars/Olympus_Mons")
    stack.once("RL-DONE", now_ms() + 100)
    wait_for(lambda: stack.enqueued())
    wait_for(lambda: stack.dead())
    out = run_cli(stack, "schedules").stdout.splitlines()
    assert out[0].split() == ["ID", "STATE", "NEXT", "SCHEDULE", "TASK"]
    states = {line.split()[0]: line.split()[1] for line in out[1:]}
    assert {"TS-ARMED": "armed", "TS-OFF": "disabled", "RL-DONE": "done",
            "TS-BROKEN": "broken"} == states  # fmt: skip
    assert "Mars/Olympus_Mons" in next(line for line in out if line.startswith("TS-BROKEN"))
    status = run_cli(stack, "status").stdout
    assert "broken     1 item" in status and "TS-BROKEN" in status
    # Fixed: no longer broken.
    stack.cron("TS-BROKEN", "0 3 * * *", tz="UTC")
    wait_for(lambda: "broken" not in run_cli(stack, "schedules").stdout)


def test_dead_letters_are_written_once_across_resyncs_and_restarts(stack: Stack) -> None:
    """A broken item in the state hash is met by every resync and every restart; it is
    one dead letter, named by its item id, not one per load."""
    daemon = stack.start_daemon("d1")
    stack.cron("TS-BAD-CRON", "61 * * * *")
    wait_for(lambda: stack.dead())
    stack.rpc("resync")
    stack.rpc("resync")
    daemon.term()
    stack.start_daemon("d2")
    stack.rpc("resync")
    assert 1 == len(stack.dead())
    listed = run_cli(stack, "dead").stdout.splitlines()
    assert 1 == len(listed) and "id TS-BAD-CRON" in listed[0]
    [as_json] = [orjson.loads(x) for x in run_cli(stack, "dead", "--json").stdout.splitlines()]
    assert ("TS-BAD-CRON", int) == (as_json["id"], type(as_json["ts"]))
    log_line = next(x for x in daemon.log().splitlines() if '"dead_letter"' in x)
    assert '"id":"TS-BAD-CRON"' in log_line


def test_dead_follow_prints_new_letters(stack: Stack) -> None:
    """dead --follow prints a letter written after it started, with its item id."""
    stack.start_daemon("f1")
    with subprocess.Popen(
        [sys.executable, "-m", "btu_scheduler.cli", "dead", "--follow"],
        env=stack.env("cli"), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    ) as proc:  # fmt: skip
        try:
            time.sleep(1.0)  # let it reach its blocking read
            stack.cron("TS-LATER-BAD", "0 3 * * *", tz="Nowhere/Land")
            assert proc.stdout is not None
            line = proc.stdout.readline()
            assert "id TS-LATER-BAD" in line and "Nowhere/Land" in line
        finally:
            proc.terminate()


def test_status_rows_show_heartbeat_age_and_a_dead_instance_as_gone(stack: Stack) -> None:
    """A killed leader shows as gone, not as a second leader; rows carry heartbeat age."""
    first = stack.start_daemon("g1")
    stack.start_daemon("g2", wait_leader=False)
    wait_for(lambda: len(stack.rpc("status")["instances"]) == 2)
    first.kill()
    wait_for(lambda: stack.ping(0.3).get("instance") == "g2", 15)
    status: dict[str, Any] = wait_for(
        lambda: (
            (s := stack.rpc("status"))
            and {i["instance"]: i["role"] for i in s["instances"]}.get("g1") == "gone"
            and s
        ),
        15,
    )
    roles = {i["instance"]: i["role"] for i in status["instances"]}
    assert {"g1": "gone", "g2": "leader"} == roles
    text = run_cli(stack, "status").stdout
    assert "HEARTBEAT AGE" in text
    g2 = next(line for line in text.splitlines() if line.strip().startswith("g2"))
    assert " s " in g2 and "leader" in g2


def test_fires_json_numbers_and_detail(stack: Stack) -> None:
    """fires --json prints numbers as numbers; the text form shows the detail."""
    record = FireRecord(fire_id="TS-J@1000", id="TS-J", due=1000, sent=1250, outcome="failed",
                        instance="i", attempt=2, http=404, detail="HTTP 404: gone")  # fmt: skip
    stack.r.xadd(stack.keys.fires, record.encode())  # type: ignore[arg-type]
    out = run_cli(stack, "fires", "--json")
    [entry] = [orjson.loads(x) for x in out.stdout.splitlines()]
    assert (1000, 1250, 250, 2, 404, "HTTP 404: gone") == (
        entry["due"], entry["sent"], entry["lag_ms"], entry["attempt"], entry["http"],
        entry["detail"],
    )  # fmt: skip
    assert "detail HTTP 404: gone" in run_cli(stack, "fires").stdout


def test_no_traceback_when_piped_into_head(stack: Stack) -> None:
    """fires piped into head ends quietly, without a BrokenPipeError traceback."""
    for n in range(300):
        record = FireRecord(fire_id=f"TS-{n}@1000", id=f"TS-{n}", due=1000, sent=1001,
                            outcome="enqueued", instance="i")  # fmt: skip
        stack.r.xadd(stack.keys.fires, record.encode())  # type: ignore[arg-type]
    env = stack.env("cli")
    command = f"{sys.executable} -m btu_scheduler.cli fires --count 300 | head -1"
    done = subprocess.run(command, shell=True, env=env, capture_output=True, text=True,
                          timeout=30)  # fmt: skip
    assert 1 == len(done.stdout.splitlines())
    assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr


def test_config_names_its_file_the_env_values_and_unknown_variables(
    stack: Stack, tmp_path: Path
) -> None:
    """config names its file, marks env and flag values, and warns of an unknown BTU_ name."""
    path = tmp_path / "btu.toml"
    path.write_text('grace_seconds = 60\nlog_level = "debug"\n')
    out = run_cli(stack, "config", "--config", str(path), "--site", "flag.example.com",
                  BTU_GRACE_SECONDS="30", BTU_LEASE_SECONS="3")  # fmt: skip
    assert 0 == out.returncode
    assert f"# file: {path}" in out.stdout
    lines = {line.split()[0]: line for line in out.stdout.splitlines()[1:]}
    assert "30.0  (env BTU_GRACE_SECONDS)" in lines["grace_seconds"]
    assert lines["log_level"].split() == ["log_level", "debug"]  # from the file
    assert "flag.example.com  (flag --site)" in lines["site"]
    assert "warning: unknown environment variable BTU_LEASE_SECONS" in out.stderr
    as_json = orjson.loads(run_cli(stack, "config", "--json", "--config", str(path)).stdout)
    assert as_json["sources"]["file"] == str(path)
    assert "redis_url" in as_json["sources"]["from_env"]


def test_fires_follow_reconnects_after_a_redis_blip(stack: Stack) -> None:
    """fires --follow survives a cut connection and prints what was written meanwhile."""
    stack.start_daemon("b1")
    redis_port = int(stack.redis_url.rsplit(":", 1)[1].split("/")[0])
    proxy = TcpProxy(redis_port)

    def add(item_id: str) -> None:
        record = FireRecord(fire_id=f"{item_id}@1000", id=item_id, due=1000, sent=1001,
                            outcome="enqueued", instance="i")  # fmt: skip
        stack.r.xadd(stack.keys.fires, record.encode())  # type: ignore[arg-type]

    add("TS-BEFORE")
    try:
        with subprocess.Popen(
            [sys.executable, "-m", "btu_scheduler.cli", "fires", "--follow",
             "--redis-url", proxy.url],
            env=stack.env("cli"), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        ) as proc:  # fmt: skip
            assert proc.stdout is not None and proc.stderr is not None
            try:
                assert "TS-BEFORE" in proc.stdout.readline()
                proxy.cut()
                assert "lost Redis" in proc.stderr.readline()
                add("TS-DURING")
                proxy.restore()
                assert "Redis is back" in proc.stderr.readline()
                add("TS-AFTER")
                assert "TS-DURING" in proc.stdout.readline()
                assert "TS-AFTER" in proc.stdout.readline()
            finally:
                proc.terminate()
    finally:
        proxy.close()


def test_check_fails_when_redis_is_unreachable(stack: Stack) -> None:
    """check names an unreachable Redis (password masked) and exits 1."""
    out = run_cli(stack, "check", "--redis-url", "redis://u:pw-secret@127.0.0.1:9/0")
    assert 1 == out.returncode
    assert "FAILED  redis  cannot reach Redis at redis://u:********@127.0.0.1:9/0" in out.stdout
    assert "pw-secret" not in out.stdout + out.stderr

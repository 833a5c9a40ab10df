"""A multi-site daemon's /healthz and /readyz answers (btu_scheduler/fleet/supervisor.py):
a site loop that ends while its site is still wanted makes the process unhealthy, named;
one that was asked to stop does not. The answers come from what the site threads keep up,
not from a walk over every site's thread (a probe every second over 1,000 sites)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from btu_scheduler import config
from btu_scheduler.daemon import Daemon
from btu_scheduler.fleet.supervisor import Supervisor
from tests.harness import wait_for


@pytest.fixture
def supervisor(
    redis_url: str | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Supervisor, list[str]]]:
    if redis_url is None:
        pytest.skip("needs a real Redis: set BTU_TEST_REDIS_URL or install redis-server")
    tag = uuid.uuid4().hex[:8]
    names = [f"test-{tag}-{i}.local" for i in range(3)]
    path = tmp_path / "fleet.toml"
    path.write_text(
        f'redis_url = "{redis_url}"\nfrappe_url = "http://127.0.0.1:9"\napi_key = "k"\n'
        f'api_secret = "s"\npool = "t{tag}"\ninstance = "health-{tag}"\n'
        + "".join(f'[sites."{n}"]\n' for n in names)
    )
    monkeypatch.setattr(config, "DEFAULT_CONFIG_PATH", tmp_path / "absent.toml")
    fleet, _ = config.load_fleet(path, env={})

    # The site loops: the first one ends at once (a crash), the others run until stopped.
    def run(d: Daemon) -> None:
        if d.settings.site != names[0]:
            d.stopping.wait()

    monkeypatch.setattr(Daemon, "run_in_fleet", run)
    monkeypatch.setattr(Supervisor, "_check_sites", lambda _self, _sites: None)
    sup = Supervisor(fleet, lambda: fleet)
    sup._apply(sup._wanted())
    try:
        yield sup, names
    finally:
        sup._stop_all()


def test_a_site_loop_that_ended_makes_the_process_unhealthy(
    supervisor: tuple[Supervisor, Any],
) -> None:
    sup, names = supervisor
    wait_for(lambda: not sup.healthz()[0], 5)
    why = f"1 site loop(s) stopped: {names[0]}"
    assert (False, why) == sup.healthz()
    assert (False, why) == sup.readyz()


def test_a_site_stopped_on_purpose_is_not_a_failure(supervisor: tuple[Supervisor, Any]) -> None:
    sup, names = supervisor
    wait_for(lambda: not sup.healthz()[0], 5)
    with sup._lock:
        site = sup.sites[names[1]]
        sup._stop_site(site)  # removed from the configuration: it stops, and is not missed
        crashed = sup.sites[names[0]]
        sup._stop_site(crashed)
    site.thread.join(timeout=5)
    assert not site.thread.is_alive()
    assert (True, "ok: 1 sites") == sup.healthz()
    with sup._lock:  # started again under the same name: one more healthy site
        sup._start_site(sup._wanted()[names[1]])
    assert (True, "ok: 2 sites") == sup.healthz()

"""The README's first command: `btu-scheduler demo` runs the whole chain and cleans up."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("backend", ["--fakeredis", None], ids=["fakeredis", "redis-server"])
def test_demo_fires_runs_jobs_and_cleans_up(backend: str | None) -> None:
    """The demo arms its schedules, fires them, RQ runs the jobs, and it ends with a
    summary and nothing left running (on fakeredis, as on a machine without Redis)."""
    args = [sys.executable, "-m", "btu_scheduler.cli", "demo", "--seconds", "6"]
    result = subprocess.run(
        args + ([backend] if backend else []), capture_output=True, text=True, timeout=120
    )
    out = result.stdout
    assert 0 == result.returncode, result.stderr[-2000:]
    assert "armed     TS-DEMO-01" in out and "disabled: not armed" in out
    fired = int(re.search(r"fires: (\d+)", out).group(1))  # type: ignore[union-attr]
    finished = int(re.search(r"jobs finished: (\d+)", out).group(1))  # type: ignore[union-attr]
    assert fired >= 3 and finished >= 1
    assert "redis-cli -p" in out and "cleaned up" in out
    # the closing lines: the CLI against the demo's Redis, --keep, where to read next
    assert re.search(r"BTU_SITE=\S+ BTU_REDIS_URL=redis://\S+ btu-scheduler status", out)
    assert "btu-scheduler demo --keep" in out and "docs/operations.md" in out

"""The fire client alone: CPU and wall time to send 10,000 fires through the daemon's
BatchingSender and HTTP client to the stub endpoint, in batches and singly, in one
process (no Redis, no claims, no records). Used for docs/decisions/0011.

Usage: ``python -m benchmarks.measure_client [BATCH_SIZE ...]`` (default: 100 1). To
measure another source tree's client, run it with ``PYTHONPATH=<tree>``.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time

from btu_scheduler.engine import Fire
from btu_scheduler.fire.batching import BatchingSender, BatchSettings
from btu_scheduler.fire.client import make_client

FIRES = 10_000
CONCURRENCY = 32
HEADERS = {"Authorization": "token k:s", "Content-Type": "application/json"}


def measure(url: str, batch_size: int) -> str:
    sender = BatchingSender(
        lambda: make_client(url, HEADERS, 10.0, CONCURRENCY),
        BatchSettings(batch_size=batch_size, concurrency=CONCURRENCY),
    )
    try:
        _run(sender, "WARM", 200)
        cpu, wall = time.process_time(), time.perf_counter()
        outcomes = _run(sender, f"B{batch_size}", FIRES)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    finally:
        sender.close()
    return (
        f"batch_size={batch_size}: {FIRES:,} fires in {wall * 1000:,.0f} ms wall, "
        f"{cpu * 1000:,.0f} ms CPU ({cpu * 1e6 / FIRES:.0f} µs a fire); outcomes {outcomes}"
    )


def _run(sender: BatchingSender, prefix: str, count: int) -> dict[str, int]:
    outcomes: dict[str, int] = {}
    lock = threading.Lock()
    finished = threading.Event()

    def done(result: object, _sent: int) -> None:
        with lock:
            key = str(getattr(result, "outcome", "?"))
            outcomes[key] = outcomes.get(key, 0) + 1
            if sum(outcomes.values()) == count:
                finished.set()

    for i in range(count):
        sender.send(Fire(f"{prefix}-{i}", "once", "Bench", 1_000), done)
        if i % 500 == 499:  # the firing loop flushes after each claimed chunk
            sender.flush()
    sender.flush()
    if not finished.wait(300):
        raise TimeoutError(f"only {sum(outcomes.values())} of {count} answered")
    return outcomes


def main(argv: list[str]) -> int:
    sizes = [int(a) for a in argv] or [100, 1]
    stub = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.stub_endpoint"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert stub.stdout is not None
        port = int(stub.stdout.readline().split()[1])
        for size in sizes:
            print(measure(f"http://127.0.0.1:{port}", size), flush=True)
    finally:
        stub.terminate()
        stub.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

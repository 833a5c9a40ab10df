"""Signal handlers hand their work to a thread (btu_scheduler.threads.from_signal).

A handler runs in the main thread between two bytecodes, possibly while that thread
holds the lock its work needs: a multi-site daemon's main thread waits on the very
event SIGTERM sets, and a second signal may interrupt the first handler. Setting the
event in place deadlocked a daemon (it never exited)."""

from __future__ import annotations

import threading

from btu_scheduler import threads


def test_work_from_a_handler_runs_even_while_the_main_thread_holds_its_lock() -> None:
    event = threading.Event()
    # What the main thread holds when a signal lands in Event.wait's bookkeeping, or in
    # a first handler's Event.set: the event's own condition lock.
    with event._cond:
        threads.from_signal(event.set, "test-stop")
        assert not event.is_set()  # not done in place: that would deadlock here
    assert event.wait(5)

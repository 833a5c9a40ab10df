"""What runs in the RQ worker: ``btu.runner.run_task`` (the job BTU enqueues, carrying
only the Task Log's name) and ``on_job_failure`` (RQ's failure callback).

A run: the function's declaration and the Run As user are checked again (a path saved
before BTU required declarations, or an app uninstalled since, fails here and runs
nothing), the Queued log becomes In Progress (committed; start emails queued when a
recipient asked for them), the function runs as the task's "Run As" user with
stdout/stderr captured, the task's own database writes are committed on success and
rolled back on failure (everything since In Progress was committed; in tests, which
commit nothing, to a savepoint taken just before the call), and the log ends Success,
Failed or Timeout with its output, duration and emails. A failed or timed-out
run re-raises, so RQ lists the job among the failed ones (and can requeue it).
"""

import logging
import os
import socket
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import frappe
from rq.timeouts import JobTimeoutException

from btu.core import capture, housekeeping, notify, runas
from btu.core.arguments import ArgumentsError, format_arguments, merge_arguments, parse_arguments
from btu.core.callables import CallableError, resolve
from btu.core.rq_jobs import task_log_of
from btu.exceptions import TaskFailed
from btu.services import clock, config, log_write, logs, notifications, rows, txn

LOG = "BTU Task Log"
IN_PROGRESS = "In Progress"
SAVEPOINT = "btu_task_run"


@dataclass(frozen=True)
class Target:
    path: str
    args: dict[str, Any]
    run_as: str
    # (who set them, what): schedule overrides and run-later arguments merged into args
    authors: tuple[tuple[str | None, str], ...] = ()


def _args(text: str | None, label: str) -> dict[str, Any]:
    return parse_arguments(text, label)


def _task_row(log, joined: dict | None):
    """The task's run fields: from the log's joined read when given, else read now."""
    if joined is None:
        return rows.get("BTU Task", log.task, ["function_path", "arguments", "run_as"])
    if not joined.get("btu_task_name"):
        return None
    return frappe._dict(
        function_path=joined["btu_task_function_path"],
        arguments=joined["btu_task_arguments"],
        run_as=joined["btu_task_run_as"],
    )


def resolve_target(log, joined: dict | None = None) -> Target:
    """The function, merged arguments and user of ``log``'s run, from the database as it
    is now (schedule overrides and run-later arguments over the task's); ``joined``: the
    task's fields read along with the log (:func:`btu.services.rows.log_with_task`).
    Plain SQL reads (:mod:`btu.services.rows`): ``frappe.db.get_value`` would import
    Frappe's query builder layer and document model in every work horse."""
    path, base, overrides, run_as = None, {}, {}, None
    authors: list[tuple[str | None, str]] = []
    if log.task:
        task = _task_row(log, joined)
        if not task:
            raise CallableError(f"Task '{log.task}' no longer exists.")
        path, base, run_as = (
            task.function_path,
            _args(task.arguments, "Task arguments"),
            task.run_as,
        )
    if log.schedule:
        row = rows.get(
            "BTU Task Schedule", log.schedule, ["argument_overrides", "arguments_set_by"]
        )
        overrides = _args(row.argument_overrides, "Argument overrides") if row else {}
        if overrides:
            authors.append((row.arguments_set_by, f"The argument overrides of {log.schedule}"))
    if log.run_later:
        row = rows.get(
            "BTU Run Later",
            log.run_later,
            ["function_path", "arguments", "run_as", "arguments_set_by"],
        )
        if row:
            if not path:
                path, run_as = row.function_path, row.run_as
            overrides = _args(row.arguments, "Run Later arguments")
            if overrides:
                authors.append((row.arguments_set_by, f"The arguments of {log.run_later}"))
    if not path:
        raise CallableError("Nothing to run: no task and no function path.")
    return Target(
        path=path,
        args=merge_arguments(base, overrides),
        run_as=run_as or "",
        authors=tuple(authors),
    )


def check_run_as(target: Target, joined: dict | None = None) -> str:
    """The user the run starts as, if that user can run it now (exists, enabled), and
    if whoever set its overrides or arguments may act for that user (the task's Run As
    user may come read along with the log, in ``joined``)."""
    run_as = target.run_as
    if joined and run_as and joined.get("btu_user_name") == run_as:
        enabled = joined["btu_user_enabled"]
    else:
        enabled = rows.value("User", run_as, "enabled") if run_as else None
    runas.check_runner(run_as, enabled is not None, bool(enabled))
    for author, what in target.authors:
        runas.check_author(author, frappe.get_roles(author) if author else [], run_as, what)
    return run_as


def _worker() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _start(log, target: Target, recipients: list[dict]) -> None:
    """In Progress, committed before the task runs; start emails only when a recipient
    asked for them (and one more commit only then)."""
    log_write.write(
        log,
        {
            "status": IN_PROGRESS,
            "started": clock.now(),
            "function_path": target.path,
            "arguments": format_arguments(target.args),
            "run_as": target.run_as,
            "worker": _worker(),
        },
    )
    txn.commit()
    if notifications.send(log, notify.START, recipients):
        txn.commit()


def _finish(log, outcome: capture.RunOutcome, recipients: list[dict]) -> None:
    """The outcome, committed (Frappe rolls back after a job that raises); emails only
    when a recipient asked for this outcome's."""
    log_write.write(
        log,
        {
            "status": outcome.status,
            "ended": clock.now(),
            "duration": outcome.duration_s,
            "stdout": outcome.stdout,
            "stderr": outcome.stderr,
            "result": outcome.result,
            "traceback": outcome.traceback,
            "error": outcome.error,
        },
    )
    logs.record_outcome(log)
    txn.commit()
    event = notify.event_for_status(outcome.status)
    if event and notifications.send(log, event, recipients):
        txn.commit()


def _mark_task_start() -> None:
    """Where a failed task's writes are rolled back to. In a worker, In Progress has just
    been committed, so the transaction holds only the task's writes and a plain rollback
    undoes exactly them (no savepoint: one round trip less). Tests commit nothing
    (``frappe.flags.in_test``): there a savepoint keeps their fixtures."""
    if frappe.flags.in_test:
        frappe.db.savepoint(SAVEPOINT)


def _undo_task_writes() -> None:
    """Roll back what the failed task wrote since it started (the log's In Progress state
    is older); if the task committed on its own, roll back the rest of its transaction."""
    if not frappe.flags.in_test:
        frappe.db.rollback()
        return
    try:
        frappe.db.rollback(save_point=SAVEPOINT)
    except (frappe.db.OperationalError, frappe.db.InternalError, frappe.db.ProgrammingError):
        frappe.db.rollback()


def _is_timeout(exc: BaseException) -> bool:
    return isinstance(exc, JobTimeoutException)


def run_task(task_log: str) -> None:
    """Run the task of ``task_log`` (a BTU Task Log name) in this worker."""
    try:
        _run(task_log)
    finally:
        # The time zone read for this run is not kept beyond it (a synchronous queue or
        # a test runs many jobs in one context).
        clock.forget_time_zone()


def _run(task_log: str) -> None:
    # The log's row, not its Document, read with plain SQL: a work horse then never
    # imports Frappe's document model nor loads the doctype's meta for a run (the writes
    # go through log_write). Its task and the task's Run As user come in the same query.
    log, joined = rows.log_with_task(task_log)
    if not log:
        frappe.logger("btu").warning(f"btu: task log {task_log} is gone; nothing to run")
        return
    log.doctype = LOG
    if not housekeeping.run_is_due(log.status):
        frappe.logger("btu").info(f"btu: {task_log} is {log.status}; not running it again")
        return
    # BTU's extra runnable functions and the system time zone, in one query.
    extra, zone = (config.CONFIG, config.EXTRA_RUNNABLE), (clock.SYSTEM_SETTINGS, clock.TIME_ZONE)
    singles = rows.singles_text([extra, zone])
    clock.remember_time_zone(singles.get(zone))
    target = None
    try:
        target = resolve_target(log, joined)
        func = resolve(target.path, config.runnable(singles.get(extra) or ""))
        check_run_as(target, joined)
    except (ArgumentsError, CallableError, runas.RunAsError) as e:
        reason = f"Not run: {e}"
        refused: dict[str, Any] = {"started": clock.now()}
        if target is not None:
            refused.update(function_path=target.path, run_as=target.run_as or None)
        log_write.write(log, refused)
        logs.close(log.name, "Failed", reason)
        raise TaskFailed(f"{log.name}: {reason}") from e
    # Read only when the task has any (counted along with the log).
    has_recipients = joined.get("btu_task_recipients", 1)
    recipients = notifications.recipient_rows(log.task) if has_recipients else []
    _start(log, target, recipients)
    previous_user = frappe.session.user
    frappe.set_user(target.run_as)
    _mark_task_start()
    try:
        outcome = capture.run_captured(func, target.args, is_timeout=_is_timeout)
    finally:
        frappe.set_user(previous_user)
    if outcome.exception is not None:
        _undo_task_writes()
    _finish(log, outcome, recipients)
    if outcome.status == capture.TIMEOUT and outcome.exception is not None:
        raise outcome.exception
    if outcome.exception is not None:
        raise TaskFailed(f"{log.name}: {outcome.error}") from outcome.exception


# -- RQ failure callback ----------------------------------------------------------------


@contextmanager
def site_context(site: str | None):
    """Frappe connected to ``site``: reuse the current context when it is that site
    (synchronous queues in tests), else init and destroy one (the work horse, after
    Frappe's ``execute_job`` has already destroyed its own)."""
    if getattr(frappe.local, "site", None) == site and getattr(frappe.local, "db", None):
        yield
        return
    frappe.init(site=site)
    try:
        frappe.connect()
        yield
    finally:
        frappe.destroy()


def close_after_failure(job, exc_value: BaseException | None) -> bool:
    """Close the job's log if the runner could not (time limit hit, job crashed)."""
    name = task_log_of(job)
    if not name:
        return False
    status = "Timeout" if isinstance(exc_value, JobTimeoutException) else "Failed"
    what = "hit its time limit" if status == "Timeout" else "failed"
    reason = f"The RQ job {what}: {type(exc_value).__name__}: {exc_value}"
    return logs.close(name, status, reason)


def on_job_failure(job, connection, exc_type=None, exc_value=None, traceback=None) -> None:
    """RQ's failure callback (rq 1.15: ``(job, connection, type, value, traceback)``)."""
    from frappe.utils.background_jobs import truncate_failed_registry

    try:
        with site_context((job.kwargs or {}).get("site")):
            close_after_failure(job, exc_value)
            # BTU's callback replaces Frappe's default one: keep its clean-up.
            truncate_failed_registry(job, connection, exc_type, exc_value, traceback)
    except Exception:
        # An exception here would replace the job's own error in RQ's records; the sweep
        # closes the log later if this failed.
        logging.getLogger("btu").exception("btu: failure callback of %s failed", job.id)

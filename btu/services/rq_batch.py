"""Enqueueing many runner jobs through one Redis pipeline.

Each job is the one :func:`btu.services.firing.enqueue_job` creates through
``frappe.enqueue`` (Frappe v15, rq 1.15): Frappe's ``execute_job`` with the site, user and
method ``btu.runner.run_task``, the job id ``{site}::{base job id}``, the log's time limit,
BTU's failure callback and Frappe's result and failure TTLs; so Frappe's worker runs it
as it runs any other job.
"""

import frappe
from frappe.utils.background_jobs import (
    RQ_JOB_FAILURE_TTL,
    RQ_RESULTS_TTL,
    execute_job,
    get_queue,
    get_redis_conn,
)
from rq import Callback, Queue

from btu.core.rq_jobs import RUNNER


def job_kwargs(task_log: str) -> dict:
    """The kwargs ``frappe.enqueue(RUNNER, task_log=...)`` gives RQ."""
    return {
        "site": frappe.local.site,
        "user": frappe.session.user,
        "method": RUNNER,
        "event": None,
        "job_name": RUNNER,
        "is_async": True,
        "kwargs": {"task_log": task_log},
    }


def _job_data(log, on_failure: Callback):
    return Queue.prepare_data(
        execute_job,
        kwargs=job_kwargs(log.name),
        timeout=log.time_limit,
        result_ttl=frappe.conf.get("rq_results_ttl") or RQ_RESULTS_TTL,
        failure_ttl=frappe.conf.get("rq_job_failure_ttl") or RQ_JOB_FAILURE_TTL,
        job_id=log.job_id,
        on_failure=on_failure,
    )


def enqueue(logs) -> None:
    """Enqueue the runner for each of ``logs`` (objects with name, job_id, queue and
    time_limit) in one Redis transaction; a Redis error propagates (nothing or, at worst,
    all of them enqueued: the pipeline is MULTI/EXEC)."""
    from btu.runner import on_job_failure

    if not logs:
        return
    callback = Callback(func=on_job_failure)
    by_queue: dict[str, list] = {}
    for log in logs:
        by_queue.setdefault(log.queue, []).append(_job_data(log, callback))
    pipe = get_redis_conn().pipeline()
    for queue, datas in by_queue.items():
        get_queue(queue).enqueue_many(datas, pipeline=pipe)
    pipe.execute()

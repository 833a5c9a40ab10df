"""Building the fire path from the daemon's settings: the endpoint for blocking calls,
the sender and the dispatcher."""

from __future__ import annotations

import time
from collections.abc import Callable

from redis import Redis

from btu_scheduler.config import Settings
from btu_scheduler.fire.auth import SiteAuth
from btu_scheduler.fire.batching import BatchingSender, BatchSettings, SharedLoop
from btu_scheduler.fire.client import make_client
from btu_scheduler.fire.dispatch import Dispatcher, DispatchSettings, OutcomeHook
from btu_scheduler.fire.endpoint import Endpoint
from btu_scheduler.fire.sender import Sender, ThreadedSender
from streams.keys import Keys


def make_endpoint(settings: Settings) -> Endpoint:
    """urllib3, for the rare republish_all call."""
    return Endpoint(
        settings.frappe_url,
        settings.api_key,
        settings.api_secret,
        host_header=settings.host_header,
        timeout_s=settings.request_timeout_seconds,
        pool_size=2,
        auth=SiteAuth(settings),
    )


def make_sender(settings: Settings, endpoint: Endpoint, injected: bool,
                clock: Callable[[], float] = time.time,
                shared: SharedLoop | None = None) -> Sender:  # fmt: skip
    """Batches over the HTTP client; a test's injected endpoint gets a thread pool
    calling its ``enqueue``."""
    if injected:
        return ThreadedSender(endpoint.enqueue, settings.http_concurrency, clock)
    batch = BatchSettings(
        batch_size=settings.batch_size,
        linger_s=settings.batch_linger_ms / 1000,
        concurrency=settings.http_concurrency,
        timeout_s=settings.request_timeout_seconds,
    )
    return BatchingSender(
        lambda: make_client(
            settings.frappe_url,
            endpoint.headers,
            settings.request_timeout_seconds,
            settings.http_concurrency,
            signer=endpoint.auth.headers if endpoint.auth and endpoint.auth.signed else None,
        ),
        batch,
        clock,
        shared,
    )


def make_dispatcher(
    settings: Settings, r: Redis, keys: Keys, sender: Sender, incarnation: str,
    clock: Callable[[], float], on_outcome: OutcomeHook,
) -> Dispatcher:  # fmt: skip
    return Dispatcher(
        r,
        keys,
        sender,
        DispatchSettings(
            instance=settings.instance,
            incarnation=incarnation,
            concurrency=settings.http_concurrency,
            max_backlog=settings.max_backlog,
            retry_initial_s=settings.retry_initial_seconds,
            retry_max_s=settings.retry_max_seconds,
            retry_deadline_s=settings.retry_deadline_seconds,
            fired_ttl_ms=int(settings.marker_ttl_seconds * 1000),
            fires_maxlen=settings.fires_maxlen,
        ),
        clock=clock,
        on_outcome=on_outcome,
    )

"""Every Redis key and stream field name of the BTU wire protocol (PROTOCOL.md, version 1).

No other module spells a key or a field name: they import them from here.
"""

from __future__ import annotations

from dataclasses import dataclass

from streams.errors import ProtocolError

PROTOCOL_VERSION = "1"
MAX_SITE_LENGTH = 255
# Site names are host names. Anything else could collide with the key structure (":"),
# match other sites in a SCAN pattern ("*?[]") or garble redis-cli output.
_SITE_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_")


@dataclass(frozen=True, slots=True)
class Keys:
    """The keys of one site: ``Keys("erp.example.com").schedules`` etc."""

    site: str

    def __post_init__(self) -> None:
        site = self.site
        if (
            not isinstance(site, str)
            or not 0 < len(site) <= MAX_SITE_LENGTH
            or not _SITE_CHARS.issuperset(site)
        ):
            raise ProtocolError(
                f"site name {site!r} is not usable in a key: it must be 1-{MAX_SITE_LENGTH} "
                "letters, digits, dots, hyphens or underscores"
            )

    @property
    def prefix(self) -> str:
        return f"btu:{self.site}:"

    @property
    def schedules(self) -> str:
        """Stream: change log of schedules and run-later items (written by the app)."""
        return f"btu:{self.site}:schedules"

    @property
    def state(self) -> str:
        """Hash: id -> JSON of the latest upsert entry (written by the app)."""
        return f"btu:{self.site}:schedules:state"

    @property
    def rpc(self) -> str:
        """Stream: control requests (written by clients)."""
        return f"btu:{self.site}:rpc"

    def rpc_reply(self, rid: str) -> str:
        """Stream: the reply to request ``rid`` (written by the daemon, expires)."""
        return f"btu:{self.site}:rpc:reply:{rid}"

    @property
    def fires(self) -> str:
        """Stream: one entry per fire outcome (written by the daemon, trimmed)."""
        return f"btu:{self.site}:fires"

    def fired(self, fire_id: str) -> str:
        """String: de-duplication marker of one fire (SET NX, expires)."""
        return f"btu:{self.site}:fired:{fire_id}"

    @property
    def last_fire(self) -> str:
        """Hash: id -> due (ms) of the last fire sent, for catch-up after downtime."""
        return f"btu:{self.site}:last-fire"

    @property
    def inflight(self) -> str:
        """Sorted set (ours): fire_id -> due (ms) of every fire claimed and not finished,
        so the next leader re-sends them all after a crash or a hand-back."""
        return f"btu:{self.site}:inflight"

    @property
    def cancelled(self) -> str:
        """Hash (ours): id -> ``ts`` of the upsert a ``cancel`` disarmed, honoured by
        every later leader until the item's next upsert."""
        return f"btu:{self.site}:cancelled"

    @property
    def leader(self) -> str:
        """String: the active instance and its fencing epoch, with a lease."""
        return f"btu:{self.site}:leader"

    def scheduler(self, instance: str) -> str:
        """Hash: heartbeat and status of one daemon instance, with a TTL."""
        return f"btu:{self.site}:scheduler:{instance}"

    @property
    def scheduler_pattern(self) -> str:
        """SCAN pattern matching every instance's heartbeat hash."""
        return f"btu:{self.site}:scheduler:*"

    @property
    def dead(self) -> str:
        """Stream: entries that could not be parsed, with the reason."""
        return f"btu:{self.site}:dead"

    @property
    def dataset(self) -> str:
        """String (ours): a random id the daemons set once (SET NX, no expiry) and check
        every few seconds; gone or changed means Redis lost the site's keys under them."""
        return f"btu:{self.site}:dataset"


# SCAN pattern of every site's leader key, and the site a matched key names (ours: the
# CLI lists the sites that have a daemon when asked about one that has none).
LEADER_PATTERN = "btu:*:leader"


def site_of_leader_key(key: str) -> str | None:
    head, _, site_and_tail = key.partition(":")
    site, _, tail = site_and_tail.rpartition(":")
    return site if head == "btu" and tail == "leader" and site else None


class PoolKeys:
    """Keys (ours) of a pool of multi-site daemons: the daemons that share a pool name
    spread its sites among themselves (docs/scaling.md). ``@`` cannot appear in a site
    name, so these never meet a site's keys."""

    def __init__(self, pool: str) -> None:
        if not pool or any(c not in _SITE_CHARS for c in pool) or len(pool) > 100:
            raise ProtocolError(
                f"pool name {pool[:40]!r} must be 1-100 characters of letters, digits, . - _"
            )
        self.pool = pool

    @property
    def members(self) -> str:
        """Sorted set: ``{instance}\t{sites digest}`` → the ms (Redis time) until which
        that daemon is alive. A site's lease held by a daemon no longer in it is free."""
        return f"btu:@pool:{self.pool}:members"

    @property
    def control(self) -> str:
        """Stream: commands for every daemon of the pool (``reload-config``)."""
        return f"btu:@pool:{self.pool}:control"


CONTROL_MAXLEN = 100


class F:
    """Stream field names. Values on the wire are always UTF-8 strings."""

    V = "v"
    # schedule change events
    OP = "op"
    ID = "id"
    KIND = "kind"
    TASK = "task"
    CRON = "cron"
    TZ = "tz"
    AT = "at"
    ENABLED = "enabled"
    TS = "ts"
    # rpc request / reply
    RID = "rid"
    CMD = "cmd"
    ARG = "arg"
    DEADLINE = "deadline"
    OK = "ok"
    DATA = "data"
    ERROR = "error"
    # fire record
    FIRE_ID = "fire_id"
    DUE = "due"
    SENT = "sent"
    LAG_MS = "lag_ms"
    OUTCOME = "outcome"
    HTTP = "http"
    JOB = "job"
    ATTEMPT = "attempt"
    INSTANCE = "instance"
    DETAIL = "detail"  # 1.1: why a fire is retrying or failed
    # dead letter
    SOURCE = "source"
    ENTRY = "entry"
    REASON = "reason"
    FIELDS = "fields"


class Op:
    UPSERT = "upsert"
    DELETE = "delete"


class Kind:
    CRON = "cron"
    ONCE = "once"


class Outcome:
    ENQUEUED = "enqueued"
    DUPLICATE = "duplicate"
    RETRYING = "retrying"
    FAILED = "failed"
    MISSED = "missed"

    ALL = frozenset({ENQUEUED, DUPLICATE, RETRYING, FAILED, MISSED})


class Cmd:
    PING = "ping"
    RELOAD = "reload"
    CANCEL = "cancel"
    NEXT = "next"
    STATUS = "status"
    RESYNC = "resync"
    SCHEDULES = "schedules"  # ours: every known item with its next instant (docs/protocol.md)

    ALL = frozenset({PING, RELOAD, CANCEL, NEXT, STATUS, RESYNC, SCHEDULES})


# Retention: how much of each daemon-written stream is kept (approximate MAXLEN).
FIRES_MAXLEN = 10_000
DEAD_MAXLEN = 10_000
RPC_MAXLEN = 1_000
SCHEDULES_MAXLEN = 100_000
RPC_REPLY_TTL_S = 60

# Batch firing (protocol 1.1): the app's batch endpoint, and the most fires one request
# may carry (the app refuses more).
ENQUEUE_BATCH_PATH = "/api/method/btu.api.enqueue_batch"
MAX_BATCH_FIRES = 500

# Endpoint paths on the Frappe site.
ENQUEUE_PATH = "/api/method/btu.api.enqueue_scheduled"
REPUBLISH_PATH = "/api/method/btu.api.republish_all"
WHOAMI_PATH = "/api/method/btu.api.whoami"  # (ours) the daemon's start-up check


class Marker:
    """Values of ``btu:{site}:fired:{fire_id}``: who claimed the fire and how it ended."""

    CLAIMED = "claimed"  # then " {instance} {incarnation}"; the request may not have been sent
    DONE = "done"  # the endpoint answered (enqueued or duplicate)
    FAILED = "failed"  # gave up (permanent error or retry deadline)
    MISSED = "missed"  # later than the grace period: recorded, not sent


class Heartbeat:
    """Fields of ``btu:{site}:scheduler:{instance}`` (all strings, like stream fields)."""

    INSTANCE = "instance"
    HOST = "host"
    PID = "pid"
    VERSION = "version"
    ROLE = "role"  # leader | standby
    EPOCH = "epoch"
    STARTED = "started"  # ms
    HEARTBEAT = "heartbeat"  # ms, Redis server time of the last renewal
    ARMED = "armed"
    NEXT_DUE = "next_due"  # ms or ""
    LAST_ID = "last_id"  # schedules stream position applied
    EVENTS = "events_applied"
    FIRES_SENT = "fires_sent"
    FIRES_FAILED = "fires_failed"
    DEAD = "dead_letters"
    BEAT_MS = "beat_ms"  # (ours) how often this hash is refreshed: older than twice is gone


class Leader:
    """Fields of the JSON value of ``btu:{site}:leader``."""

    INSTANCE = "instance"
    EPOCH = "epoch"
    POOL = "pool"  # (ours) set by a multi-site daemon: its lease has no TTL


# Keys of the demo's stand-in endpoint (not part of the wire protocol).
def demo_seen_key(site: str) -> str:
    """Set of fire_ids the stand-in endpoint has enqueued (its durable de-duplication)."""
    return f"btu:{site}:demo:seen"


# Site discovery (ours, issue 11): the app registers its site here on install, on every
# migrate and on republish_all; a daemon configured to discover serves the sites it finds.
# Field = site name, value = JSON object with the fields of ``SiteField`` (nothing secret).
SITES_REGISTRY = "btu:sites"


class SiteField:
    """Fields of the JSON value of one ``btu:sites`` entry."""

    SITE = "site"  # equals the hash field
    HOST_HEADER = "host_header"  # the Host header requests to the site carry
    APP_VERSION = "app_version"  # btu's version on that site
    REGISTERED_MS = "registered_ms"  # when the app last registered it (epoch ms)


# Signed daemon requests (ours, issue 11): the headers ``streams.signing`` writes and checks.
class SignHeader:
    SITE = "X-BTU-Site"
    TIMESTAMP = "X-BTU-Timestamp"
    SIGNATURE = "X-BTU-Signature"

"""The BTU wire contract shared by the Frappe app and the scheduler daemon.

Key names, message types and codecs (:mod:`streams.keys`, :mod:`streams.messages`),
publishing and the atomic snapshot (:mod:`streams.publish`), the control RPC client
(:mod:`streams.rpc`) and the cron/time engine (:mod:`streams.cron`), whose instants the
app's forms and the daemon must agree on; the site registry (:mod:`streams.sites`) and
signed daemon requests (:mod:`streams.signing`). See docs/protocol.md.
"""

from streams.errors import (
    CronError,
    ProtocolError,
    RpcError,
    RpcFailed,
    RpcTimeout,
    SecretError,
    SignatureRefused,
    SigningError,
    StreamsError,
)
from streams.keys import PROTOCOL_VERSION, Cmd, Keys, Kind, Op, Outcome
from streams.messages import (
    DeadLetter,
    FireRecord,
    RpcReply,
    RpcRequest,
    ScheduleDelete,
    ScheduleUpsert,
    decode_schedule_event,
    fire_id,
    job_id_for,
)
from streams.publish import (
    Snapshot,
    decode_state_value,
    publish_all,
    publish_delete,
    publish_upsert,
    snapshot,
)
from streams.rpc import RpcClient
from streams.sites import SiteEntry, decode_registry

__all__ = [
    "PROTOCOL_VERSION",
    "Cmd",
    "CronError",
    "DeadLetter",
    "FireRecord",
    "Keys",
    "Kind",
    "Op",
    "Outcome",
    "ProtocolError",
    "RpcClient",
    "RpcError",
    "RpcFailed",
    "RpcReply",
    "RpcRequest",
    "RpcTimeout",
    "ScheduleDelete",
    "ScheduleUpsert",
    "SecretError",
    "SignatureRefused",
    "SigningError",
    "SiteEntry",
    "Snapshot",
    "StreamsError",
    "decode_registry",
    "decode_schedule_event",
    "decode_state_value",
    "fire_id",
    "job_id_for",
    "publish_all",
    "publish_delete",
    "publish_upsert",
    "snapshot",
]

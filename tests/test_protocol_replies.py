"""Typed RPC reply views: documented shapes decode, anything else is a ProtocolError."""

from __future__ import annotations

from typing import Any

import pytest

from streams.errors import ProtocolError
from streams.replies import CancelReply, NextFire, PingReply, ReloadReply, resync_armed

PING = {
    "instance": "host:1", "version": "0.1.0", "pid": 1, "host": "host", "uptime_s": 2.5,
    "armed": 3, "leader": True, "next_due": 1795747880000,
}  # fmt: skip


def test_ping_reply_decodes_every_documented_field() -> None:
    """A ping reply becomes a PingReply with each field typed."""
    assert PingReply("host:1", "0.1.0", 1, "host", 2.5, 3, True, 1795747880000) == (
        PingReply.from_data(PING)
    )


def test_reload_cancel_next_and_resync_decode() -> None:
    """reload, cancel, next and resync replies decode to their typed forms."""
    assert ReloadReply("TS-1", True, ("2027-03-14T03:00:00-04:00",)) == ReloadReply.from_data(
        {"id": "TS-1", "armed": True, "next": ["2027-03-14T03:00:00-04:00"]}
    )
    assert CancelReply("TS-1", False) == CancelReply.from_data({"id": "TS-1", "removed": False})
    assert [NextFire("TS-1", 5)] == NextFire.list_from_data([{"id": "TS-1", "due": 5}])
    assert 7 == resync_armed({"armed": 7})


@pytest.mark.parametrize(
    ("decode", "data", "field"),
    [
        pytest.param(PingReply.from_data, [], "not a JSON object", id="ping-not-object"),
        pytest.param(PingReply.from_data, PING | {"pid": "1"}, "pid", id="ping-pid-string"),
        pytest.param(PingReply.from_data, PING | {"armed": True}, "armed", id="ping-armed-bool"),
        pytest.param(PingReply.from_data, PING | {"next_due": 1.5}, "next_due", id="ping-next-due"),
        pytest.param(
            ReloadReply.from_data, {"id": "x", "armed": True}, "next", id="reload-no-next"
        ),
        pytest.param(
            ReloadReply.from_data,
            {"id": "x", "armed": True, "next": [1]},
            "next",
            id="reload-next-int",
        ),
        pytest.param(CancelReply.from_data, {"id": "x"}, "removed", id="cancel-no-removed"),
        pytest.param(NextFire.list_from_data, {"id": "x"}, "list", id="next-not-list"),
        pytest.param(NextFire.list_from_data, [{"id": "x", "due": "5"}], "due", id="next-due-str"),
        pytest.param(resync_armed, {"armed": None}, "armed", id="resync-armed-null"),
    ],
)
def test_malformed_replies_raise_protocol_error_naming_the_field(
    decode: Any, data: Any, field: str
) -> None:
    """A reply of the wrong shape raises ProtocolError whose message names the problem."""
    with pytest.raises(ProtocolError) as error:
        decode(data)
    assert field in str(error.value)

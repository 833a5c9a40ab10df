"""The demo's RQ worker class: RQ's SimpleWorker (no fork per job), tolerant of
fakeredis's TCP server, whose ``CLIENT INFO`` reply RQ 3 cannot parse."""

from __future__ import annotations

from typing import Any

from rq.worker import SimpleWorker


class DemoWorker(SimpleWorker):
    def _set_ip_address(self, connection: Any) -> None:
        try:
            super()._set_ip_address(connection)
        except (ValueError, AttributeError):
            self.ip_address = "127.0.0.1"

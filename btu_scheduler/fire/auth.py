"""How the daemon proves who it is to a site.

A site with ``api_key``/``api_secret`` gets the token in a fixed ``Authorization`` header.
A site without them (a discovered site, typically) gets every request signed with the
bench secret (``signing_secret``, the site's ``btu_scheduler_secret``): three headers
that the app's auth hook checks, valid for a minute (docs/decisions/0012).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from btu_scheduler.config import Settings
from streams.signing import sign


class SiteAuth:
    def __init__(self, settings: Settings, clock: Callable[[], float] = time.time) -> None:
        self.signed = settings.signed
        self._site = settings.site
        self._secret = settings.signing_secret
        self._clock = clock
        self.static: dict[str, str] = (
            {}
            if self.signed
            else {"Authorization": f"token {settings.api_key}:{settings.api_secret}"}
        )

    def headers(self, method: str, target: str, body: bytes) -> dict[str, str]:
        """The signature headers of one request (``target``: the path and query as sent);
        none for a site with an API key (its token is a fixed header)."""
        if not self.signed:
            return {}
        return sign(self._secret, self._site, method, target, body, int(self._clock() * 1000))

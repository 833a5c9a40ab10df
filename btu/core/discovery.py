"""The site's entry in the discovery registry ``btu:sites`` (docs/protocol.md "Site
discovery"), built from the site's config: plain, no Frappe.

``btu_host_header`` in the site config (or common site config) names the ``Host`` a
daemon must send to reach the site, when that is not the site name (a site served under
another domain, or behind a proxy that routes by host).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from streams.sites import SiteEntry

HOST_HEADER_SETTING = "btu_host_header"


def host_header(site: str, conf: Mapping[str, Any]) -> str:
    value = conf.get(HOST_HEADER_SETTING)
    if isinstance(value, str) and value.strip():
        return value.strip()
    return site


def entry(site: str, conf: Mapping[str, Any], app_version: str, now_ms: int) -> SiteEntry:
    """The registry entry for ``site``; ``ProtocolError`` naming the setting's problem
    when ``btu_host_header`` is unusable."""
    return SiteEntry(
        site=site,
        host_header=host_header(site, conf),
        app_version=app_version,
        registered_ms=now_ms,
    )

"""The site's entry in the discovery registry ``btu:sites`` (docs/protocol.md "Site
discovery"): written on install, on every migrate and on ``republish_all``, removed on
uninstall. Redis being unreachable never fails those: it is logged and printed, and the
next migrate or heal writes the entry."""

import time

import frappe

from btu import __version__
from btu.core import discovery
from btu.redis_conn import REDIS_ERRORS, get_redis
from streams.errors import ProtocolError
from streams.keys import SITES_REGISTRY


def _warn(message: str) -> None:
    frappe.logger("btu", allow_site=True).warning(message)
    print(f"WARNING: {message}")


def register_site() -> bool:
    """Write this site's entry; ``False`` (with a warning) when it could not be."""
    site = frappe.local.site
    try:
        entry = discovery.entry(site, frappe.conf, __version__, time.time_ns() // 1_000_000)
        get_redis().hset(SITES_REGISTRY, site, entry.encode())
    except ProtocolError as e:
        _warn(f"btu: site {site} not registered for discovery: {e}")
        return False
    except REDIS_ERRORS as e:
        _warn(
            f"btu: site {site} not registered for discovery ({SITES_REGISTRY}), Redis "
            f"unreachable: {str(e).rstrip('.')}. The next migrate or republish registers it."
        )
        return False
    return True


def unregister_site() -> bool:
    site = frappe.local.site
    try:
        get_redis().hdel(SITES_REGISTRY, site)
    except REDIS_ERRORS as e:
        _warn(
            f"btu: site {site} could not be removed from {SITES_REGISTRY}, Redis "
            f"unreachable: {str(e).rstrip('.')}. Remove it with: "
            f"redis-cli HDEL {SITES_REGISTRY} {site}"
        )
        return False
    return True

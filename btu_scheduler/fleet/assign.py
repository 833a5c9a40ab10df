"""Which daemon of a pool should lead which site.

Rendezvous (highest random weight) hashing with bounded load: every site ranks the
daemons by a hash of (site, daemon) and goes to the first one in its ranking that has
fewer than ⌈sites / daemons⌉ sites. Every daemon computes the same answer from the same
inputs (the sites and the live daemons), no daemon gets more than ⌈sites / daemons⌉, and
when a daemon joins or leaves mostly the sites that must move do.

Given ``current`` (who leads each site now), a site stays with its live leader while that
daemon is within the bound: a site added or removed, or a daemon joining, moves only the
sites that must move (the bound), never the others, so a configuration reload does not
disturb the sites it did not change. A daemon over the bound keeps its oldest tenures
(``since``: the lease epochs): during a reload the daemon that read the new file first
takes the new site, and that site, not an old one, moves on when the others catch up.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Mapping, Sequence


def _weight(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


def assign(
    sites: Iterable[str],
    daemons: Sequence[str],
    current: Mapping[str, str] | None = None,
    since: Mapping[str, int] | None = None,
) -> dict[str, str]:
    """``{site: daemon}`` for every site; empty when there is no daemon. ``current``:
    the daemon leading each site now (sites it leads stay with it up to the bound, the
    oldest ``since`` first)."""
    names = sorted(set(daemons))
    ordered = sorted(set(sites), key=lambda site: (_weight(site), site))
    if not names or not ordered:
        return {}
    cap = math.ceil(len(ordered) / len(names))
    load = dict.fromkeys(names, 0)
    out: dict[str, str] = {}
    current, since = current or {}, since or {}
    for site in sorted(ordered, key=lambda site: since.get(site, 0)):  # stable: then weight
        holder = current.get(site)  # first the sites that stay where they are
        if holder in load and load[holder] < cap:
            load[holder] += 1
            out[site] = holder
    for site in ordered:
        if site in out:
            continue
        for daemon in sorted(names, key=lambda d: _weight(f"{site}\0{d}"), reverse=True):
            if load[daemon] < cap:
                load[daemon] += 1
                out[site] = daemon
                break
    return out


def digest(sites: Iterable[str]) -> str:
    """A short fingerprint of a site list: daemons spread sites only among those that
    serve the same list (during a configuration roll-out they converge)."""
    joined = "\n".join(sorted(set(sites)))
    return hashlib.blake2b(joined.encode(), digest_size=6).hexdigest()

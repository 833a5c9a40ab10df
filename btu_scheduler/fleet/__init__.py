"""Many sites in one daemon process, and many daemons sharing the sites (issue 11).

- :mod:`.supervisor`: one :class:`~btu_scheduler.daemon.Daemon` per site, grouped by the
  Redis server they use; reload of the configuration (SIGHUP, ``reload-config``) and
  discovery of registered sites.
- :mod:`.keeper`: per Redis server, one thread keeps every site's lease with one round
  trip per renewal period (liveness in the pool's members set; per-site leases carry no
  TTL), spreads the sites over the pool's daemons, refreshes heartbeats and checks for
  lost keys a few sites at a time.
- :mod:`.reader`: per Redis server, one blocking XREAD over every site's streams.
- :mod:`.assign`: which daemon should lead which site (bounded-load rendezvous hashing).

docs/scaling.md explains the costs and the limits.
"""

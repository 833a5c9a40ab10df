"""Active/standby: the leader lease with a fencing epoch (``btu:{site}:leader``).

The lease value is ``{"instance": ..., "epoch": <Redis server time in ms when taken>}``.
Every write that matters (claiming a fire) runs in a Lua script that first checks the
lease still holds this exact value, so an instance that lost the lease (paused, cut off,
or simply slow) cannot fire: the fencing token is the value itself, and the epoch makes
each tenure's value unique.

Costs, since Redis counts every command a script runs: a renewal is one ``GETEX``
(it extends the key and returns its value, so the holder learns in the same command
whether the lease is still its own; if it is not, it has extended the new holder's lease
by at most one period, which only delays a later takeover by that much). The heartbeat
hash is refreshed with ``HSET`` + ``PEXPIRE`` every few renewals, and by the acquisition
script, which standbys run when the lease may have lapsed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from redis import Redis

from streams.keys import Heartbeat, Keys, Leader
from streams.redisio import text

# KEYS: leader, heartbeat hash. ARGV: instance, lease_ms, heartbeat_ttl_ms, f1, v1, ...
# Field names come from streams.keys (the only place that spells them).
# A lease without a TTL was taken by a multi-site daemon (btu_scheduler.fleet): it holds
# while its instance is alive in its pool's members set, and is free once it is not.
_ACQUIRE = (
    """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local role = 'standby'
local token = redis.call('GET', KEYS[1])
local pttl = 0
if token then
  pttl = redis.call('PTTL', KEYS[1])
  if pttl == -1 then
    local ok, v = pcall(cjson.decode, token)
    local alive = false
    if ok and type(v) == 'table' and type(v['@POOL@']) == 'string'
        and type(v['@INSTANCE@']) == 'string' then
      local until_ms = redis.call('ZSCORE', 'btu:@pool:' .. v['@POOL@'] .. ':members',
                                  v['@INSTANCE@'])
      if until_ms and tonumber(until_ms) >= now then
        alive = true
        pttl = tonumber(until_ms) - now
      end
    end
    if not alive then token = false end
  end
end
if not token then
  local epoch = string.format('%d', now)
  token = '{"@INSTANCE@":' .. cjson.encode(ARGV[1]) .. ',"@EPOCH@":' .. epoch .. '}'
  redis.call('SET', KEYS[1], token, 'PX', ARGV[2])
  role = 'leader'
  pttl = tonumber(ARGV[2])
end
local hb = {'@ROLE@', role, '@HEARTBEAT@', string.format('%d', now)}
for i = 4, #ARGV do hb[#hb + 1] = ARGV[i] end
redis.call('HSET', KEYS[2], unpack(hb))
redis.call('PEXPIRE', KEYS[2], ARGV[3])
if role == 'leader' then return {1, token, pttl} end
return {0, token, pttl}
""".replace("@INSTANCE@", Leader.INSTANCE)
    .replace("@EPOCH@", Leader.EPOCH)
    .replace("@POOL@", Leader.POOL)
    .replace("@ROLE@", Heartbeat.ROLE)
    .replace("@HEARTBEAT@", Heartbeat.HEARTBEAT)
)

# KEYS: leader. ARGV: token
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


@dataclass(frozen=True, slots=True)
class LeaseState:
    leader: bool
    token: str  # the lease value now in Redis (ours when leader)
    pttl_ms: int  # remaining lease time (for standbys: when to try again)


class Lease:
    """Acquire, renew and release the leader lease of one site."""

    def __init__(self, r: Redis, keys: Keys, instance: str, lease_ms: int) -> None:
        self._r = r
        self._keys = keys
        self.instance = instance
        self.lease_ms = lease_ms
        self.heartbeat_ttl_ms = lease_ms * 3
        self.token: str | None = None
        self._acquire = r.register_script(_ACQUIRE)
        self._release = r.register_script(_RELEASE)

    def tick(self, heartbeat: dict[str, str] | None) -> LeaseState:
        """Renew the lease when held, else try to take it. The heartbeat hash is
        refreshed with ``heartbeat`` when given, and always when trying to take the lease
        (pass the fields then)."""
        if self.token is not None:
            held = self._renew_lease()
            if heartbeat is not None:
                self._write_heartbeat(heartbeat, "leader" if held else "standby")
            if held:
                return LeaseState(True, self.token, self.lease_ms)
            self.token = None
        flat = [x for pair in (heartbeat or {}).items() for x in pair]
        keys = [self._keys.leader, self._keys.scheduler(self.instance)]
        got, token, pttl = self._acquire(
            keys, [self.instance, self.lease_ms, self.heartbeat_ttl_ms, *flat]
        )
        token_text = text(token)
        if got:
            self.token = token_text
        return LeaseState(bool(got), token_text, int(pttl))

    def _renew_lease(self) -> bool:
        value = self._r.getex(self._keys.leader, px=self.lease_ms)
        if value is None:
            return False
        return text(value) == self.token

    def _write_heartbeat(self, heartbeat: dict[str, str], role: str) -> None:
        key = self._keys.scheduler(self.instance)
        fields = {**heartbeat, Heartbeat.ROLE: role, Heartbeat.HEARTBEAT: str(_now_ms())}
        pipe = self._r.pipeline(transaction=False)
        pipe.hset(key, mapping=fields)  # type: ignore[arg-type]
        pipe.pexpire(key, self.heartbeat_ttl_ms)
        pipe.execute()

    def release(self) -> bool:
        """Give the lease up (graceful shutdown) so a standby takes over at once."""
        if self.token is None:
            return False
        token, self.token = self.token, None
        return bool(self._release([self._keys.leader], [token]))


def _now_ms() -> int:
    return int(time.time() * 1000)

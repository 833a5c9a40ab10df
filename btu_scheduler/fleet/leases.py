"""The Lua scripts of a pool's lease keeper (:mod:`btu_scheduler.fleet.keeper`) and
what a lease value names. How the leases work: the keeper's docstring and
docs/protocol.md "Pools of multi-site daemons"."""

from __future__ import annotations

from typing import Any

import orjson

from streams.keys import Leader

MGET_CHUNK = 1_000  # leader keys per MGET (Lua's unpack has a limit)

# KEYS: members, digests. ARGV: instance, lease_ms, digest ('' = unchanged), prune ('1'),
# then the leader keys to read (as ARGV: they are only read).
# Returns {now, {member, until, ...}, {instance, digest, ...}, value or false, ...}.
BEAT_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
if ARGV[3] ~= '' then redis.call('HSET', KEYS[2], ARGV[1], ARGV[3]) end
local alive = redis.call('ZRANGEBYSCORE', KEYS[1], now, '+inf', 'WITHSCORES')
local digests = redis.call('HGETALL', KEYS[2])
if ARGV[4] == '1' then
  local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. now)
  if #dead > 0 then
    redis.call('ZREM', KEYS[1], unpack(dead))
    redis.call('HDEL', KEYS[2], unpack(dead))
  end
end
local out = {now, alive, digests}
local i = 5
while i <= #ARGV do
  local last = math.min(i + @CHUNK@ - 1, #ARGV)
  local values = redis.call('MGET', unpack(ARGV, i, last))
  for j = 1, last - i + 1 do out[#out + 1] = values[j] end
  i = last + 1
end
return out
""".replace("@CHUNK@", str(MGET_CHUNK))

# KEYS: members, then the leader keys to take. ARGV: instance, pool.
# Returns, per leader key, the new token or false (not free after all).
TAKE_SCRIPT = (
    """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local out = {}
for i = 2, #KEYS do
  local cur = redis.call('GET', KEYS[i])
  local free = not cur
  if cur and redis.call('PTTL', KEYS[i]) == -1 then
    local ok, v = pcall(cjson.decode, cur)
    if not ok or type(v) ~= 'table' or type(v['@INSTANCE@']) ~= 'string' then
      free = true
    elseif v['@INSTANCE@'] == ARGV[1] then
      free = true
    else
      local members = KEYS[1]
      if type(v['@POOL@']) == 'string' and v['@POOL@'] ~= ARGV[2] then
        members = 'btu:@pool:' .. v['@POOL@'] .. ':members'
      end
      local until_ms = redis.call('ZSCORE', members, v['@INSTANCE@'])
      free = (not until_ms) or tonumber(until_ms) < now
    end
  end
  if free then
    local token = '{"@INSTANCE@":' .. cjson.encode(ARGV[1]) .. ',"@EPOCH@":'
      .. string.format('%d', now) .. ',"@POOL@":' .. cjson.encode(ARGV[2]) .. '}'
    redis.call('SET', KEYS[i], token)
    out[#out + 1] = token
  else
    out[#out + 1] = false
  end
end
return out
""".replace("@INSTANCE@", Leader.INSTANCE)
    .replace("@EPOCH@", Leader.EPOCH)
    .replace("@POOL@", Leader.POOL)
)


def lease_data(value: str | None) -> dict[str, Any] | None:
    """A lease value decoded (``{"instance", "epoch"[, "pool"]}``); None when it is missing
    or is not a JSON object."""
    if not value:
        return None
    try:
        data = orjson.loads(value)
    except orjson.JSONDecodeError:
        return None
    return data if isinstance(data, dict) else None


def _str(data: dict[str, Any], field: str) -> str | None:
    value = data.get(field)
    return value if isinstance(value, str) else None


def holder_of(value: str | None) -> tuple[str, str | None]:
    """``(instance, pool)`` named by a lease value; pool None for a standalone lease,
    ``""`` for a value that names none."""
    if not value:
        return "", None
    data = lease_data(value)
    if data is None:
        return "", ""
    return _str(data, Leader.INSTANCE) or "", _str(data, Leader.POOL)


def tenure_of(value: str) -> tuple[str, int]:
    """``(instance, epoch)`` of a lease value (``("", 0)`` when it names none)."""
    data = lease_data(value)
    if data is None:
        return "", 0
    epoch = data.get(Leader.EPOCH)
    return _str(data, Leader.INSTANCE) or "", epoch if isinstance(epoch, int) else 0

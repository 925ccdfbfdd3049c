"""The Lua scripts behind ``numbers_async.redis.RedisRateLimiter``: one round trip each.

Every slot and pause is kept in microseconds of the Redis server's clock, so the
replicas' own clocks need not agree.
"""

from __future__ import annotations

from typing import Final

__all__ = ["ACQUIRE", "PAUSE"]

# KEYS[1]: the project's schedule (hash: tat = next free slot, paused = end of the shared
# pause; microseconds of the Redis clock). KEYS[2]: sorted set of live replicas.
# ARGV: interval (us per request), tolerance (us of burst), replica id ("" = no heartbeat),
# the replica window (us), the furthest ahead a slot or pause may lie (us): a schedule
# beyond it was not written by a limiter (no pause is that long) and is reset.
# Returns {microseconds to wait for the slot taken, microseconds of pause left, live replicas
# (0 when not counted), 1 if the schedule was reset}.
ACQUIRE: Final = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local state = redis.call('HMGET', KEYS[1], 'tat', 'paused')
local tat = math.max(tonumber(state[1]) or 0, now)
local paused = tonumber(state[2]) or 0
local reset = 0
if tat > now + tonumber(ARGV[5]) or paused > now + tonumber(ARGV[5]) then
  tat = now
  paused = 0
  reset = 1
  redis.call('HDEL', KEYS[1], 'paused')
end
local slot = math.max(tat - tolerance, now, paused)
redis.call('HSET', KEYS[1], 'tat', math.max(tat, slot) + interval)
redis.call('PEXPIRE', KEYS[1], math.floor((math.max(tat, paused) - now) / 1000) + 60000)
local replicas = 0
if ARGV[3] ~= '' then
  redis.call('ZADD', KEYS[2], now, ARGV[3])
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - tonumber(ARGV[4]))
  redis.call('PEXPIRE', KEYS[2], 60000)
  replicas = redis.call('ZCARD', KEYS[2])
end
return {slot - now, math.max(paused - now, 0), replicas, reset}
"""

# KEYS[1]: the schedule. ARGV: pause (us), tolerance (us), the furthest ahead a pause may
# lie (us). Extends the shared pause and moves the schedule past it so that nobody bursts
# when it ends. Returns the pause left.
PAUSE: Final = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local state = redis.call('HMGET', KEYS[1], 'tat', 'paused')
local before = tonumber(state[2]) or 0
if before > now + tonumber(ARGV[3]) then before = 0 end
local paused = math.max(before, now + tonumber(ARGV[1]))
local tat = math.max(tonumber(state[1]) or 0, paused + tonumber(ARGV[2]))
redis.call('HSET', KEYS[1], 'tat', tat, 'paused', paused)
redis.call('PEXPIRE', KEYS[1], math.floor((tat - now) / 1000) + 60000)
return paused - now
"""

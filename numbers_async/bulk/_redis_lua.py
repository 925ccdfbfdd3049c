"""The Lua functions every script of the Redis journal starts with (``_redis_scripts``).

``PRELUDE`` names the job's keys (``KEYS``, in the order of ``KEY_NAMES``) and defines what
the scripts share: reading and writing an item's record, its status counts, when its
requests must have ended, putting a position back (to hand out later, or to settle under
the ``rent_any`` barrier), taking a dead worker's items over, replaying a call whose reply
was lost, and whether the round is finished. ``HAND`` hands one position out to a worker.
What the keys and a record's fields hold is in docs/architecture.md (the Redis journal).
"""

from __future__ import annotations

from typing import Final

__all__ = ["HAND", "PRELUDE"]

# How often an item with an unknown outcome is handed out for a check in one round;
# after that it stays unknown until the next round (a rerun).
PRELUDE: Final = """
local META, ITEMS, STATE, WORKERS = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local CLAIMED, LATER, UNSETTLED, OPEN = KEYS[5], KEYS[6], KEYS[7], KEYS[8]
local FAILED, PHONES = KEYS[9], KEYS[10]
local MAX_TRIES = 3

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function same_job(id)
  return redis.call('HGET', META, 'id') == id
end

local function record(key)
  local raw = redis.call('HGET', STATE, key)
  if raw then return cjson.decode(raw) end
  return {}
end

local function save(key, rec)
  redis.call('HSET', STATE, key, cjson.encode(rec))
end

local function set_status(key, rec, status)
  if rec.s == status then return end
  if rec.s then redis.call('HINCRBY', META, 'n_' .. rec.s, -1) end
  if status then redis.call('HINCRBY', META, 'n_' .. status, 1) end
  rec.s = status
  if status == 'failed' or status == 'unknown' then
    redis.call('SADD', FAILED, key)
  else
    redis.call('SREM', FAILED, key)
  end
end

local function needs_check(rec)
  return rec.s == 'unknown' or (rec.s == 'failed' and (rec.hu or rec.o)) and true or false
end

-- When an item's earlier requests must have ended (ms), or 0: its intent's time plus
-- its window, or, once the call ended without an answer, one attempt after that (`ed`).
local function ready_at(rec)
  if rec.at and (rec.o or needs_check(rec)) then
    return rec.ed or (rec.at + math.floor((rec.w or 0) * 1000))
  end
  return 0
end

local function round_of()
  return tonumber(redis.call('HGET', META, 'round') or '1')
end

-- Whether an item with an unknown outcome was handed out for checks too often this round.
local function tried_out(rec, round)
  return rec.tr == round and (rec.t or 0) >= MAX_TRIES
end

-- Put a position back: to settle under the barrier (rent_any, maybe acted), to hand out
-- again once its requests must have ended, or nowhere (checked too often this round).
-- Whether it was put back.
local function requeue(seq, now, op)
  local key = redis.call('HGET', ITEMS, seq)
  if not key then return false end
  local rec = record(key)
  if rec.s == 'succeeded' then return false end
  local ready = math.max(now, ready_at(rec))
  if op == 'rent_any' and needs_check(rec) then
    redis.call('ZADD', UNSETTLED, ready, seq)
  elseif needs_check(rec) and tried_out(rec, round_of()) then
    return false
  else
    redis.call('ZADD', LATER, ready, seq)
  end
  return true
end

-- Workers whose lease ran out: their claims go back, each once its requests must have ended.
local function reap(now, op)
  local dead = redis.call('ZRANGEBYSCORE', WORKERS, '-inf', now)
  if #dead == 0 then return end
  local gone = {}
  for _, worker in ipairs(dead) do
    gone[worker] = true
    redis.call('ZREM', WORKERS, worker)
    redis.call('HDEL', META, 'claim:' .. worker, 'record:' .. worker)
  end
  local claimed = redis.call('HGETALL', CLAIMED)
  for i = 1, #claimed, 2 do
    if gone[claimed[i + 1]] then
      redis.call('HDEL', CLAIMED, claimed[i])
      requeue(claimed[i], now, op)
    end
  end
  local reconciling = redis.call('HGET', META, 'reconciling')
  if reconciling and gone[reconciling] then redis.call('HDEL', META, 'reconciling') end
end

-- The stored reply of the worker's last call of this kind, if `call` is that call (its
-- reply was lost and the call sent again); else nil.
local function replayed(kind, worker, call)
  local stored = redis.call('HGET', META, kind .. ':' .. worker)
  if not stored then return nil end
  local space = string.find(stored, ' ', 1, true)
  if not space or string.sub(stored, 1, space - 1) ~= call then return nil end
  local values = {}
  for value in string.gmatch(string.sub(stored, space + 1), '[^,]+') do
    table.insert(values, value)
  end
  return values
end

local function round_finished()
  if redis.call('HGET', META, 'sealed') ~= '1' then return false end
  local cursor = tonumber(redis.call('HGET', META, 'cursor') or '0')
  local total = tonumber(redis.call('HGET', META, 'total') or '0')
  return cursor >= total and redis.call('ZCARD', LATER) == 0
    and redis.call('ZCARD', UNSETTLED) == 0 and redis.call('HLEN', CLAIMED) == 0
    and not redis.call('HGET', META, 'reconciling')
end
"""

# Hand one position out (or queue it, or skip it); appends to `out` what the worker gets.
HAND: Final = """
local function hand(seq, worker, round, now, op, out)
  local key = redis.call('HGET', ITEMS, seq)
  if not key then return 0 end
  local raw = redis.call('HGET', STATE, key)
  local rec = {}
  if raw then rec = cjson.decode(raw) end
  if rec.s == 'succeeded' then
    table.insert(out, seq); table.insert(out, key); table.insert(out, raw)
    return 0
  end
  if needs_check(rec) then
    if op == 'rent_any' or ready_at(rec) > now then
      requeue(seq, now, op)
      return 0
    end
    if tried_out(rec, round) then return 0 end
    if rec.tr ~= round then rec.tr = round; rec.t = 0 end
    rec.t = (rec.t or 0) + 1
    raw = cjson.encode(rec)
    redis.call('HSET', STATE, key, raw)
  end
  redis.call('HSET', CLAIMED, seq, worker)
  table.insert(out, seq); table.insert(out, key); table.insert(out, raw or '')
  return 1
end
"""

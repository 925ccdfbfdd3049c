"""The Lua scripts of the Redis journal: every change to a job's state is one of these.

Each runs atomically in Redis, on the Redis clock (``TIME``: the workers' clocks need not
agree), against the job's keys (``KEYS``, in the order of ``KEY_NAMES``; one hash tag, so
a cluster keeps them on one node). What each key holds, and an item record's fields, are
in docs/architecture.md (the Redis journal). Replies are flat arrays whose first element
says what happened; a script that finds no job under the ``id`` it was given (Redis
restarted without persistence) answers ``gone``, and the job is never re-created
under a running worker.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "BASELINE",
    "BEGIN",
    "CLAIM",
    "KEY_NAMES",
    "LOAD",
    "QUIET",
    "RECORD",
    "RELEASE",
    "RENEW",
    "REPORT",
    "SEAL",
    "SETTLED",
    "SNAPSHOT",
]

KEY_NAMES: Final = (
    "meta",
    "items",
    "state",
    "workers",
    "claimed",
    "later",
    "unsettled",
    "open",
    "failed",
    "phones",
)

# How often an item with an unknown outcome is handed out for a check in one round;
# after that it stays unknown until the next round (a rerun).
_PRELUDE: Final = """
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
  end
  local claimed = redis.call('HGETALL', CLAIMED)
  for i = 1, #claimed, 2 do
    if gone[claimed[i + 1]] then
      redis.call('HDEL', CLAIMED, claimed[i])
      requeue(claimed[i], now, op)
    end
  end
  local settling = redis.call('HGET', META, 'settling')
  if settling and gone[settling] then redis.call('HDEL', META, 'settling') end
end

local function round_finished()
  if redis.call('HGET', META, 'sealed') ~= '1' then return false end
  local cursor = tonumber(redis.call('HGET', META, 'cursor') or '0')
  local total = tonumber(redis.call('HGET', META, 'total') or '0')
  return cursor >= total and redis.call('ZCARD', LATER) == 0
    and redis.call('ZCARD', UNSETTLED) == 0 and redis.call('HLEN', CLAIMED) == 0
    and not redis.call('HGET', META, 'settling')
end
"""

# ARGV: worker, lease ms, header JSON, identity, version, a new job id, operation.
# Creates the job, or checks that it is the same job; registers the worker; starts the
# next round when the last one is finished.
# -> {status ('created'|'joined'|'new_round'|'mismatch'|'version'), id, header,
#     sealed, total, digest, baseline, round}
BEGIN: Final = (
    _PRELUDE
    + """
local worker, lease = ARGV[1], tonumber(ARGV[2])
local now = now_ms()
local status = 'joined'
if redis.call('EXISTS', META) == 0 then
  redis.call('HSET', META, 'id', ARGV[6], 'header', ARGV[3], 'identity', ARGV[4],
    'version', ARGV[5], 'round', 1, 'cursor', 0, 'created', now,
    'n_succeeded', 0, 'n_failed', 0, 'n_unknown', 0)
  status = 'created'
else
  if redis.call('HGET', META, 'version') ~= ARGV[5] then
    return {'version', '', redis.call('HGET', META, 'version') or '', '', '', '', '', ''}
  end
  if redis.call('HGET', META, 'identity') ~= ARGV[4] then
    return {'mismatch', '', redis.call('HGET', META, 'header') or '', '', '', '', '', ''}
  end
end
reap(now, ARGV[7])
if status == 'joined' and round_finished() then
  redis.call('HINCRBY', META, 'round', 1)
  redis.call('HSET', META, 'cursor', 0)
  status = 'new_round'
end
redis.call('ZADD', WORKERS, now + lease, worker)
local m = redis.call('HMGET', META, 'id', 'header', 'sealed', 'total', 'digest', 'baseline',
  'round')
return {status, m[1], m[2], m[3] or '0', m[4] or '', m[5] or '', m[6] or '', m[7]}
"""
)

# ARGV: id, first position, then the item keys (JSON) from there. Writes the positions
# not yet written; a position written with another key is a different input.
# -> {'ok'} | {'sealed'} | {'mismatch', position, stored key} | {'gone'}
LOAD: Final = (
    _PRELUDE
    + """
if not same_job(ARGV[1]) then return {'gone'} end
if redis.call('HGET', META, 'sealed') == '1' then return {'sealed'} end
local first = tonumber(ARGV[2])
for i = 3, #ARGV do
  local seq = first + i - 3
  local stored = redis.call('HGET', ITEMS, seq)
  if stored and stored ~= ARGV[i] then return {'mismatch', seq, stored} end
  if not stored then redis.call('HSET', ITEMS, seq, ARGV[i]) end
end
return {'ok'}
"""
)

# ARGV: id, total, digest. The first worker to finish reading the input seals it.
# -> {'ok'} | {'mismatch', total, digest} | {'gone'}
SEAL: Final = (
    _PRELUDE
    + """
if not same_job(ARGV[1]) then return {'gone'} end
if redis.call('HGET', META, 'sealed') == '1' then
  local m = redis.call('HMGET', META, 'total', 'digest')
  if m[1] == ARGV[2] and m[2] == ARGV[3] then return {'ok'} end
  return {'mismatch', m[1], m[2]}
end
redis.call('HSET', META, 'sealed', 1, 'total', ARGV[2], 'digest', ARGV[3])
return {'ok'}
"""
)

# ARGV: id, the baseline (JSON). The first baseline recorded is the job's.
# -> {'ok', baseline} | {'gone'}
BASELINE: Final = (
    _PRELUDE
    + """
if not same_job(ARGV[1]) then return {'gone'} end
redis.call('HSETNX', META, 'baseline', ARGV[2])
return {'ok', redis.call('HGET', META, 'baseline')}
"""
)

# Hand one position out (or queue it, or skip it); appends to `out` what the worker gets.
_HAND: Final = """
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

# ARGV: id, worker, lease ms, batch, most resumed items, operation, the worker's round.
# Renews the worker's lease, takes over dead workers' items, and hands out up to `batch`
# items to work (positions ready again first, then from the cursor) plus the succeeded
# items met on the way. For rent_any, once nothing else is left and every unknown outcome
# may be settled, the first worker to ask takes the settlement barrier.
# -> {'work', position, key, record, ...} | {'settle'} | {'wait', ms} | {'finished'}
#    | {'lost'} (the worker was taken for dead) | {'gone'}
CLAIM: Final = (
    _PRELUDE
    + _HAND
    + """
if not same_job(ARGV[1]) then return {'gone'} end
local worker, lease, batch = ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local most_resumed, op, round = tonumber(ARGV[5]), ARGV[6], tonumber(ARGV[7])
local now = now_ms()
if not redis.call('ZSCORE', WORKERS, worker) then return {'lost'} end
redis.call('ZADD', WORKERS, now + lease, worker)
reap(now, op)
if round_of() ~= round then return {'finished'} end
local settling = redis.call('HGET', META, 'settling')
if settling == worker then return {'settle'} end
if settling then return {'wait', 200} end
local out = {'work'}
local given = 0
local ready = redis.call('ZRANGEBYSCORE', LATER, '-inf', now, 'LIMIT', 0, batch)
for _, seq in ipairs(ready) do
  redis.call('ZREM', LATER, seq)
  given = given + hand(seq, worker, round, now, op, out)
end
local cursor = tonumber(redis.call('HGET', META, 'cursor') or '0')
local total = tonumber(redis.call('HGET', META, 'total') or '0')
while given < batch and (#out - 1) / 3 - given < most_resumed and cursor < total do
  given = given + hand(cursor, worker, round, now, op, out)
  cursor = cursor + 1
end
redis.call('HSET', META, 'cursor', cursor)
if #out > 1 then return out end
if op == 'rent_any' and cursor >= total and redis.call('ZCARD', UNSETTLED) > 0 then
  local last = redis.call('ZRANGE', UNSETTLED, -1, -1, 'WITHSCORES')
  local wait = tonumber(last[2]) - now
  if wait <= 0 and redis.call('ZCARD', LATER) == 0 then
    redis.call('HSET', META, 'settling', worker)
    return {'settle'}
  end
end
if round_finished() then return {'finished'} end
local soonest = now + 1000
for _, set in ipairs({LATER, UNSETTLED, WORKERS}) do
  local first = redis.call('ZRANGE', set, 0, 0, 'WITHSCORES')
  if first[2] then soonest = math.min(soonest, tonumber(first[2])) end
end
return {'wait', math.max(soonest - now, 10)}
"""
)

# ARGV: id, worker, lease ms, operation, then records (JSON), each
#   {"ev": "intent"|"succeeded"|"failed"|"unknown", "seq": n, "key": "<JSON>", ...}.
# -> {'ok'|'lost', result per record} | {'gone'}; a result is 'ok', 'paused' (an intent
# while another worker settles), or, for what this worker must not send or report,
# 'taken' (another worker holds the item), 'dup' (another item has the number) or 'again'
# (an unknown outcome put back to be checked; whoever gets it next reports it).
RECORD: Final = (
    _PRELUDE
    + """
if not same_job(ARGV[1]) then return {'gone'} end
local worker, lease, op = ARGV[2], tonumber(ARGV[3]), ARGV[4]
local now = now_ms()
local lost = not redis.call('ZSCORE', WORKERS, worker)
if not lost then redis.call('ZADD', WORKERS, now + lease, worker) end
local round = round_of()
local out = {lost and 'lost' or 'ok'}
for i = 5, #ARGV do
  local r = cjson.decode(ARGV[i])
  local seq, key = tostring(r.seq), r.key
  local rec = record(key)
  local holder = redis.call('HGET', CLAIMED, seq)
  local result = 'ok'
  if r.ev == 'intent' then
    local resumed_check = r.rs and not holder and rec.s == 'succeeded'
      and not redis.call('ZSCORE', LATER, seq) and not redis.call('ZSCORE', UNSETTLED, seq)
    local settling = redis.call('HGET', META, 'settling')
    if lost or not (holder == worker or resumed_check) then
      result = 'taken'
    elseif op == 'rent_any' and settling and settling ~= worker then
      result = 'paused'
    else
      redis.call('HSET', CLAIMED, seq, worker)
      if rec.o then rec.hu = 1 end
      rec.o = 1; rec.at = now; rec.w = r.w; rec.aw = r.aw; rec.by = worker; rec.seq = r.seq
      rec.ed = nil
      if rec.s ~= 'succeeded' then set_status(key, rec, 'unknown') end
      redis.call('SADD', OPEN, key)
      save(key, rec)
    end
  elseif r.ev == 'succeeded' then
    if rec.s ~= 'succeeded' and r.phone and redis.call('SISMEMBER', PHONES, r.phone) == 1 then
      result = 'dup'
    elseif rec.s ~= 'succeeded' then
      rec.o = nil; rec.n = r.n; rec.rc = r.rc; rec.seq = r.seq; rec.r = round
      set_status(key, rec, 'succeeded')
      if r.phone then redis.call('SADD', PHONES, r.phone) end
      redis.call('SREM', OPEN, key)
      save(key, rec)
    end
    if holder == worker then
      redis.call('HDEL', CLAIMED, seq)
    elseif result == 'ok' and not r.rc then
      result = 'taken'  -- recorded, but reported by the worker that holds it (or will)
    end
    if r.rc then
      -- Settled by a listing: handed out again, as succeeded, to be reported.
      redis.call('ZREM', UNSETTLED, seq)
      redis.call('ZADD', LATER, now, seq)
    end
  elseif lost or holder ~= worker then
    result = 'taken'
  else
    redis.call('HDEL', CLAIMED, seq)
    if rec.s ~= 'succeeded' then
      local was_open = rec.o
      rec.o = nil; rec.e = r.e; rec.m = r.m; rec.c = r.c; rec.r = round; rec.seq = r.seq
      redis.call('SREM', OPEN, key)
      if r.ev == 'unknown' then
        rec.hu = 1
        if was_open and rec.at then
          -- The call is over: only its last attempt may still run, for one attempt at most.
          local attempt = math.floor((rec.aw or rec.w or 0) * 1000)
          rec.ed = math.min(rec.at + math.floor((rec.w or 0) * 1000), now + attempt)
        end
        set_status(key, rec, 'unknown')
        save(key, rec)
        if requeue(seq, now, op) then result = 'again' end
      else
        set_status(key, rec, 'failed')
        save(key, rec)
      end
    end
  end
  table.insert(out, result)
end
return out
"""
)

# ARGV: id, worker, lease ms. -> {'ok'} | {'lost'} | {'gone'}
RENEW: Final = (
    _PRELUDE
    + """
if not same_job(ARGV[1]) then return {'gone'} end
local now = now_ms()
if not redis.call('ZSCORE', WORKERS, ARGV[2]) then
  redis.call('ZADD', WORKERS, now + tonumber(ARGV[3]), ARGV[2])
  return {'lost'}
end
redis.call('ZADD', WORKERS, now + tonumber(ARGV[3]), ARGV[2])
return {'ok'}
"""
)

# ARGV: id, worker. Under the barrier: whether every request of the job has ended, i.e.
# every open intent belongs to an item waiting for this settlement, and all of those may
# be settled. -> {'quiet'} | {'wait', ms} | {'lost'} | {'gone'}
QUIET: Final = (
    _PRELUDE
    + """
if not same_job(ARGV[1]) then return {'gone'} end
if redis.call('HGET', META, 'settling') ~= ARGV[2] then return {'lost'} end
local now = now_ms()
local last = redis.call('ZRANGE', UNSETTLED, -1, -1, 'WITHSCORES')
if last[2] and tonumber(last[2]) > now then return {'wait', tonumber(last[2]) - now} end
for _, key in ipairs(redis.call('SMEMBERS', OPEN)) do
  local rec = record(key)
  if not redis.call('ZSCORE', UNSETTLED, tostring(rec.seq)) then return {'wait', 50} end
end
return {'quiet'}
"""
)

# ARGV: id. Under the barrier: what a settlement reads.
# -> {'ok', baseline, phones (JSON), then position, key, record for each unsettled item}
SNAPSHOT: Final = (
    _PRELUDE
    + """
if not same_job(ARGV[1]) then return {'gone'} end
local phones = redis.call('SMEMBERS', PHONES)
local out = {'ok', redis.call('HGET', META, 'baseline') or '',
  #phones > 0 and cjson.encode(phones) or '[]'}
for _, seq in ipairs(redis.call('ZRANGE', UNSETTLED, 0, -1)) do
  local key = redis.call('HGET', ITEMS, seq)
  table.insert(out, seq); table.insert(out, key)
  table.insert(out, redis.call('HGET', STATE, key) or '')
end
return out
"""
)

# ARGV: id, worker, unaccounted numbers (JSON list), then the positions the settlement
# proved never rented (handed out again, as new). Ends the barrier.
# -> {'ok'} | {'lost'} | {'gone'}
SETTLED: Final = (
    _PRELUDE
    + """
if not same_job(ARGV[1]) then return {'gone'} end
if redis.call('HGET', META, 'settling') ~= ARGV[2] then return {'lost'} end
local now = now_ms()
for i = 4, #ARGV do
  local key = redis.call('HGET', ITEMS, ARGV[i])
  if key then
    local rec = record(key)
    if rec.s ~= 'succeeded' then
      set_status(key, rec, nil)
      rec.hu = nil; rec.o = nil
      redis.call('SREM', OPEN, key)
      save(key, rec)
      redis.call('ZREM', UNSETTLED, ARGV[i])
      redis.call('ZADD', LATER, now, ARGV[i])
    end
  end
end
local found = cjson.decode(ARGV[3])
if #found > 0 then
  local known = cjson.decode(redis.call('HGET', META, 'unaccounted') or '[]')
  local seen = {}
  for _, phone in ipairs(known) do seen[phone] = true end
  for _, phone in ipairs(found) do
    if not seen[phone] then table.insert(known, phone); seen[phone] = true end
  end
  redis.call('HSET', META, 'unaccounted', cjson.encode(known))
end
redis.call('HDEL', META, 'settling')
return {'ok'}
"""
)

# ARGV: id, worker, operation. The worker leaves: its items go back (each once its
# requests must have ended). -> {'ok'} | {'gone'}
RELEASE: Final = (
    _PRELUDE
    + """
if not same_job(ARGV[1]) then return {'gone'} end
local now = now_ms()
local claimed = redis.call('HGETALL', CLAIMED)
for i = 1, #claimed, 2 do
  if claimed[i + 1] == ARGV[2] then
    redis.call('HDEL', CLAIMED, claimed[i])
    requeue(claimed[i], now, ARGV[3])
  end
end
redis.call('ZREM', WORKERS, ARGV[2])
if redis.call('HGET', META, 'settling') == ARGV[2] then redis.call('HDEL', META, 'settling') end
return {'ok'}
"""
)

# ARGV: none. The job as one report.
# -> {'ok', header, total, n_succeeded, in flight, finished (0|1), live workers,
#     unaccounted (JSON), then key, record for each failed item} | {'none'}
REPORT: Final = (
    _PRELUDE
    + """
if redis.call('EXISTS', META) == 0 then return {'none'} end
local now = now_ms()
local m = redis.call('HMGET', META, 'header', 'total', 'n_succeeded', 'unaccounted')
local finished = round_finished() and 1 or 0
local out = {'ok', m[1] or '', m[2] or '', m[3] or '0', 0, finished,
  redis.call('ZCOUNT', WORKERS, now, '+inf'), m[4] or '[]'}
local open = 0
for _, key in ipairs(redis.call('SMEMBERS', OPEN)) do
  if record(key).s ~= 'succeeded' then open = open + 1 end
end
out[5] = open
for _, key in ipairs(redis.call('SMEMBERS', FAILED)) do
  if redis.call('SISMEMBER', OPEN, key) == 0 then
    table.insert(out, key); table.insert(out, redis.call('HGET', STATE, key) or '')
  end
end
return out
"""
)

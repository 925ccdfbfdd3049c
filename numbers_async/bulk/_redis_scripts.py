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

from numbers_async.bulk._redis_lua import HAND, PRELUDE

__all__ = [
    "BASELINE",
    "BEGIN",
    "CLAIM",
    "KEY_NAMES",
    "LOAD",
    "QUIET",
    "RECONCILED",
    "RECORD",
    "RELEASE",
    "RENEW",
    "REPORT",
    "SEAL",
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


# ARGV: worker, lease ms, header JSON, identity, version, a new job id, operation.
# Creates the job, or checks that it is the same job; registers the worker; starts the
# next round when the last one is finished.
# -> {status ('created'|'joined'|'new_round'|'mismatch'|'version'), id, header,
#     sealed, total, digest, baseline, round}
BEGIN: Final = (
    PRELUDE
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
    PRELUDE
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
    PRELUDE
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
    PRELUDE
    + """
if not same_job(ARGV[1]) then return {'gone'} end
redis.call('HSETNX', META, 'baseline', ARGV[2])
return {'ok', redis.call('HGET', META, 'baseline')}
"""
)


# ARGV: id, worker, lease ms, batch, most resumed items, operation, the worker's round,
# the call's id (the same when a call whose reply was lost is sent again: it gets the
# items it was given then, rather than more, which would stay claimed by nobody working).
# Renews the worker's lease, takes over dead workers' items, and hands out up to `batch`
# items to work (positions ready again first, then from the cursor) plus the succeeded
# items met on the way. For rent_any, once nothing else is left and every unknown outcome
# may be settled, the first worker to ask takes the settlement barrier.
# -> {'work', position, key, record, ...} | {'reconcile'} | {'wait', ms} | {'finished'}
#    | {'lost'} (the worker was taken for dead) | {'gone'}
CLAIM: Final = (
    PRELUDE
    + HAND
    + """
if not same_job(ARGV[1]) then return {'gone'} end
local worker, lease, batch = ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local most_resumed, op, round = tonumber(ARGV[5]), ARGV[6], tonumber(ARGV[7])
local now = now_ms()
if not redis.call('ZSCORE', WORKERS, worker) then return {'lost'} end
redis.call('ZADD', WORKERS, now + lease, worker)
reap(now, op)
local again = replayed('claim', worker, ARGV[8])
if again then
  local out = {'work'}
  for _, seq in ipairs(again) do
    local key = redis.call('HGET', ITEMS, seq)
    local raw = key and redis.call('HGET', STATE, key) or ''
    local done = string.find(raw, '"s":"succeeded"', 1, true)
    if key and (done or redis.call('HGET', CLAIMED, seq) == worker) then
      table.insert(out, seq); table.insert(out, key); table.insert(out, raw)
    end
  end
  return out
end
if round_of() ~= round then return {'finished'} end
local reconciling = redis.call('HGET', META, 'reconciling')
if reconciling == worker then return {'reconcile'} end
if reconciling then return {'wait', 200} end
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
if #out > 1 then
  local given_out = {}
  for i = 2, #out, 3 do table.insert(given_out, out[i]) end
  redis.call('HSET', META, 'claim:' .. worker, ARGV[8] .. ' ' .. table.concat(given_out, ','))
  return out
end
if op == 'rent_any' and cursor >= total and redis.call('ZCARD', UNSETTLED) > 0 then
  local last = redis.call('ZRANGE', UNSETTLED, -1, -1, 'WITHSCORES')
  local wait = tonumber(last[2]) - now
  if wait <= 0 and redis.call('ZCARD', LATER) == 0 then
    redis.call('HSET', META, 'reconciling', worker)
    return {'reconcile'}
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

# ARGV: id, worker, lease ms, operation, the call's id (a call sent again after its reply
# was lost gets that reply, not a second execution), then records (JSON), each
#   {"ev": "intent"|"succeeded"|"failed"|"unknown", "seq": n, "key": "<JSON>", ...}
# (an intent with "re": the same intent again, its window from now: nothing was sent).
# Renews the worker's lease and takes dead workers' items over, as a claim does.
# -> {'ok'|'lost', result per record} | {'gone'}; a result is 'ok', 'paused' (an intent
# while another worker settles), or, for what this worker must not send or report,
# 'taken' (another worker holds the item), 'dup' (another item has the number) or 'again'
# (an unknown outcome put back to be checked; whoever gets it next reports it).
RECORD: Final = (
    PRELUDE
    + """
if not same_job(ARGV[1]) then return {'gone'} end
local worker, lease, op = ARGV[2], tonumber(ARGV[3]), ARGV[4]
local again = replayed('record', worker, ARGV[5])
if again then return again end
local now = now_ms()
local lost = not redis.call('ZSCORE', WORKERS, worker)
if not lost then redis.call('ZADD', WORKERS, now + lease, worker) end
-- Dead workers' items (and barrier) go back here too: a worker whose every slot waits
-- on a paused intent claims nothing, and would otherwise wait for a dead one forever.
reap(now, op)
local round = round_of()
local out = {lost and 'lost' or 'ok'}
for i = 6, #ARGV do
  local r = cjson.decode(ARGV[i])
  local seq, key = tostring(r.seq), r.key
  local rec = record(key)
  local holder = redis.call('HGET', CLAIMED, seq)
  local result = 'ok'
  if r.ev == 'intent' then
    local resumed_check = r.rs and not holder and rec.s == 'succeeded'
      and not redis.call('ZSCORE', LATER, seq) and not redis.call('ZSCORE', UNSETTLED, seq)
    local reconciling = redis.call('HGET', META, 'reconciling')
    if lost or not (holder == worker or resumed_check) then
      result = 'taken'
    elseif op == 'rent_any' and reconciling and reconciling ~= worker then
      result = 'paused'
    else
      redis.call('HSET', CLAIMED, seq, worker)
      -- An open intent means an attempt that may have acted, unless this is the same
      -- intent recorded again before anything was sent (re: its reply came late).
      if rec.o and not r.re then rec.hu = 1 end
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
    elseif result ~= 'dup' and redis.call('ZREM', UNSETTLED, seq) == 1 and result ~= 'ok' then
      -- Its worker was taken for dead while the call ran, and the call succeeded: not an
      -- outcome to settle any more (a listing would not find it new, and the settlement
      -- could never end); handed out, as succeeded, to be reported.
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
if not lost then
  redis.call('HSET', META, 'record:' .. worker, ARGV[5] .. ' ' .. table.concat(out, ','))
end
return out
"""
)

# ARGV: id, worker, lease ms. -> {'ok'} | {'lost'} | {'gone'}
RENEW: Final = (
    PRELUDE
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

# ARGV: id, worker, operation. Under the barrier: whether every request of the job has
# ended, i.e. every open intent belongs to an item waiting for this settlement, and all of
# those may be settled. Takes dead workers' items over first, as a claim does: the holder
# of the barrier claims nothing while it waits, and a dead worker's open intent would
# otherwise be waited for forever. -> {'quiet'} | {'wait', ms} | {'lost'} | {'gone'}
QUIET: Final = (
    PRELUDE
    + """
if not same_job(ARGV[1]) then return {'gone'} end
local now = now_ms()
reap(now, ARGV[3])
if redis.call('HGET', META, 'reconciling') ~= ARGV[2] then return {'lost'} end
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
    PRELUDE
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
RECONCILED: Final = (
    PRELUDE
    + """
if not same_job(ARGV[1]) then return {'gone'} end
if redis.call('HGET', META, 'reconciling') ~= ARGV[2] then return {'lost'} end
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
redis.call('HDEL', META, 'reconciling')
return {'ok'}
"""
)

# ARGV: id, worker, operation. The worker leaves: its items go back (each once its
# requests must have ended). -> {'ok'} | {'gone'}
RELEASE: Final = (
    PRELUDE
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
redis.call('HDEL', META, 'claim:' .. ARGV[2], 'record:' .. ARGV[2])
if redis.call('HGET', META, 'reconciling') == ARGV[2] then
  redis.call('HDEL', META, 'reconciling')
end
return {'ok'}
"""
)

# ARGV: none. The job as one report.
# -> {'ok', header, total, n_succeeded, in flight, finished (0|1), live workers,
#     unaccounted (JSON), then key, record for each failed item} | {'none'}
REPORT: Final = (
    PRELUDE
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

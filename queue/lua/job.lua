-- needs: common fair deadline
-- Looking at and cancelling single jobs, and the class's counters.
-- KEYS: the class keys.

-- sluice_job: ARGV class, id, with_key ('0', the default, or '1').
-- Reply: {'unknown'} for a job that completed (unless kept) or never
-- existed, else {state, attempt, max_attempts, priority, cost, enqueued_at,
-- at, reclaims, reason, payload, ahead, now, unique, start_by, key} where
-- at is the due time (delayed), lease deadline (leased) or the time it ended
-- (dead, done), ahead the ready jobs before it (ready only), start_by its
-- entry's (deadline.lua; 0: none, or not waiting), which a call without the
-- deadlines key is not answered, and key its fairness key ('' for none),
-- answered only with with_key '1' (library version 10), start_by then 0
-- for a call without the deadlines key.
register('sluice_job', function(keys, args)
    local name = class_arg(keys, args)
    local id = id_arg(name, args[2])
    local with_key = args[3] or '0'
    if with_key ~= '0' and with_key ~= '1' then fail('BADARG', 'with_key must be 0 or 1') end
    local m = load_job(keys, id)
    if not m then return {'unknown'} end
    local now = now_ms()
    local ahead = -1
    if m[M.state] == 'ready' then ahead = redis.call('ZRANK', keys[K.ready], id) or -1 end
    local r = {m[M.state], m[M.attempt], m[M.max_attempts], m[M.priority], m[M.cost],
               m[M.enqueued_at], m[M.at], m[M.reclaims], m[M.reason],
               m[M.payload], ahead, now, m[M.unique]}
    if keys[K.deadlines] then
        local waiting = m[M.state] == 'ready' or m[M.state] == 'delayed'
        r[14] = waiting and tonumber(redis.call('ZSCORE', keys[K.deadlines], id)) or 0
    end
    if with_key == '1' then
        r[14] = r[14] or 0
        r[15] = m[M.key]
    end
    return r
end, READONLY)

-- sluice_cancel: ARGV class, id, actor. Removes a waiting (ready or
-- delayed) job; audited. Reply: 1. Errors: NOTFOUND, BUSY (leased), STATE
-- (dead or done).
register('sluice_cancel', function(keys, args)
    local name = class_arg(keys, args)
    local id = id_arg(name, args[2])
    local m = load_job(keys, id)
    if not m then fail('NOTFOUND', 'no such job') end
    local s = m[M.state]
    if s == 'leased' then fail('BUSY', 'job is leased by a worker') end
    if s ~= 'ready' and s ~= 'delayed' then fail('STATE', 'job is not waiting') end
    if s == 'ready' and not keys[K.parked] and not redis.call('ZSCORE', keys[K.ready], id) then
        Cap.parked_key(keys, 'cancelling a job')  -- it is parked (fair.lua)
    end
    audit(keys, args[3], 'job cancelled', id)
    if s == 'ready' then Cap.drop_ready(keys, id, m) else redis.call('ZREM', keys[K.delayed], id) end
    drop_deadline(keys, id)
    key_waits(keys, m[M.key], -1)
    release_unique(keys, id, m)
    forget(keys, id, m)
    count(keys, 'cancelled', 1)
    return 1
end)

local STAT_FIELDS = {'enqueued', 'claimed', 'acked', 'failed', 'retried', 'dead',
                     'reclaimed', 'released', 'cancelled', 'throttled', 'dead_dropped', 'purged'}
-- and the deadline counters (deadline.lua), answered to a call with the deadlines key
local STAT_FIELDS_V9 = {}
for i = 1, #STAT_FIELDS do STAT_FIELDS_V9[i] = STAT_FIELDS[i] end
STAT_FIELDS_V9[#STAT_FIELDS + 1], STAT_FIELDS_V9[#STAT_FIELDS + 2] = 'late', 'expired'

-- sluice_stats: ARGV class. Reply: {ready, delayed, leased, dead, then
-- name, value pairs of the counters in a fixed order: STAT_FIELDS, or
-- STAT_FIELDS_V9 for a call with the deadlines key}. ready counts the
-- parked jobs too (fair.lua), for a call with the parked key.
register('sluice_stats', function(keys, args)
    class_arg(keys, args)
    local parked = keys[K.parked] and redis.call('ZCARD', keys[K.parked]) or 0
    local r = {redis.call('ZCARD', keys[K.ready]) + parked, redis.call('ZCARD', keys[K.delayed]),
               redis.call('ZCARD', keys[K.leased]), redis.call('ZCARD', keys[K.dead])}
    local fields = keys[K.deadlines] and STAT_FIELDS_V9 or STAT_FIELDS
    local vals = redis.call('HMGET', keys[K.stats], unpack(fields))
    for i, f in ipairs(fields) do
        r[#r + 1] = f
        r[#r + 1] = tonumber(vals[i]) or 0
    end
    return r
end, READONLY)

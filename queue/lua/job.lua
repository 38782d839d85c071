-- needs: common fair
-- Looking at and cancelling single jobs, and the class's counters.
-- KEYS: the class keys.

-- sluice_job: ARGV class, id. Reply: {'unknown'} for a job that completed
-- (unless kept) or never existed, else {state, attempt, max_attempts,
-- priority, cost, enqueued_at, at, reclaims, reason, payload, ahead, now,
-- unique} where at is the due time (delayed), lease deadline (leased) or the
-- time it ended (dead, done), and ahead the ready jobs before it (ready only).
register('sluice_job', function(keys, args)
    local name = class_arg(keys, args)
    local id = id_arg(name, args[2])
    local m = load_job(keys, id)
    if not m then return {'unknown'} end
    local now = now_ms()
    local ahead = -1
    if m[M.state] == 'ready' then ahead = redis.call('ZRANK', keys[K.ready], id) or -1 end
    return {m[M.state], m[M.attempt], m[M.max_attempts], m[M.priority], m[M.cost],
            m[M.enqueued_at], m[M.at], m[M.reclaims], m[M.reason],
            m[M.payload], ahead, now, m[M.unique]}
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
    audit(keys, args[3], 'job cancelled', id)
    redis.call('ZREM', keys[K[s]], id)
    key_waits(keys, m[M.key], -1)
    release_unique(keys, id, m)
    forget(keys, id, m)
    count(keys, 'cancelled', 1)
    return 1
end)

local STAT_FIELDS = {'enqueued', 'claimed', 'acked', 'failed', 'retried', 'dead',
                     'reclaimed', 'released', 'cancelled', 'throttled', 'dead_dropped', 'purged'}

-- sluice_stats: ARGV class. Reply: {ready, delayed, leased, dead, then
-- name, value pairs of the counters in a fixed order}.
register('sluice_stats', function(keys, args)
    class_arg(keys, args)
    local r = {redis.call('ZCARD', keys[K.ready]), redis.call('ZCARD', keys[K.delayed]),
               redis.call('ZCARD', keys[K.leased]), redis.call('ZCARD', keys[K.dead])}
    local vals = redis.call('HMGET', keys[K.stats], unpack(STAT_FIELDS))
    for i, f in ipairs(STAT_FIELDS) do
        r[#r + 1] = f
        r[#r + 1] = tonumber(vals[i]) or 0
    end
    return r
end, READONLY)

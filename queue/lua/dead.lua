-- needs: common fair
-- The dead set: jobs that used up their attempts or poisoned their workers.
-- It is capped per class (dead_max; the oldest go first).
-- KEYS: the class keys.

-- sluice_dead_list: ARGV class, offset, count (1..1000). Newest first.
-- Reply: groups of id, died_at, attempt, reason, payload.
register('sluice_dead_list', function(keys, args)
    class_arg(keys, args)
    local off = int_arg(args[2], 'offset', 0, 1000000000)
    local cnt = int_arg(args[3], 'count', 1, BATCH_MAX)
    local ids = redis.call('ZREVRANGE', keys[K.dead], off, off + cnt - 1)
    local r = {}
    for _, id in ipairs(ids) do
        local m = load_job(keys, id)
        if m then
            r[#r + 1] = id
            r[#r + 1] = m[M.at]
            r[#r + 1] = m[M.attempt]
            r[#r + 1] = m[M.reason]
            r[#r + 1] = m[M.payload]
        end
    end
    return r
end, READONLY)

-- Up to BATCH_MAX ids: the one named, or the oldest when ARGV[2] is '*'.
local function dead_targets(keys, name, which)
    if which == '*' then return redis.call('ZRANGE', keys[K.dead], 0, BATCH_MAX - 1) end
    local id = id_arg(name, which)
    if not redis.call('ZSCORE', keys[K.dead], id) then fail('NOTFOUND', 'no such dead job') end
    return {id}
end

local DEAD_RETRY_FIELDS = {'key_weights'}

-- sluice_dead_retry: ARGV class, id or '*' (up to 1000 per call), actor.
-- Back to ready with attempts and reclaims reset, each behind the jobs of
-- its key that wait (fair.lua); audited. Reply: how many.
register('sluice_dead_retry', function(keys, args)
    local name = class_arg(keys, args)
    local cfg = load_class(keys, DEAD_RETRY_FIELDS)
    local ids = dead_targets(keys, name, args[2])
    if #ids == 0 then return 0 end
    audit(keys, args[3], 'dead retried', #ids == 1 and ids[1] or (#ids .. ' jobs'))
    local t = tags(keys, cfg.key_weights)
    for _, id in ipairs(ids) do
        redis.call('ZREM', keys[K.dead], id)
        local m = load_job(keys, id)
        if m then
            m[M.attempt] = 0
            m[M.reclaims] = 0
            m[M.reason] = ''
            m[M.seq] = t:next(m[M.key])
            t:count(m[M.key], 1)
            if m[M.unique] ~= '' then
                if redis.call('HSETNX', keys[K.unique], m[M.unique], id) == 0 then m[M.unique] = '' end
            end
            make_ready(keys, id, m)
        end
    end
    save_tags(t, {})
    if #ids > 0 then redis.call('PUBLISH', keys[K.ready], #ids) end
    return #ids
end)

-- sluice_dead_purge: ARGV class, id or '*' (up to 1000 per call), actor.
-- Deletes; audited and counted (purged). Reply: how many.
register('sluice_dead_purge', function(keys, args)
    local name = class_arg(keys, args)
    local ids = dead_targets(keys, name, args[2])
    if #ids == 0 then return 0 end
    audit(keys, args[3], 'dead purged', #ids == 1 and ids[1] or (#ids .. ' jobs'))
    for _, id in ipairs(ids) do
        redis.call('ZREM', keys[K.dead], id)
        forget(keys, id)
    end
    count(keys, 'purged', #ids)
    return #ids
end)

-- needs: common fair
-- Deadlines (include/sluice/deadline.h): a waiting job's start_by is its
-- entry in the class's deadlines set, member the job id, score start_by
-- (Unix ms, Redis clock); the record does not carry it. start_by binds the
-- first start only: the claim that leases a job removes its entry, so a
-- retry, a release or a reclaim has none. Every path that ends a waiting
-- job (cancel, class delete, the expiry sweep) removes its entry. An entry
-- whose job is not waiting (claimed by a caller of library version 8 or
-- older, which sends no deadlines key) is allowed: readers skip it, and
-- the sweep of a class whose on_expiry is dead removes it once past due.
-- A call without the deadlines key does no deadline work.

local EXPIRE_BATCH = 100
local VIEW_SCAN = DEADLINE_VIEW_MAX * 10  -- entries one view looks at, at most

-- The deadlines key, or a BADARG naming "what" for a call without it.
local function deadlines_key(keys, what)
    local k = keys[K.deadlines]
    if not k then fail('BADARG', what .. ' needs the deadlines key') end
    return k
end

-- Whether the class has entries: one ZCARD, and none for a call without
-- the key, so that classes without deadlines pay nothing more.
local function has_deadlines(keys)
    local k = keys[K.deadlines]
    return k ~= nil and redis.call('ZCARD', k) > 0
end

-- Removes job id's entry, for a path that ends a waiting job.
local function drop_deadline(keys, id)
    if keys[K.deadlines] then redis.call('ZREM', keys[K.deadlines], id) end
end

-- The expiry sweep of a claim of a class with entries (has_deadlines);
-- cfg has its on_expiry (nil: never set, run) and make_dead's fields.
-- With on_expiry dead: up to EXPIRE_BATCH entries past due go; each whose
-- job still waits (ready or delayed) dead-letters it with the reason
-- 'expired' through make_dead, counted as stats expired. With run, late
-- jobs wait for the claim that leases them (lease_deadlines).
local function expire_due(keys, cfg, now)
    if cfg.on_expiry ~= 'dead' then return end
    local ids = redis.call('ZRANGEBYSCORE', keys[K.deadlines], '-inf', '(' .. int_text(now), 'LIMIT', 0,
                           EXPIRE_BATCH)
    if #ids == 0 then return end
    redis.call('ZREM', keys[K.deadlines], unpack(ids))  -- first: a producer may not (see common.lua)
    local expired = 0
    for _, id in ipairs(ids) do
        local m = load_job(keys, id)
        local s = m and m[M.state]
        if s == 'ready' or s == 'delayed' then
            if s == 'ready' then Cap.drop_ready(keys, id, m) else redis.call('ZREM', keys[K.delayed], id) end
            key_waits(keys, m[M.key], -1)
            make_dead(keys, id, m, 'expired', now, cfg)
            expired = expired + 1
        end
    end
    count(keys, 'expired', expired)
end

-- For the claim that leases the jobs "ids" of a class with entries: their
-- entries go, and those past due at "now" count as late starts (stats late).
local function lease_deadlines(keys, ids, now)
    local scores = redis.call('ZMSCORE', keys[K.deadlines], unpack(ids))
    local late, held = 0, 0
    for i = 1, #ids do
        local s = tonumber(scores[i])
        if s then
            held = held + 1
            if s < now then late = late + 1 end
        end
    end
    if held > 0 then redis.call('ZREM', keys[K.deadlines], unpack(ids)) end
    count(keys, 'late', late)
end

-- sluice_deadline_view: ARGV class, limit (1..DEADLINE_VIEW_MAX). Reply:
-- {now_ms, total_entries, then start_by, ahead for each of the earliest
-- "limit" entries whose job is ready, in start_by order}; ahead is the
-- job's rank in the ready set + 1 (the jobs that start before it, itself
-- included). Entries of delayed jobs, and of jobs no longer waiting, are
-- skipped; at most VIEW_SCAN entries are looked at. Needs the 14 keys.
-- Errors: BADNAME, BADARG, NOCLASS.
register('sluice_deadline_view', function(keys, args)
    class_arg(keys, args)
    local key = deadlines_key(keys, 'the deadline view')
    local limit = int_arg(args[2], 'limit', 1, DEADLINE_VIEW_MAX)
    load_class(keys, NO_FIELDS)
    local r = {now_ms(), redis.call('ZCARD', key)}
    local at = 0
    while (#r - 2) / 2 < limit and at < VIEW_SCAN do
        local page = redis.call('ZRANGE', key, at, at + limit - 1, 'WITHSCORES')
        if #page == 0 then break end
        for i = 1, #page, 2 do
            local rank = redis.call('ZRANK', keys[K.ready], page[i])
            if rank and (#r - 2) / 2 < limit then
                r[#r + 1] = tonumber(page[i + 1])
                r[#r + 1] = rank + 1
            end
        end
        at = at + limit
    end
    return r
end, READONLY)

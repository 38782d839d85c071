-- needs: common fair
-- Ending or extending a lease: ack (one job, or many of a class), fail,
-- extend, release. Each presents the attempt's fencing token; a token that
-- is not the current lease's (the lease expired and the job was reclaimed,
-- or it already ended) is refused with STALE, so a worker that lost its
-- lease can never end another's attempt. A lease that ends leaves its
-- key's running count, and lets parked jobs of its key start (fair.lua).
--
-- KEYS: the class keys.  ARGV: class, id, token, then per Function below
-- (sluice_ack_many: class, then pairs of id and token).
-- Errors: NOCLASS, BADNAME, BADARG, STALE.

local TOKEN_MAX = 9007199254740991
local ACK_FIELDS = {'keep_done'}
local FAIL_FIELDS = {'backoff_base_ms', 'backoff_max_ms', 'dead_max', 'dead_ttl_ms'}

-- Whether the job record m (nil or false: no job) is leased under token.
local function holds_lease(m, token)
    return m and m[M.state] == 'leased' and m[M.token] == token
end

-- The lease of the job "id" whose lease entry is e (nil: none): the
-- lease's fields (lease_only), or, for a job whose lease is in its record
-- (see M), the whole record; nil when there is no such job.
local function lease_from(keys, id, e)
    if e then return lease_only(e) end
    return job_from(keys, id, redis.call('HGET', keys[K.jobs], id))
end

local function load_lease(keys, id)
    return lease_from(keys, id, redis.call('HGET', keys[K.jobs], id .. LEASE_SUFFIX))
end

-- The leased job the arguments name, as "read" (load_job: its record;
-- load_lease: its lease) returns it, and the class's "fields".
local function leased_job(keys, args, fields, read)
    local name = class_arg(keys, args)
    local id = id_arg(name, args[2])
    local token = int_arg(args[3], 'token', 1, TOKEN_MAX)
    local cfg = load_class(keys, fields)
    local m = read(keys, id)
    if not holds_lease(m, token) then fail('STALE', 'fencing token is not the current lease') end
    return id, m, cfg
end

-- Ends the leases of the jobs "ids" (their lease entries' fields "leases",
-- their leases ms, each presented with its token) as successes at "now":
-- each is deleted, or kept among the class's last keep_done completed jobs;
-- counted in 'acked'. One call per key for the whole batch.
local function ack(keys, ids, leases, ms, cfg, now)
    redis.call('ZREM', keys[K.leased], unpack(ids))   -- first: a producer may not (see common.lua)
    for i, id in ipairs(ids) do
        local m = ms[i]
        -- most jobs have neither: no call for them
        if m[M.duty] > 0 then end_duty(keys, m, now) end
        if m[M.unique] ~= '' then release_unique(keys, id, m) end
    end
    Cap.ended(keys, ms)
    if cfg.keep_done > 0 then
        for i, id in ipairs(ids) do
            local m = ms[i][M.payload] and ms[i] or load_job(keys, id)
            m[M.state] = 'done'
            m[M.at] = now
            save_job(keys, id, m)
        end
        redis.call('LPUSH', keys[K.done], unpack(ids))
        while redis.call('LLEN', keys[K.done]) > cfg.keep_done do
            forget(keys, redis.call('RPOP', keys[K.done]))
        end
    else
        local legacy = {}
        for i, id in ipairs(ids) do
            if ms[i].legacy then legacy[#legacy + 1] = id end
        end
        redis.call('HDEL', keys[K.jobs], unpack(ids))
        redis.call('HDEL', keys[K.jobs], unpack(leases))
        if #legacy > 0 then redis.call('HDEL', keys[K.meta], unpack(legacy)) end
    end
    count(keys, 'acked', #ids)
end

-- sluice_ack: the attempt succeeded (see ack above). Reply: 1.
register('sluice_ack', function(keys, args)
    local id, m, cfg = leased_job(keys, args, ACK_FIELDS, load_lease)
    ack(keys, {id}, {id .. LEASE_SUFFIX}, {m}, cfg, now_ms())
    return 1
end)

-- sluice_ack_many: acks up to BATCH_MAX jobs of the class at once. ARGV:
-- class, then id1, token1, id2, token2, ... (1..BATCH_MAX pairs). Every
-- pair is checked first: a malformed one (an id not of this class, a token
-- not an integer in 1..2^53-1) or a wrong argument count refuses the whole
-- call with BADARG ("... of pair N", counting from 1) and nothing changes.
-- Then each pair is acked alone, in order, as sluice_ack would: a pair
-- whose token is not the current lease's is refused alone and the others
-- are applied (a job named twice is acked once, then stale).
-- Reply: an array with one entry per pair, in order: 1 (acked) or 'STALE'.
register('sluice_ack_many', function(keys, args)
    local name = class_arg(keys, args)
    local n = (#args - 1) / 2
    if n < 1 or n > BATCH_MAX or n ~= math.floor(n) then
        fail('BADARG', 'wrong number of arguments: expected 1..' .. BATCH_MAX .. ' pairs of id and token')
    end
    local ids, tokens = {}, {}
    for i = 1, n do
        local id = args[2 * i]
        if not valid_id(name, id) then
            fail('BADARG', 'job id of pair ' .. i .. ' does not name this class')
        end
        local token, why = int_in(args[2 * i + 1], 1, TOKEN_MAX)
        if not token then fail('BADARG', 'token of pair ' .. i .. why) end
        ids[i], tokens[i] = id, token
    end
    local cfg = load_class(keys, ACK_FIELDS)
    local fields = {}
    for i = 1, n do fields[i] = ids[i] .. LEASE_SUFFIX end
    local entries = redis.call('HMGET', keys[K.jobs], unpack(fields))
    local out, done, leases, ms, seen = {}, {}, {}, {}, {}
    for i = 1, n do
        local id = ids[i]
        local m = not seen[id] and lease_from(keys, id, entries[i])
        if holds_lease(m, tokens[i]) then
            seen[id] = true
            out[i] = 1
            local k = #done + 1
            done[k], leases[k], ms[k] = id, fields[i], m
        else
            out[i] = 'STALE'
        end
    end
    if #done > 0 then ack(keys, done, leases, ms, cfg, now_ms()) end
    return out
end)

-- sluice_fail: the attempt failed. ARGV[4]: the reason (kept, truncated to
-- 1 KiB). Retries after exponential backoff with jitter, or goes dead when
-- the attempts are used up. Reply: {'retry', delay_ms} or {'dead', 0}.
register('sluice_fail', function(keys, args)
    local id, m, cfg = leased_job(keys, args, FAIL_FIELDS, load_job)
    local reason = args[4]
    if type(reason) ~= 'string' then fail('BADARG', 'reason is missing') end
    local now, micros = now_ms()
    redis.call('ZREM', keys[K.leased], id)   -- first: a producer may not (see common.lua)
    Cap.ended(keys, {m})
    end_duty(keys, m, now)
    count(keys, 'failed', 1)
    m[M.reason] = string.sub(reason, 1, REASON_MAX)
    if m[M.attempt] >= m[M.max_attempts] then
        make_dead(keys, id, m, reason, now, cfg)
        return {'dead', 0}
    end
    -- "Equal jitter": half the backoff fixed, half random, so retries of a
    -- batch that failed together spread out instead of returning as one.
    local backoff = math.min(cfg.backoff_max_ms, cfg.backoff_base_ms * 2 ^ (m[M.attempt] - 1))
    local rnd = ((micros * 1103515245 + m[M.seq] * 12345) % 2147483648) / 2147483648
    local delay = math.floor(backoff / 2 + rnd * backoff / 2)
    m[M.state] = 'delayed'
    m[M.at] = now + delay
    save_job(keys, id, m)
    redis.call('ZADD', keys[K.delayed], m[M.at], id)
    key_waits(keys, m[M.key], 1)
    count(keys, 'retried', 1)
    return {'retry', delay}
end)

-- sluice_extend: renews the lease. ARGV[4]: ms from now, 1..604800000.
-- Reply: the new deadline, Unix ms by the Redis clock.
register('sluice_extend', function(keys, args)
    local id, m = leased_job(keys, args, NO_FIELDS, load_job)
    local ms = int_arg(args[4], 'lease ms', 1, 604800000)
    local now = now_ms()
    m[M.at] = now + ms
    redis.call('ZADD', keys[K.leased], m[M.at], id)
    save_lease(keys, id, m)
    return m[M.at]
end)

-- sluice_release: hands the job back untried (a worker shutting down). It
-- returns to its place in the ready set and the attempt is not counted.
-- Reply: 1.
register('sluice_release', function(keys, args)
    local id, m = leased_job(keys, args, NO_FIELDS, load_job)
    redis.call('ZREM', keys[K.leased], id)   -- first: a producer may not (see common.lua)
    Cap.ended(keys, {m})
    end_duty(keys, m, now_ms())
    m[M.attempt] = m[M.attempt] - 1
    make_ready(keys, id, m)
    key_waits(keys, m[M.key], 1)
    count(keys, 'released', 1)
    redis.call('PUBLISH', keys[K.ready], 1)
    return 1
end)

-- needs: common
-- Ending or extending a lease: ack, fail, extend, release. Each presents the
-- attempt's fencing token; a token that is not the current lease's (the lease
-- expired and the job was reclaimed, or it already ended) is refused with
-- STALE, so a worker that lost its lease can never end another's attempt.
--
-- KEYS: the class keys.  ARGV: class, id, token, then per Function below.
-- Errors: NOCLASS, BADNAME, BADARG, STALE.

local ACK_FIELDS = {'keep_done'}
local FAIL_FIELDS = {'backoff_base_ms', 'backoff_max_ms', 'dead_max', 'dead_ttl_ms'}

-- The leased job the arguments name, its meta and the class's "fields".
local function leased_job(keys, args, fields)
    local name = class_arg(keys, args)
    local id = id_arg(name, args[2])
    local token = int_arg(args[3], 'token', 1, 9007199254740991)
    local cfg = load_class(keys, fields)
    local m = load_job(keys, id)
    if not m or m[M.state] ~= 'leased' or m[M.token] ~= token then
        fail('STALE', 'fencing token is not the current lease')
    end
    return id, m, cfg
end

-- sluice_ack: the attempt succeeded. The job is deleted, or kept among the
-- class's last keep_done completed jobs. Reply: 1.
register('sluice_ack', function(keys, args)
    local id, m, cfg = leased_job(keys, args, ACK_FIELDS)
    local now = now_ms()
    redis.call('ZREM', keys[K.leased], id)   -- first: a producer may not (see common.lua)
    end_duty(keys, m, now)
    release_unique(keys, id, m)
    count(keys, 'acked', 1)
    if cfg.keep_done > 0 then
        m[M.state] = 'done'
        m[M.at] = now
        save_job(keys, id, m)
        redis.call('LPUSH', keys[K.done], id)
        while redis.call('LLEN', keys[K.done]) > cfg.keep_done do
            forget(keys, redis.call('RPOP', keys[K.done]))
        end
    else
        forget(keys, id, m)
    end
    return 1
end)

-- sluice_fail: the attempt failed. ARGV[4]: the reason (kept, truncated to
-- 1 KiB). Retries after exponential backoff with jitter, or goes dead when
-- the attempts are used up. Reply: {'retry', delay_ms} or {'dead', 0}.
register('sluice_fail', function(keys, args)
    local id, m, cfg = leased_job(keys, args, FAIL_FIELDS)
    local reason = args[4]
    if type(reason) ~= 'string' then fail('BADARG', 'reason is missing') end
    local now, micros = now_ms()
    redis.call('ZREM', keys[K.leased], id)   -- first: a producer may not (see common.lua)
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
    count(keys, 'retried', 1)
    return {'retry', delay}
end)

-- sluice_extend: renews the lease. ARGV[4]: ms from now, 1..604800000.
-- Reply: the new deadline, Unix ms by the Redis clock.
register('sluice_extend', function(keys, args)
    local id, m = leased_job(keys, args, NO_FIELDS)
    local ms = int_arg(args[4], 'lease ms', 1, 604800000)
    local now = now_ms()
    m[M.at] = now + ms
    redis.call('ZADD', keys[K.leased], m[M.at], id)
    save_job(keys, id, m)
    return m[M.at]
end)

-- sluice_release: hands the job back untried (a worker shutting down). It
-- returns to its place in the ready set and the attempt is not counted.
-- Reply: 1.
register('sluice_release', function(keys, args)
    local id, m = leased_job(keys, args, NO_FIELDS)
    redis.call('ZREM', keys[K.leased], id)   -- first: a producer may not (see common.lua)
    end_duty(keys, m, now_ms())
    m[M.attempt] = m[M.attempt] - 1
    make_ready(keys, id, m)
    count(keys, 'released', 1)
    redis.call('PUBLISH', keys[K.ready], 1)
    return 1
end)

-- needs: common
-- Ending or extending a lease: ack (one job, or many of a class), fail,
-- extend, release. Each presents the attempt's fencing token; a token that
-- is not the current lease's (the lease expired and the job was reclaimed,
-- or it already ended) is refused with STALE, so a worker that lost its
-- lease can never end another's attempt.
--
-- KEYS: the class keys.  ARGV: class, id, token, then per Function below
-- (sluice_ack_many: class, then pairs of id and token).
-- Errors: NOCLASS, BADNAME, BADARG, STALE.

local TOKEN_MAX = 9007199254740991

-- The job's metadata when token is its current lease's, else nil.
local function lease_of(keys, id, token)
    local m = load_meta(keys, id)
    if not m or m[M.state] ~= 'leased' or m[M.token] ~= token then
        return nil
    end
    return m
end

local function leased_job(keys, args)
    local name = class_arg(keys, args)
    local id = id_arg(name, args[2])
    local token = int_arg(args[3], 'token', 1, TOKEN_MAX)
    local cfg = load_class(keys)
    local m = lease_of(keys, id, token)
    if not m then fail('STALE', 'fencing token is not the current lease') end
    return id, m, cfg
end

-- Ends the lease of job id (metadata m, class config cfg) as a success at
-- "now": the job is deleted, or kept among the class's last keep_done
-- completed jobs. The caller counts it in 'acked'.
local function ack(keys, id, m, cfg, now)
    redis.call('ZREM', keys[K.leased], id)   -- first: a producer may not (see common.lua)
    end_duty(keys, m, now)
    release_unique(keys, id, m)
    if cfg.keep_done > 0 then
        m[M.state] = 'done'
        m[M.at] = now
        save_meta(keys, id, m)
        redis.call('LPUSH', keys[K.done], id)
        while redis.call('LLEN', keys[K.done]) > cfg.keep_done do
            forget(keys, redis.call('RPOP', keys[K.done]))
        end
    else
        forget(keys, id)
    end
end

-- sluice_ack: the attempt succeeded (see ack above). Reply: 1.
register('sluice_ack', function(keys, args)
    local id, m, cfg = leased_job(keys, args)
    ack(keys, id, m, cfg, now_ms())
    count(keys, 'acked', 1)
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
    local tokens = {}
    for i = 1, n do
        if not valid_id(name, args[2 * i]) then
            fail('BADARG', 'job id of pair ' .. i .. ' does not name this class')
        end
        tokens[i] = int_arg(args[2 * i + 1], 'token of pair ' .. i, 1, TOKEN_MAX)
    end
    local cfg = load_class(keys)
    local now = now_ms()
    local out, acked = {}, 0
    for i = 1, n do
        local id = args[2 * i]
        local m = lease_of(keys, id, tokens[i])
        if m then
            ack(keys, id, m, cfg, now)
            out[i] = 1
            acked = acked + 1
        else
            out[i] = 'STALE'
        end
    end
    count(keys, 'acked', acked)
    return out
end)

-- sluice_fail: the attempt failed. ARGV[4]: the reason (kept, truncated to
-- 1 KiB). Retries after exponential backoff with jitter, or goes dead when
-- the attempts are used up. Reply: {'retry', delay_ms} or {'dead', 0}.
register('sluice_fail', function(keys, args)
    local id, m, cfg = leased_job(keys, args)
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
    save_meta(keys, id, m)
    redis.call('ZADD', keys[K.delayed], m[M.at], id)
    count(keys, 'retried', 1)
    return {'retry', delay}
end)

-- sluice_extend: renews the lease. ARGV[4]: ms from now, 1..604800000.
-- Reply: the new deadline, Unix ms by the Redis clock.
register('sluice_extend', function(keys, args)
    local id, m = leased_job(keys, args)
    local ms = int_arg(args[4], 'lease ms', 1, 604800000)
    local now = now_ms()
    m[M.at] = now + ms
    redis.call('ZADD', keys[K.leased], m[M.at], id)
    save_meta(keys, id, m)
    return m[M.at]
end)

-- sluice_release: hands the job back untried (a worker shutting down). It
-- returns to its place in the ready set and the attempt is not counted.
-- Reply: 1.
register('sluice_release', function(keys, args)
    local id, m = leased_job(keys, args)
    redis.call('ZREM', keys[K.leased], id)   -- first: a producer may not (see common.lua)
    end_duty(keys, m, now_ms())
    m[M.attempt] = m[M.attempt] - 1
    make_ready(keys, id, m)
    count(keys, 'released', 1)
    redis.call('PUBLISH', keys[K.ready], 1)
    return 1
end)

-- needs: common fair deadline
-- sluice_claim: leases up to N ready jobs of a class, after reclaiming
-- expired leases, promoting due delayed jobs and sweeping expired ones
-- (deadline.lua: a class whose on_expiry is dead dead-letters the waiting
-- jobs past their start_by, throttled or not). This is where admission
-- happens: the gate (paused, admitted fraction, concurrency, rate) decides
-- how many of the head of the ready set may start. Jobs the gate holds back
-- are not touched: no attempt is spent, nothing is reordered or moved.
--
-- Quarantine. A job whose lease expired before (reclaims > 0) is a suspect:
-- it may be what crashed its worker. A suspect is leased alone, and only to
-- a claimer with nothing in flight, so that if it crashes its worker again no
-- other job loses its lease (and counts a reclaim) with it. Among the head
-- jobs the gate admits, a batch stops before the first suspect; a suspect at
-- the head is leased alone to an idle claimer (busy '0') and refused to a
-- busy one (busy '1'), which changes nothing and answers 'suspect'. The order
-- of the ready set is never changed.
--
-- KEYS: the class keys.
-- ARGV: class, n (1..1000), consumer name ('' allowed, for inspection only),
--       busy ('0', the default: the claimer has no job in flight; '1': it has).
-- Duty cycle. A class whose admitted share of its concurrency is below one
-- job (max_concurrency x fraction < 1) is admitted one job at a time, and
-- after each lease it rests: the next claim waits until the time since the
-- lease began is its duration / share, so its jobs occupy that share of
-- the time and its throughput is scaled like any other class's. A lease
-- ending by ack, fail, release or reclaim records its span (stats
-- duty_started and duty_ended, Redis clock); a claim divides it by the
-- share the class has at that claim, and before the rest is over it is
-- throttled with why 'duty' and retry_ms until then. Other classes read
-- nothing more.
--
-- Per-key caps (fair.lua). In a class with max_concurrency_per_key, the
-- admitted jobs are the first ready ones whose keys are under their caps
-- (keyless jobs have none): a job of a key at its cap is parked as the
-- claim passes it (at most Cap.PARK_MAX a claim), and one whose key the jobs
-- taken before it in this claim fill is left in place. The leases count
-- in their keys' running counts. Such a class needs the parked key.
--
-- Reply, one of:
--   {'jobs', k, then k groups of: id, attempt, token, timeout_ms, max_attempts,
--    payload, reclaims}          reclaims > 0: a suspect, then k = 1
--   {'empty', next_ms}          nothing ready; next_ms until the next delayed
--                               job is due or lease expires, -1 for never
--   {'throttled', retry_ms, why, fraction}
--                               why: paused, fraction, concurrency, duty, rate
--                               or key_concurrency (every ready job it looked
--                               at is of a key at its cap)
--   {'suspect', id}             busy '1' only: the head is a suspect that
--                               needs an idle claimer; nothing was changed
--                               but parking (per-key caps)
-- Errors: NOCLASS, BADNAME, BADARG.

local RECLAIM_BATCH = 100
local CLAIM_FIELDS = {'max_reclaims', 'dead_max', 'dead_ttl_ms', 'floor', 'max_concurrency', 'max_rate', 'burst',
                      'key_weights', 'on_expiry', 'max_concurrency_per_key'}
local PROMOTE_BATCH = 1000
local CONCURRENCY_RETRY_MS = 100

-- A reclaimed job waits again at its tag: its key's count (fair.lua) rises.
local function reclaim_expired(keys, cfg, now)
    local ids = redis.call('ZRANGEBYSCORE', keys[K.leased], '-inf', now, 'LIMIT', 0, RECLAIM_BATCH)
    if #ids == 0 then return end
    local t = tags(keys, cfg.key_weights)
    for _, id in ipairs(ids) do
        redis.call('ZREM', keys[K.leased], id)
        local m = load_job(keys, id)
        if m then
            Cap.ended(keys, {m})
            end_duty(keys, m, math.min(now, m[M.at]))
            m[M.reclaims] = m[M.reclaims] + 1
            count(keys, 'reclaimed', 1)
            if m[M.reclaims] > cfg.max_reclaims then
                make_dead(keys, id, m, 'poison: lease expired ' .. m[M.reclaims] .. ' times', now, cfg)
            elseif m[M.attempt] >= m[M.max_attempts] then
                make_dead(keys, id, m, 'lease expired on the last attempt', now, cfg)
            else
                t:count(m[M.key], 1)
                make_ready(keys, id, m)
            end
        end
    end
    save_tags(t, {})
end

-- A promoted job gets its tag now (fair.lua), after the jobs of its key
-- that wait already.
local function promote_due(keys, cfg, now)
    local ids = redis.call('ZRANGEBYSCORE', keys[K.delayed], '-inf', now, 'LIMIT', 0, PROMOTE_BATCH)
    if #ids == 0 then return end
    redis.call('ZREM', keys[K.delayed], unpack(ids))   -- first: a producer may not (see common.lua)
    local t, jobs, keyed = tags(keys, cfg.key_weights), {}, {}
    for i, id in ipairs(ids) do
        jobs[i] = load_job(keys, id) or false
        if jobs[i] then keyed[#keyed + 1] = jobs[i][M.key] end
    end
    t:read(keyed)
    for i, id in ipairs(ids) do
        local m = jobs[i]
        if m then
            m[M.seq] = t:next(m[M.key])
            make_ready(keys, id, m)
        end
    end
    save_tags(t, {})
end

-- For a class with a per-key cap: of the ready jobs from the head on
-- ("head", the first "want" asked), the first n whose keys are under their
-- caps (cap), as ids and their records; the jobs of keys at their caps it
-- passes are parked, at most Cap.PARK_MAX, and those of keys that the jobs
-- taken before them fill stay in place.
local function pick_under_cap(keys, head, want, n, cap)
    local ids, records, running, taken = {}, {}, {}, {}
    local page, asked, offset, parked = head, want, 0, 0
    while #page > 0 do
        local raws = redis.call('HMGET', keys[K.jobs], unpack(page))
        local passed = {}
        for i, id in ipairs(page) do
            local m = job_from(keys, id, raws[i])
            local key = m[M.key]
            if key ~= '' and running[key] == nil then running[key], taken[key] = Cap.running(keys, key), 0 end
            if key ~= '' and running[key] >= cap then
                passed[#passed + 1] = {id, m}
            elseif key == '' or running[key] + taken[key] < cap then
                ids[#ids + 1], records[#records + 1] = id, m
                if key ~= '' then taken[key] = taken[key] + 1 end
                if #ids == n then break end
            end
        end
        Cap.park(keys, passed)
        parked = parked + #passed
        if #ids == n or parked >= Cap.PARK_MAX or #page < asked then break end
        offset = offset + #page - #passed  -- the jobs left in place; the parked are gone
        page, asked = redis.call('ZRANGE', keys[K.ready], offset, offset + Cap.PICK_PAGE - 1), Cap.PICK_PAGE
    end
    return ids, records
end

local function first_score(key)
    local r = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
    if #r == 0 then return nil end
    return tonumber(r[2])
end

-- ms until something may become ready without an enqueue, or -1.
local function next_event(keys, now)
    local t = first_score(keys[K.delayed])
    local l = first_score(keys[K.leased])
    if l and (not t or l < t) then t = l end
    if not t then return -1 end
    return math.max(1, t - now)
end

-- The admitted fraction, with a retry hint for fraction 0 and why it is what
-- it is. Critical classes are never throttled by the governor.
local function admitted(cfg, gate, now)
    if cfg.tier == 'critical' then return 1, 1000, 'critical' end
    local pin = tonumber(gate.pin)
    local pin_until = tonumber(gate.pin_until) or 0
    if pin and (pin_until == 0 or now < pin_until) then
        return pin, (pin_until > 0 and pin_until - now or 1000), 'pinned'
    end
    local expires = tonumber(gate.expires_at)
    if not expires then return 1, 1000, 'ungoverned' end
    if now < expires then return tonumber(gate.fraction) or 1, expires - now, 'governor' end
    return cfg.floor, 1000, 'governor silent'
end

register('sluice_claim', function(keys, args)
    local name = class_arg(keys, args)
    local want = int_arg(args[2], 'n', 1, BATCH_MAX)
    if type(args[3]) ~= 'string' then fail('BADARG', 'consumer name is missing') end
    if #args[3] > 128 then fail('BADARG', 'consumer name is too long') end
    local busy = args[4] or '0'
    if busy ~= '0' and busy ~= '1' then fail('BADARG', 'busy must be 0 or 1') end
    local cfg = load_class(keys, CLAIM_FIELDS)
    local cap = cfg.max_concurrency_per_key
    if cap > 0 then Cap.parked_key(keys, 'a claim') end
    local now = now_ms()

    reclaim_expired(keys, cfg, now)
    promote_due(keys, cfg, now)
    local deadlines = has_deadlines(keys)
    if deadlines then expire_due(keys, cfg, now) end

    local head = redis.call('ZRANGE', keys[K.ready], 0, want - 1)
    if #head == 0 then return {'empty', next_event(keys, now)} end

    local gate = hgetall_table(keys[K.gate])
    local function throttled(retry, why, f)
        count(keys, 'throttled', 1)
        return {'throttled', math.max(1, math.floor(retry)), why, fmt_num(f)}
    end

    local paused_until = tonumber(gate.paused_until) or 0
    if gate.paused == '1' and (paused_until == 0 or now < paused_until) then
        return throttled(paused_until > 0 and math.min(paused_until - now, 1000) or 1000, 'paused', 0)
    end

    local f, f_retry = admitted(cfg, gate, now)
    if f <= 0 then return throttled(math.min(f_retry, 1000), 'fraction', 0) end

    local n = #head
    local duty = 0  -- the share of one job the leases run under, when below 1
    if cfg.max_concurrency > 0 then
        local share = cfg.max_concurrency * f
        local limit = math.max(1, math.floor(share + 1e-9))
        local room = limit - redis.call('ZCARD', keys[K.leased])
        if room <= 0 then return throttled(CONCURRENCY_RETRY_MS, 'concurrency', f) end
        if share < 1 - 1e-9 then
            local rest = duty_rest(keys, share, now)
            if rest > 0 then return throttled(rest, 'duty', f) end
            duty = share
        end
        if room < n then n = room end
    end

    local records
    if cap > 0 then
        head, records = pick_under_cap(keys, head, want, n, cap)
        if #head == 0 then
            if redis.call('ZCARD', keys[K.ready]) == 0 then return {'empty', next_event(keys, now)} end
            return throttled(CONCURRENCY_RETRY_MS, 'key_concurrency', f)
        end
        n = #head
    else
        records = redis.call('HMGET', keys[K.jobs], unpack(head, 1, n))
        for i = 1, n do records[i] = job_from(keys, head[i], records[i]) end
    end
    -- Quarantine: cut the batch before the first suspect, or to the suspect
    -- alone when it is the first. Done before the rate check, so the bucket
    -- is charged only for the jobs leased.
    for i = 1, n do
        if records[i][M.reclaims] > 0 then
            n = math.max(1, i - 1)
            break
        end
    end
    local suspect = records[1][M.reclaims] > 0

    local tat  -- the rate bucket after this claim, for a class with a rate
    if cfg.max_rate > 0 then
        -- GCRA, cost-weighted: T ms per unit, tolerance of burst units.
        local T = 1000 / (cfg.max_rate * f)
        local burst = math.max(1, (cfg.burst > 0 and cfg.burst or cfg.max_rate) * f)
        tat = tonumber(redis.call('GET', keys[K.bucket])) or now
        local admit = 0
        local retry = 0
        for i = 1, n do
            local c = records[i][M.cost]
            local new_tat = math.max(tat, now) + c * T
            local allow_at = new_tat - math.max(burst, c) * T
            if allow_at > now then
                retry = allow_at - now
                break
            end
            tat = new_tat
            admit = i
        end
        if admit == 0 then return throttled(retry, 'rate', f) end
        n = admit
    end
    -- admitted, but not for a busy claimer: the refusal changes nothing
    -- (but the parking of jobs of keys at their caps)
    if suspect and busy == '1' then return {'suspect', head[1]} end
    -- first the writes a producer may not do: the rate bucket, then the
    -- ready set (see common.lua)
    if tat then redis.call('SET', keys[K.bucket], fmt_num(tat)) end
    local leased = {}
    for i = 1, n do
        leased[i] = head[i]
        records[i][M.at] = now + records[i][M.timeout]
    end
    redis.call('ZREM', keys[K.ready], unpack(leased))
    if deadlines then lease_deadlines(keys, leased, now) end

    -- the virtual time moves to the largest tag leased; a keyed job leaves
    -- its key's waiting count (fair.lua), and under a per-key cap counts in
    -- its key's running count
    local tag, keyed = 0, {}
    for i = 1, n do
        local m = records[i]
        if m[M.seq] > tag then tag = m[M.seq] end
        if m[M.key] ~= '' then keyed[#keyed + 1] = m[M.key] end
    end
    if #keyed > 0 then
        local t = tags(keys, nil, UNREAD)
        t:read(keyed)
        for _, key in ipairs(keyed) do t:count(key, -1) end
        save_tags(t, {})
        if cap > 0 then Cap.started(keys, records, n) end
    end
    local token = next_tokens(keys, n, tag) - 1
    -- writes: the lease entries, and the records of legacy jobs. deadlines:
    -- the leased set's new members, last job first: a small sorted set is
    -- one list, which Redis scans to each insert's place; the jobs of a
    -- batch share a deadline, so each then goes at the front of its group
    -- instead of past the ones before it. at_text: the deadline as text,
    -- written once for the jobs that share it.
    local writes, deadlines = {}, {}
    local at, at_text
    local reply = {'jobs', n}
    for i = 1, n do
        local id, m = head[i], records[i]
        token = token + 1
        m[M.attempt] = m[M.attempt] + 1
        m[M.token] = token
        m[M.started] = now
        m[M.duty] = duty
        if m.legacy then
            writes[#writes + 1] = id
            writes[#writes + 1] = packed_job(keys, id, m)
        end
        if cap > 0 and m[M.key] ~= '' then m.running = m[M.key] end
        writes[#writes + 1] = id .. LEASE_SUFFIX
        writes[#writes + 1] = pack_lease(m)
        if m[M.at] ~= at then at, at_text = m[M.at], int_text(m[M.at]) end
        deadlines[2 * (n - i) + 1], deadlines[2 * (n - i) + 2] = at_text, id
        local b = #reply
        reply[b + 1] = id
        reply[b + 2] = m[M.attempt]
        reply[b + 3] = token
        reply[b + 4] = m[M.timeout]
        reply[b + 5] = m[M.max_attempts]
        reply[b + 6] = m[M.payload]
        reply[b + 7] = m[M.reclaims]
    end
    redis.call('HSET', keys[K.jobs], unpack(writes))
    redis.call('ZADD', keys[K.leased], unpack(deadlines))
    count(keys, 'claimed', n)
    return reply
end)

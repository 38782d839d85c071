-- needs: common fair deadline
-- sluice_enqueue: adds one or many jobs to a class in one atomic call.
--
-- KEYS: the class keys.
-- ARGV: class, n, then n groups of 11 fields (or of the first 9, for
-- clients of version 8: no start_by; or of the first 8, for clients of
-- version 7: no key):
--   payload      a JSON object, nested at most 32 deep, no NaN or Infinity,
--                no NUL byte nor \u0000 escape, within the class's
--                payload_max and the 256 KiB cap (the C library also checks
--                that its strings are valid UTF-8)
--   delay_ms     0 for none
--   run_at_ms    Unix ms by the Redis clock, 0 for none (not with delay_ms)
--   priority     -1000..1000, higher runs first
--   max_attempts 0 for the class default, else 1..1000
--   timeout_ms   the lease; 0 for the class default, else 1..604800000
--   unique       '' for none; a duplicate returns the live job's id
--   cost         0 for 1, else 1..1000000 rate units
--   key          '' for none, else the fairness key (fair.lua): 1..128
--                bytes, no control byte
--   start_by_ms  0 for none, else Unix ms by the Redis clock (deadline.lua):
--                at most a year in the past (a job already late),
--                up to RUN_AT_MAX, not before the job's due time
--   start_within_ms  0 for none, else start_by as ms from now; not with
--                start_by_ms. Either needs the deadlines key.
-- Reply: the n job ids, in order.
-- Errors: NOCLASS, BADNAME, BADARG, PAYLOAD, FULL. Nothing is written unless
-- every job is valid and the whole batch fits under max_queue; a duplicate
-- of a unique key gets no start_by.

local ENQUEUE_FIELDS = {'payload_max', 'max_attempts', 'timeout_ms', 'max_queue', 'key_weights'}
local STRIDES = {[8] = true, [9] = true, [11] = true}  -- a job's fields, by client version

-- The start_by of a job due at "due" (0: now) from its arguments
-- start_by_ms "by" and start_within_ms "within", checked; 0 for none.
local function start_by_arg(keys, by, within, due, now)
    local at = int_arg(by, 'start_by_ms', 0, RUN_AT_MAX)
    local rel = int_arg(within, 'start_within_ms', 0, RUN_AT_MAX)
    if at == 0 and rel == 0 then return 0 end
    deadlines_key(keys, 'start_by')
    if at > 0 and rel > 0 then fail('BADARG', 'start_by_ms and start_within_ms are exclusive') end
    if rel > 0 then
        at = now + rel
        if at > RUN_AT_MAX then fail('BADARG', 'start_within_ms is out of range') end
    end
    if at < now - START_BY_PAST_MAX then fail('BADARG', 'start_by is more than a year in the past') end
    if at < due then fail('BADARG', "start_by is before the job's run_at") end
    return at
end

local strict_json  -- a cjson of our own: its settings never touch another library's

local function check_payload(p, cfg)
    if type(p) ~= 'string' or #p < 2 then fail('PAYLOAD', 'payload is not a JSON object') end
    if #p > cfg.payload_max or #p > PAYLOAD_HARD_MAX then fail('PAYLOAD', 'payload is too large') end
    if not string.find(p, '^[ \t\r\n]*{') then fail('PAYLOAD', 'payload is not a JSON object') end
    if string.find(p, '\0', 1, true) or string.find(p, '\\u0000', 1, true) then
        fail('PAYLOAD', 'payload contains a NUL byte')
    end
    if not strict_json then
        strict_json = cjson.new()
        strict_json.decode_max_depth(PAYLOAD_MAX_DEPTH)
        strict_json.decode_invalid_numbers(false)
    end
    if not pcall(strict_json.decode, p) then
        fail('PAYLOAD', 'payload is not valid JSON, or nested deeper than 32')
    end
end

register('sluice_enqueue', function(keys, args)
    local name = class_arg(keys, args)
    local n = int_arg(args[2], 'job count', 1, BATCH_MAX)
    local stride = (#args - 2) / n
    if not STRIDES[stride] then fail('BADARG', 'wrong number of arguments') end
    local cfg = load_class(keys, ENQUEUE_FIELDS)
    local now = now_ms()
    -- the jobs' keys, checked, and the distinct ones read at once
    local keyed = {}
    if stride >= 9 then
        for i = 1, n do
            local key = args[2 + (i - 1) * stride + 9]
            if key ~= '' then
                if not valid_key(key) then fail('BADARG', 'fairness key is not 1..128 bytes without control bytes') end
                keyed[#keyed + 1] = key
            end
        end
    end

    -- One pass checks every job and prepares every write; nothing is written
    -- until the whole batch is valid and fits. Ids follow the class's
    -- sequence, reserved below with one write for the batch.
    local counters = redis.call('HMGET', keys[K.stats], 'vtime', 'seq', 'f:')
    local seq = tonumber(counters[2]) or 0
    local t = tags(keys, cfg.key_weights, counters)
    t:read(keyed)
    local fresh, seen, ids = 0, {}, {}
    local records, ready, delayed, uniques, starts = {}, {}, {}, {}, {}
    local np, nr, nd, nu, ns = 0, 0, 0, 0, 0
    -- A job's options (arguments 2..8, 10 and 11 of its group), checked, and
    -- its packed fields 2..15 (new_fields): kept for the next job, which most
    -- often has the same option strings, and then has nothing to check again.
    local last  -- where the options kept were read: their group's first argument
    local due, priority, max_attempts, timeout, unique, cost, fields, start_by
    for i = 1, n do
        local b = 2 + (i - 1) * stride
        local key = stride >= 9 and args[b + 9] or ''
        local payload = args[b + 1]
        check_payload(payload, cfg)
        if not (last and args[b + 2] == args[last + 2] and args[b + 3] == args[last + 3] and
                args[b + 4] == args[last + 4] and args[b + 5] == args[last + 5] and
                args[b + 6] == args[last + 6] and args[b + 7] == args[last + 7] and args[b + 8] == args[last + 8] and
                (stride < 11 or args[b + 10] == args[last + 10] and args[b + 11] == args[last + 11])) then
            local delay = int_arg(args[b + 2], 'delay_ms', 0, DELAY_MAX)
            local run_at = int_arg(args[b + 3], 'run_at_ms', 0, RUN_AT_MAX)
            if delay > 0 and run_at > 0 then fail('BADARG', 'delay_ms and run_at_ms are exclusive') end
            due = 0
            if delay > 0 then due = now + delay elseif run_at > now then due = run_at end
            priority = int_arg(args[b + 4], 'priority', -PRIORITY_MAX, PRIORITY_MAX)
            max_attempts = int_arg(args[b + 5], 'max_attempts', 0, CLASS_FIELDS.max_attempts[3])
            if max_attempts == 0 then max_attempts = cfg.max_attempts end
            timeout = int_arg(args[b + 6], 'timeout_ms', 0, CLASS_FIELDS.timeout_ms[3])
            if timeout == 0 then timeout = cfg.timeout_ms end
            unique = args[b + 7]
            if type(unique) ~= 'string' or #unique > UNIQUE_MAX then fail('BADARG', 'unique key is too long') end
            cost = int_arg(args[b + 8], 'cost', 0, COST_MAX)
            if cost == 0 then cost = 1 end
            fields = new_fields(priority, max_attempts, timeout, cost, unique, now, due > 0 and 'delayed' or 'ready', due)
            start_by = stride == 11 and start_by_arg(keys, args[b + 10], args[b + 11], due, now) or 0
        end
        last = b
        local existing = unique ~= '' and (seen[unique] or redis.call('HGET', keys[K.unique], unique))
        if existing then
            ids[i] = existing
        else
            fresh = fresh + 1
            local id = job_id(name, seq + fresh)
            if unique ~= '' then
                seen[unique] = id
                uniques[nu + 1], uniques[nu + 2], nu = unique, id, nu + 2
            end
            local tag = seq + fresh  -- a delayed job's tag comes when it is promoted
            if due > 0 then
                delayed[nd + 1], delayed[nd + 2], nd = due, id, nd + 2
            else
                tag = t:next(key)
                ready[nr + 1], ready[nr + 2], nr = int_text(score_of(priority, tag)), id, nr + 2
            end
            t:count(key, 1)
            if start_by > 0 then starts[ns + 1], starts[ns + 2], ns = int_text(start_by), id, ns + 2 end
            records[np + 1], records[np + 2], np = id, new_record(tag, fields, payload, key), np + 2
            ids[i] = id
        end
    end

    if cfg.max_queue > 0 and fresh > 0 then
        local depth = redis.call('ZCARD', keys[K.ready]) + redis.call('ZCARD', keys[K.delayed])
        if depth + fresh > cfg.max_queue then fail('FULL', 'queue is at max_queue') end
    end

    -- The writes, one call each for the whole batch; the sequence and the
    -- tags first (a role that may not enqueue is refused it, and nothing
    -- has changed).
    if fresh == 0 then return ids end
    save_tags(t, {'seq', int_text(seq + fresh)})
    redis.call('HSET', keys[K.jobs], unpack(records))
    if nu > 0 then redis.call('HSET', keys[K.unique], unpack(uniques)) end
    if nd > 0 then redis.call('ZADD', keys[K.delayed], unpack(delayed)) end
    if nr > 0 then
        redis.call('ZADD', keys[K.ready], unpack(ready))
        redis.call('PUBLISH', keys[K.ready], nr / 2)
    end
    if ns > 0 then redis.call('ZADD', deadlines_key(keys, 'start_by'), unpack(starts)) end
    count(keys, 'enqueued', fresh)
    return ids
end, GROWS)

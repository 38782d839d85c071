-- needs: common
-- sluice_enqueue: adds one or many jobs to a class in one atomic call.
--
-- KEYS: the class keys.
-- ARGV: class, n, then n groups of 8 fields:
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
-- Reply: the n job ids, in order.
-- Errors: NOCLASS, BADNAME, BADARG, PAYLOAD, FULL. Nothing is written unless
-- every job is valid and the whole batch fits under max_queue.

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
    if #args ~= 2 + n * 8 then fail('BADARG', 'wrong number of arguments') end
    local cfg = load_class(keys)
    local now = now_ms()

    local jobs, fresh, seen = {}, 0, {}
    for i = 1, n do
        local b = 2 + (i - 1) * 8
        local j = {payload = args[b + 1]}
        check_payload(j.payload, cfg)
        local delay = int_arg(args[b + 2], 'delay_ms', 0, DELAY_MAX)
        local run_at = int_arg(args[b + 3], 'run_at_ms', 0, RUN_AT_MAX)
        if delay > 0 and run_at > 0 then fail('BADARG', 'delay_ms and run_at_ms are exclusive') end
        j.due = 0
        if delay > 0 then j.due = now + delay elseif run_at > now then j.due = run_at end
        j.priority = int_arg(args[b + 4], 'priority', -PRIORITY_MAX, PRIORITY_MAX)
        j.max_attempts = int_arg(args[b + 5], 'max_attempts', 0, CLASS_FIELDS.max_attempts[3])
        if j.max_attempts == 0 then j.max_attempts = cfg.max_attempts end
        j.timeout = int_arg(args[b + 6], 'timeout_ms', 0, CLASS_FIELDS.timeout_ms[3])
        if j.timeout == 0 then j.timeout = cfg.timeout_ms end
        j.unique = args[b + 7]
        if type(j.unique) ~= 'string' or #j.unique > UNIQUE_MAX then fail('BADARG', 'unique key is too long') end
        j.cost = int_arg(args[b + 8], 'cost', 0, COST_MAX)
        if j.cost == 0 then j.cost = 1 end
        if j.unique ~= '' then
            j.existing = seen[j.unique] or redis.call('HGET', keys[K.unique], j.unique)
        end
        if not j.existing then
            fresh = fresh + 1
            if j.unique ~= '' then seen[j.unique] = i end
        end
        jobs[i] = j
    end

    if cfg.max_queue > 0 and fresh > 0 then
        local depth = redis.call('ZCARD', keys[K.ready]) + redis.call('ZCARD', keys[K.delayed])
        if depth + fresh > cfg.max_queue then fail('FULL', 'queue is at max_queue') end
    end

    local ids, any_ready = {}, false
    for i = 1, n do
        local j = jobs[i]
        if type(j.existing) == 'number' then
            ids[i] = ids[j.existing]
        elseif j.existing then
            ids[i] = j.existing
        else
            local seq = next_seq(keys)
            local id = job_id(name, seq)
            local m = {seq, j.priority, 0, j.max_attempts, j.timeout, j.cost, 0, 0,
                       j.unique, now, 'ready', '', 0}
            redis.call('HSET', keys[K.jobs], id, j.payload)
            if j.unique ~= '' then redis.call('HSET', keys[K.unique], j.unique, id) end
            if j.due > 0 then
                m[M.state] = 'delayed'
                m[M.at] = j.due
                save_meta(keys, id, m)
                redis.call('ZADD', keys[K.delayed], j.due, id)
            else
                make_ready(keys, id, m)
                any_ready = true
            end
            ids[i] = id
        end
    end
    count(keys, 'enqueued', fresh)
    if any_ready then redis.call('PUBLISH', keys[K.ready], fresh) end
    return ids
end, GROWS)

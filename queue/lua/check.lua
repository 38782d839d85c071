-- needs: common job signal window fair
-- The invariant checker: reads a class (or the global keys) in one atomic
-- snapshot and lists what is inconsistent. It never writes (no-writes).
-- Its cost is O(jobs of the class) while it blocks Redis, so the caller
-- bounds it: a class holding more than max_jobs jobs is refused unread.
--
-- A problem is three strings: a code word, its subject (a job id, a key
-- suffix or a field) and a detail in words. At most CHECK.PROBLEMS_MAX are
-- returned; then the last is {'truncated', '', ''}.

-- The checker's constants, one local (the library's main chunk may have at
-- most 200).
local CHECK = {PROBLEMS_MAX = 1000,
               STATES = {ready = true, delayed = true, leased = true, dead = true, done = true},
               JOB_SETS = {'ready', 'delayed', 'leased', 'dead', 'done'},
               LEASE_MAX_MS = 604800000,         -- the longest lease (timeout, extend)
               DURATION_MAX_MS = 31536000000,    -- the longest pause or pin
               GOVERN_TTL_MAX_MS = 86400000}     -- the longest governor decision

local function problems()
    local list = {}
    local function add(code, subject, detail)
        if #list >= CHECK.PROBLEMS_MAX * 3 then return end
        if #list == (CHECK.PROBLEMS_MAX - 1) * 3 then
            code, subject, detail = 'truncated', '', 'more problems than the checker returns'
        end
        list[#list + 1] = code
        list[#list + 1] = subject
        list[#list + 1] = detail
    end
    return list, add
end

-- A read that answers false, with a 'type' problem, when the key holds
-- another type of value than the Functions give it; else true and the reply.
local function read(add, what, ...)
    local r = redis.pcall(...)
    if type(r) == 'table' and r.err then
        add('type', what, 'holds another type of value than sluice writes')
        return false
    end
    return true, r
end

-- The reply: the fields in "head", then the problems.
local function answer(head, list)
    for _, v in ipairs(list) do head[#head + 1] = v end
    return head
end

-- How many jobs the check would read: the most entries of the job hashes,
-- or of the sets and the done list together; nil when a key has the
-- wrong type.
local function class_jobs(keys, add)
    local jobs, members = 0, 0
    for _, f in ipairs({'class', 'gate', 'jobs', 'meta', 'unique', 'stats', 'ready', 'delayed',
                        'leased', 'dead', 'done'}) do
        local cmd = (f == 'done' and 'LLEN') or (K[f] >= K.ready and K[f] <= K.dead and 'ZCARD') or 'HLEN'
        local ok, n = read(add, f, cmd, keys[K[f]])
        if not ok then return nil end
        if cmd ~= 'HLEN' then members = members + n
        elseif f == 'jobs' or f == 'meta' or f == 'unique' then jobs = math.max(jobs, n) end
    end
    if not read(add, 'bucket', 'GET', keys[K.bucket]) then return nil end
    for _, f in ipairs({'deadlines', 'parked'}) do
        if keys[K[f]] then
            local ok, n = read(add, f, 'ZCARD', keys[K[f]])
            if not ok then return nil end
            members = members + n
        end
    end
    return math.max(jobs, members)
end

local function is_int(v) return type(v) == 'number' and v == math.floor(v) and v == v end

local function in_range(v, lo, hi) return is_int(v) and v >= lo and v <= hi end

-- The decoded meta array, or nil and what is wrong with it.
local function decode_meta(raw)
    local ok, m = pcall(cmsgpack.unpack, raw)
    if not ok or type(m) ~= 'table' then return nil, 'is not msgpack' end
    for _, f in ipairs({'seq', 'priority', 'attempt', 'max_attempts', 'timeout', 'cost', 'token',
                        'reclaims', 'enqueued_at', 'at'}) do
        if not is_int(m[M[f]]) then return nil, f .. ' is not an integer' end
    end
    for _, f in ipairs({'unique', 'state', 'reason'}) do
        if type(m[M[f]]) ~= 'string' then return nil, f .. ' is not a string' end
    end
    if m[M.key] == nil then m[M.key] = '' end  -- written by version 7 or earlier
    return m
end

local function counter(stats, f, add)
    local v = stats[f]
    if v == nil then return 0 end
    local n = tonumber(v)
    if not n or not is_int(n) or n < 0 then
        add('counter', f, 'is not a non-negative integer: ' .. string.sub(v, 1, 32))
        return 0
    end
    return n
end

-- The class hash: every field known and within what sluice_class_set accepts.
local function check_class_hash(keys, add)
    local raw = redis.call('HGETALL', keys[K.class])
    for i = 1, #raw, 2 do
        local f, v = raw[i], raw[i + 1]
        if f == 'tier' then
            if not TIERS[v] then add('class', f, 'is not a tier') end
        elseif f == 'windows' or f == 'key_weights' then
            local ok, why = pcall(f == 'windows' and windows_arg or key_weights_arg, v)
            if not ok then
                why = type(why) == 'table' and why.err or tostring(why)  -- Redis turns the table into its text
                add('class', f, 'are not valid: ' .. string.gsub(why, '^%u+ ', ''))
            end
        elseif f == 'outside_window' then
            if not OUTSIDE_WINDOW[v] then add('class', f, 'is not one of ' .. OUTSIDE_WINDOW_TEXT) end
        elseif f == 'on_expiry' then
            if not ON_EXPIRY[v] then add('class', f, 'is not one of ' .. ON_EXPIRY_TEXT) end
        elseif CLASS_FIELDS[f] then
            local s, n = CLASS_FIELDS[f], tonumber(v)
            if not n or n ~= n or n < s[2] or n > s[3] or (s[1] == 'int' and n ~= math.floor(n)) then
                add('class', f, 'is out of range: ' .. string.sub(v, 1, 32))
            end
        else
            add('class', f, 'is not a class field')
        end
    end
    return #raw > 0
end

CHECK.GATE_NUMS = {paused_until = {0, CHECK.DURATION_MAX_MS}, pin = {0, 1},
                   pin_until = {0, CHECK.DURATION_MAX_MS}, epoch = {1, 9007199254740991}, fraction = {0, 1},
                   expires_at = {0, CHECK.GOVERN_TTL_MAX_MS}, decided_at = {0, 0},
                   shadow_fraction = {0, 1}}
CHECK.GATE_TIMES = {paused_until = true, pin_until = true, expires_at = true, decided_at = true}

-- The gate and the rate bucket: known fields, numbers that parse, times not
-- beyond the longest duration the Functions accept (0 means none).
local function check_gate(keys, now, add)
    local raw = redis.call('HGETALL', keys[K.gate])
    for i = 1, #raw, 2 do
        local f, v = raw[i], raw[i + 1]
        local r = CHECK.GATE_NUMS[f]
        if f == 'paused' then
            if v ~= '1' then add('gate', f, 'is not 1') end
        elseif f == 'reason' then
            if #v > 256 then add('gate', f, 'is longer than 256 bytes') end
        elseif not r then
            add('gate', f, 'is not a gate field')
        else
            local n = tonumber(v)
            local hi = CHECK.GATE_TIMES[f] and now + r[2] or r[2]
            if not n or n ~= n or n < r[1] or n > hi then
                add('gate', f, 'is out of range: ' .. string.sub(v, 1, 32))
            end
        end
    end
    local tat = redis.call('GET', keys[K.bucket])
    if tat then
        local n = tonumber(tat)
        if not n or n ~= n or n == math.huge or n < 0 then add('bucket', 'bucket', 'is not a time') end
    end
end

local function zset_table(key)
    local raw = redis.call('ZRANGE', key, 0, -1, 'WITHSCORES')
    local t = {}
    for i = 1, #raw, 2 do t[raw[i]] = tonumber(raw[i + 1]) end
    return t
end

-- A job's fields against its state: ranges, times and its place.
local function check_job(id, m, name, stats_seq, stats_token, now, sets, add)
    local digits = string.sub(id, #name + 2)
    if string.sub(id, 1, #name + 1) ~= name .. ':' or not string.match(digits, '^%d+$') then
        add('id', id, 'does not name this class')
    elseif tonumber(digits) > stats_seq then
        add('id', id, 'is beyond the class sequence')
    end
    local s = m[M.state]
    if not CHECK.STATES[s] then
        add('state', id, 'is not a job state')
        return
    end
    if not in_range(m[M.seq], 0, SEQ_SPAN - 1) then add('field', id, 'seq is not a tag') end
    if type(m[M.key]) ~= 'string' or m[M.key] ~= '' and not valid_key(m[M.key]) then
        add('field', id, 'key is not a fairness key')
    end
    if m[M.token] < 0 or m[M.token] > stats_token then add('field', id, 'token was never issued') end
    if not in_range(m[M.priority], -PRIORITY_MAX, PRIORITY_MAX) then add('field', id, 'priority out of range') end
    if not in_range(m[M.max_attempts], 1, 1000) then add('field', id, 'max_attempts out of range') end
    if not in_range(m[M.attempt], 0, m[M.max_attempts]) then add('field', id, 'attempt out of range') end
    if not in_range(m[M.timeout], 1, CHECK.LEASE_MAX_MS) then add('field', id, 'timeout out of range') end
    if not in_range(m[M.cost], 1, COST_MAX) then add('field', id, 'cost out of range') end
    if m[M.reclaims] < 0 then add('field', id, 'reclaims is negative') end
    if #m[M.unique] > UNIQUE_MAX then add('field', id, 'unique key too long') end
    if m[M.enqueued_at] <= 0 or m[M.enqueued_at] > now then add('time', id, 'enqueued_at is not in the past') end

    local n, set = 0, nil
    for _, k in ipairs(CHECK.JOB_SETS) do
        if sets[k][id] then
            n = n + 1
            set = set and (set .. ' and ' .. k) or k
        end
    end
    if n ~= 1 then
        add('membership', id, 'is in ' .. (set or 'no set'))
    elseif set ~= s then
        add('membership', id, 'is in ' .. set .. ' but its state is ' .. s)
    end

    local at, score = m[M.at], s ~= 'done' and sets[s][id] or nil
    if s == 'ready' then
        if at ~= 0 then add('time', id, 'a ready job has a time') end
        if score and score ~= ready_score(m) then add('score', id, 'ready score is not its priority and seq') end
    elseif s == 'delayed' then
        if at <= 0 or at > RUN_AT_MAX then add('time', id, 'due time is absurd') end
    elseif s == 'leased' then
        if at <= 0 or at > now + CHECK.LEASE_MAX_MS then add('time', id, 'lease deadline is absurd') end
        if m[M.attempt] < 1 then add('field', id, 'a leased job has no attempt') end
        if m[M.token] < 1 then add('field', id, 'a leased job has no token') end
    elseif at <= 0 or at > now then
        add('time', id, 'end time is not in the past')
    end
    if (s == 'ready' or s == 'delayed') and m[M.attempt] >= m[M.max_attempts] then
        add('field', id, 'a waiting job has no attempt left')
    end
    if score and s ~= 'ready' and score ~= at then add('score', id, s .. ' score is not its time') end
end

-- sluice_check: KEYS the class keys. ARGV class, max_jobs (1..: refuse a
-- class whose sets and hashes hold more entries than that).
-- Reply: {'checked', jobs, declared (1 or 0), then the problems as code,
-- subject, detail}, or {'toobig', jobs} (nothing read).
-- Errors: BADNAME, BADARG.
register('sluice_check', function(keys, args)
    local name = class_arg(keys, args)
    local max = int_arg(args[2], 'max_jobs', 1, 9007199254740991)
    local list, add = problems()
    local size = class_jobs(keys, add)
    if not size then return answer({'checked', 0, redis.call('EXISTS', keys[K.class])}, list) end
    if size > max then return {'toobig', size} end
    if (tonumber(redis.call('HGET', keys[K.class], 'max_concurrency_per_key')) or 0) > 0 then
        Cap.parked_key(keys, 'a check')
    end
    local now = now_ms()
    local declared = check_class_hash(keys, add)
    check_gate(keys, now, add)

    local stats = hgetall_table(keys[K.stats])
    local seq, token = counter(stats, 'seq', add), counter(stats, 'token', add)
    local sets = {ready = zset_table(keys[K.ready]), delayed = zset_table(keys[K.delayed]),
                  leased = zset_table(keys[K.leased]), dead = zset_table(keys[K.dead]), done = {}}
    for _, id in ipairs(redis.call('LRANGE', keys[K.done], 0, -1)) do
        if sets.done[id] then add('duplicate', id, 'is in done twice') end
        sets.done[id] = true
    end
    -- a parked job (fair.lua) is a ready job out of the ready set: its
    -- member names its key and its ready score
    local parked_as = {}
    for _, member in ipairs(keys[K.parked] and redis.call('ZRANGE', keys[K.parked], 0, -1) or {}) do
        local key, score, id = Cap.parse(member)
        if not key or not score or not valid_id(name, id) then
            add('parked', string.sub(member, 1, 96), 'is not a parked job of this class')
        elseif sets.ready[id] or parked_as[id] then
            add('parked', id, 'is parked and ready, or parked twice')
        else
            sets.ready[id], parked_as[id] = score, key
        end
    end

    -- every job is one record in the jobs hash, with a lease entry there
    -- while leased (or its lease in the record), or, written by an earlier
    -- version, its payload there and its fields in the meta hash
    local metas, injobs, njobs = {}, {}, 0
    local legacy = hgetall_table(keys[K.meta])
    local order, records, leases = {}, {}, {}
    local raw = redis.call('HGETALL', keys[K.jobs])
    for i = 1, #raw, 2 do
        local f = raw[i]
        if string.sub(f, -#LEASE_SUFFIX) == LEASE_SUFFIX then
            leases[string.sub(f, 1, -#LEASE_SUFFIX - 1)] = raw[i + 1]
        else
            order[#order + 1], records[f] = f, raw[i + 1]
        end
    end
    for _, id in ipairs(order) do
        local v, e, m, why = records[id], leases[id], nil, nil
        njobs = njobs + 1
        injobs[id] = true
        if string.byte(v, 1) == RECORD_BYTE then
            m, why = decode_meta(v)
            if m and type(m[M.payload]) ~= 'string' then m, why = nil, 'payload is not a string' end
            if legacy[id] then add('meta', id, 'has a record and the meta of an earlier version') end
            if m and e and not pcall(lease_onto, m, e) then
                m, why = nil, 'lease entry is malformed'
            end
        elseif legacy[id] then
            m, why = decode_meta(legacy[id])
            if e then add('lease', id, 'a job of an earlier version has a lease entry') end
        else
            add('payload', id, 'has a payload but no meta')
        end
        legacy[id], leases[id] = nil, nil
        if m then
            metas[id] = m
            check_job(id, m, name, seq, token, now, sets, add)
        elseif why then
            add('meta', id, why)
        end
    end
    if njobs > 0 and not declared then add('noclass', name, 'holds jobs but is not declared') end
    for id in pairs(leases) do add('lease', id, 'has a lease entry but no job record') end
    for id in pairs(legacy) do add('payload', id, 'has meta but no payload') end
    for set, members in pairs(sets) do
        for id in pairs(members) do
            if not injobs[id] then add('orphan', id, 'is in ' .. set .. ' but has no job record') end
        end
    end

    -- deadlines (deadline.lua): each entry names a job id of the class with
    -- a start_by in range; an entry whose job is not waiting is allowed
    local deadlines = keys[K.deadlines] and zset_table(keys[K.deadlines]) or {}
    for id, score in pairs(deadlines) do
        if not valid_id(name, id) then
            add('deadline', string.sub(id, 1, 96), 'is not a job id of this class')
        elseif not in_range(score, 0, RUN_AT_MAX) then
            add('deadline', id, 'start_by is out of range')
        end
    end

    -- unique keys: each names a live job that holds it, and each live job
    -- with a unique key holds it
    local uniq = hgetall_table(keys[K.unique])
    for u, id in pairs(uniq) do
        local m = metas[id]
        if not m then add('unique', id, 'a unique key names a job that does not exist')
        elseif m[M.state] ~= 'ready' and m[M.state] ~= 'delayed' and m[M.state] ~= 'leased' then
            add('unique', id, 'a unique key names a ' .. m[M.state] .. ' job')
        elseif m[M.unique] ~= u then add('unique', id, 'a unique key names a job with another key') end
    end
    for id, m in pairs(metas) do
        local s = m[M.state]
        if m[M.unique] ~= '' and (s == 'ready' or s == 'delayed' or s == 'leased') and uniq[m[M.unique]] ~= id then
            add('unique', id, 'a live job does not hold its unique key')
        end
    end

    -- the counters: every job enqueued is live, dead, or left by an ack, a
    -- cancel, a purge or the dead set's cap; every claim ended or is leased
    local n = {}
    for _, f in ipairs(STAT_FIELDS) do n[f] = counter(stats, f, add) end
    local live = 0
    for _, set in ipairs({'ready', 'delayed', 'leased', 'dead', 'parked'}) do
        if keys[K[set]] then live = live + redis.call('ZCARD', keys[K[set]]) end
    end
    local out = n.acked + n.cancelled + n.purged + n.dead_dropped
    if n.enqueued - out ~= live then
        add('counters', 'stats', string.format('enqueued %d - acked %d - cancelled %d - purged %d - ' ..
            'dead_dropped %d = %d, but ready (and parked) + delayed + leased + dead = %d', n.enqueued, n.acked,
            n.cancelled, n.purged, n.dead_dropped, n.enqueued - out, live))
    end
    -- each key's waiting count (fair.lua) is its ready and delayed jobs,
    -- and its running count its leases counted in it
    local waiting, running = {}, {}
    for id, m in pairs(metas) do
        local key, s = m[M.key], m[M.state]
        if key ~= '' and (s == 'ready' or s == 'delayed') then waiting[key] = (waiting[key] or 0) + 1 end
        if parked_as[id] and parked_as[id] ~= key then add('parked', id, 'is parked under another key') end
        if m.running then
            if m.running ~= key then add('fair', id, 'a lease is counted in another key') end
            running[m.running] = (running[m.running] or 0) + 1
        end
    end
    for f, v in pairs(stats) do
        local key = string.match(f, '^n:(.+)$')
        if key then
            if tonumber(v) ~= waiting[key] then add('fair', key, 'waiting count is not its ready and delayed jobs') end
            waiting[key] = nil
        end
        key = string.match(f, '^r:(.+)$')
        if key then
            if tonumber(v) ~= running[key] then add('fair', key, 'running count is not its counted leases') end
            running[key] = nil
        end
    end
    for key in pairs(waiting) do add('fair', key, 'has waiting jobs but no waiting count') end
    for key in pairs(running) do add('fair', key, 'has counted leases but no running count') end

    local ended = n.acked + n.failed + n.released + n.reclaimed
    local leased = redis.call('ZCARD', keys[K.leased])
    if n.claimed - ended ~= leased then
        add('counters', 'stats', string.format('claimed %d - acked %d - failed %d - released %d - ' ..
            'reclaimed %d = %d, but leased = %d', n.claimed, n.acked, n.failed, n.released,
            n.reclaimed, n.claimed - ended, leased))
    end

    return answer({'checked', njobs, declared and 1 or 0}, list)
end, READONLY)


-- sluice_check_global: KEYS the registry, signal definitions, signal values
-- and governor hash. Reply: {'checked', classes, then the problems}.
-- Errors: BADARG.
register('sluice_check_global', function(keys, args)
    global_keys(keys, CHECK_KEYS)
    local list, add = problems()
    local now = now_ms()
    for i, f in ipairs({'registry', 'signals', 'signal values', 'governor'}) do
        if not read(add, f, i == 1 and 'SMEMBERS' or 'HLEN', keys[i]) then return answer({'checked', 0}, list) end
    end
    local classes = redis.call('SMEMBERS', keys[1])
    for _, c in ipairs(classes) do
        if not valid_name(c) then add('registry', string.sub(c, 1, 64), 'is not a class name') end
    end

    local defs = hgetall_table(keys[2])
    for name, raw in pairs(defs) do
        local ok, d = pcall(cjson.decode, raw)
        if not valid_name(name) then add('signal', string.sub(name, 1, 64), 'is not a signal name') end
        if not ok or type(d) ~= 'table' then
            add('signal', name, 'definition is not JSON')
        elseif type(d.target) ~= 'number' or type(d.critical) ~= 'number' or not DIRECTIONS[d.direction] or
               not ON_STALE[d.on_stale] or not in_range(d.stale_after_ms, 1, 86400000) or
               (d.period_ms ~= nil and not in_range(d.period_ms, 0, 86400000)) then
            add('signal', name, 'definition has a missing or invalid field')
        elseif (d.direction == 'higher') ~= (d.critical > d.target) or d.critical == d.target then
            add('signal', name, 'critical is not on the worse side of target')
        end
    end
    for name, v in pairs(hgetall_table(keys[3])) do
        local val, at = string.match(v, '^(%S+) (%S+)$')
        val, at = tonumber(val), tonumber(at)
        if not defs[name] then add('signal', string.sub(name, 1, 64), 'has a value but no definition') end
        if not val or val ~= val or math.abs(val) > SIGNAL_RANGE then
            add('signal', string.sub(name, 1, 64), 'value is not a finite number')
        end
        if not at or not is_int(at) or at <= 0 or at > now then
            add('signal', string.sub(name, 1, 64), 'observed time is not in the past')
        end
    end

    local g = hgetall_table(keys[4])
    if g.mode and not MODES[g.mode] then add('governor', 'mode', 'is not a governor mode') end
    for _, f in ipairs({'epoch', 'ticks', 'last_tick', 'lease_until'}) do
        if g[f] and not in_range(tonumber(g[f]), 0, 9007199254740991) then
            add('governor', f, 'is not a non-negative integer')
        end
    end
    if tonumber(g.lease_until) and tonumber(g.lease_until) > now + 600000 then
        add('governor', 'lease_until', 'is beyond the longest lease')
    end
    if tonumber(g.last_tick) and tonumber(g.last_tick) > now then
        add('governor', 'last_tick', 'is in the future')
    end
    if g.leader and (#g.leader == 0 or #g.leader > 128) then add('governor', 'leader', 'is not 1..128 bytes') end
    if g.leader and not g.epoch then add('governor', 'epoch', 'a leader without an epoch') end

    return answer({'checked', #classes}, list)
end, READONLY)

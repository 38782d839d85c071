-- needs: tables
-- sluice Redis Functions: shared helpers. The library is the generated
-- tables (queue/lua/tables.c) and the files of queue/lua/, each after the
-- files its "-- needs:" line names (scripts/lua-library.sh); the build
-- fails on a free global.
--
-- Conventions for every class Function:
--   KEYS = the fifteen class keys NS:{class}:<suffix>, exactly, in the
--          order of K below (see include/sluice/client.h); every key is
--          checked before anything is read or written. A caller of
--          library version 9 sends the first fourteen, without the parked
--          key: such a call does no parking work, and is refused where a
--          class's per-key cap needs it (fair.lua). A caller of version 8
--          or older sends the first thirteen, without the deadlines key
--          either: such a call does no deadline work (deadline.lua).
--   ARGV[1] = the class name; the rest is per Function.
-- Refusals before changes: Redis keeps the writes a script made before an
-- error, so each Function's FIRST write is the one the fewest roles of
-- scripts/acl/sluice.acl may do (the audit stream for operator actions, the
-- leased set for a worker's, DEL for a class delete): a role refused any of
-- the Function's writes is refused that one, and nothing has changed.
-- Errors are a short code word and a fixed sentence; user data never goes
-- into an error reply. The C side maps the code word to sluice_error_code.

local VERSION = 10  -- bump on any change of a Function's contract

-- A job is one record, a msgpack array of the fields below, in the jobs
-- hash under its id. started: when the current lease began; duty: the
-- class's share of one job it ran under (0 when it had a whole slot; see
-- sluice_claim); payload: the JSON object as enqueued; key: its fairness
-- key ('' for none). seq is the job's place among the ready jobs of its
-- priority, its tag (fair.lua): kept when a lease ends back in the ready set.
-- A leased job also has a lease entry in the jobs hash, under its id and
-- LEASE_SUFFIX (see pack_lease): its lease's fields, which override the
-- record's. A claim writes only that entry and an ack reads only it; the
-- record is rewritten only when the lease ends another way. Library
-- version 6 kept the lease in the record (state 'leased', no entry): such
-- a job is read as leased. A lease entry of a keyed job claimed while its
-- class had a per-key cap also holds the key (KEYED_LEASE): that lease
-- counts in its key's running count (fair.lua) until it ends, and the job
-- table read from it has .running, the key. Version 7 wrote records of 16 fields, without
-- the key: such a record is read with key ''. Versions 5 and earlier kept the payload alone in
-- the jobs hash and fields 1..15 in the meta hash: such a job is read from
-- both, and written as one record when it next changes.
local M = {seq = 1, priority = 2, attempt = 3, max_attempts = 4, timeout = 5,
           cost = 6, token = 7, reclaims = 8, unique = 9, enqueued_at = 10,
           state = 11, reason = 12, at = 13, started = 14, duty = 15, payload = 16, key = 17}
local RECORD_BYTE = 0xdc            -- msgpack array16: a record; a payload starts with '{' or a space
local RECORD_HEAD = '\220\0\17'     -- a record's first bytes: msgpack array16 of 17 elements
local LEASE_SUFFIX = ':lease'       -- a lease entry's field: the job's id and this
local LEASE_BYTE = 0x4c             -- 'L', a lease entry's first byte: this form of entry
local LEASE_FORMAT = '<BlHlld'      -- LEASE_BYTE, token, attempt, at, started, duty; then the unique key
-- a lease counted in its key's running count: 'K', the fields above, the
-- key's length; then the key, then the unique key
local KEYED_LEASE = {byte = 0x4b, format = '<BlHlldB'}

local SEQ_SPAN = 1099511627776      -- 2^40: ready score = rank(priority) * 2^40 + seq
local REASON_MAX = 1024
local AUDIT_MAX = 1000

local function fail(code, text)
    return error({err = code .. ' ' .. text})
end

-- The JSON text of a class field, decoded: at most "max" bytes, opening with
-- "lead" (a Lua pattern after optional space), else a BADARG "problem".
local function json_field(text, max, lead, problem)
    if type(text) ~= 'string' or #text > max or not string.find(text, '^%s*' .. lead) then fail('BADARG', problem) end
    local ok, v = pcall(cjson.decode, text)
    if not ok or type(v) ~= 'table' then fail('BADARG', problem) end
    return v
end

local function now_ms()
    local t = redis.call('TIME')
    return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000), tonumber(t[2])
end

-- The decimal integer s if it is within [lo, hi] (at most 16 characters),
-- else nil and why, as the end of a sentence naming the argument.
local function int_in(s, lo, hi)
    local n = 0
    if s ~= '0' then  -- the common default: a comparison of interned strings
        if type(s) ~= 'string' or not string.match(s, '^%-?%d+$') or #s > 16 then
            return nil, ' is not an integer'
        end
        n = tonumber(s)
    end
    if n < lo or n > hi then return nil, ' is out of range' end
    return n
end

-- The integer argument s within [lo, hi], or an error naming it.
local function int_arg(s, name, lo, hi)
    local n, why = int_in(s, lo, hi)
    if not n then fail('BADARG', name .. why) end
    return n
end

-- A finite decimal number within [lo, hi].
local function num_arg(s, name, lo, hi)
    if type(s) ~= 'string' or #s > 32 or
       not string.match(s, '^%-?%d+%.?%d*$') and not string.match(s, '^%-?%d*%.%d+$') and
       not string.match(s, '^%-?%d+%.?%d*[eE][%-+]?%d+$') then
        fail('BADARG', name .. ' is not a finite number')
    end
    local n = tonumber(s)
    if n == nil or n ~= n or n == math.huge or n == -math.huge or n < lo or n > hi then
        fail('BADARG', name .. ' is out of range')
    end
    return n
end

local function valid_name(s)
    return type(s) == 'string' and #s <= 64 and string.match(s, '^[a-z0-9][a-z0-9_.%-]*$') ~= nil
end

-- A namespace: 1..64 of [A-Za-z0-9_.:-] (as the C library's ns_check).
local function valid_ns(s)
    return type(s) == 'string' and #s >= 1 and #s <= 64 and string.match(s, '^[%w_.:%-]+$') ~= nil
end

-- The names a Function's keys must have, by suffix list, tag and first
-- key (which, with the other two, fixes the namespace): built when a call
-- first passes the check, so later calls compare interned strings instead
-- of building every name again. Dropped whole at KEYS_MEMO_MAX entries.
local keys_memo, keys_memo_n = {}, 0
local KEYS_MEMO_MAX = 4096

-- The expected keys for tag and suffixes whose namespace is taken from
-- "first", with .ns; fails when that namespace is invalid.
local function expected_keys(first, tag, suffixes)
    local tail = ':{' .. tag .. '}:'
    local ns = type(first) == 'string' and string.sub(first, 1, #first - #tail - #suffixes[1]) or nil
    if not valid_ns(ns) then fail('BADARG', 'keys are not in a valid namespace') end
    local want = {ns = ns}
    for i = 1, #suffixes do want[i] = ns .. tail .. suffixes[i] end
    return want
end

-- Checks that keys are exactly NS:{tag}:<suffixes[i]> for one namespace NS
-- (taken from the first key), in order. Returns NS.
local function keys_of(keys, tag, suffixes)
    if #keys ~= #suffixes then fail('BADARG', 'wrong number of keys') end
    local first = keys[1]
    local by_tag = keys_memo[suffixes]
    local by_first = by_tag and by_tag[tag]
    local want = by_first and by_first[first]
    local known = want ~= nil
    if not known then want = expected_keys(first, tag, suffixes) end
    for i = 1, #suffixes do
        if keys[i] ~= want[i] then fail('BADARG', 'keys are not the expected keys, in order') end
    end
    if not known then
        if keys_memo_n >= KEYS_MEMO_MAX then keys_memo, keys_memo_n = {}, 0 end
        keys_memo[suffixes] = keys_memo[suffixes] or {}
        keys_memo[suffixes][tag] = keys_memo[suffixes][tag] or {}
        keys_memo[suffixes][tag][first] = want
        keys_memo_n = keys_memo_n + 1
    end
    return want.ns
end

-- The class keys a caller of library version 9 sends, all but the last
-- (the parked key), and those of version 8 or older, without the
-- deadlines key either.
local SUFFIX_V9, SUFFIX_V8 = {}, {}
for i = 1, NKEYS - 1 do SUFFIX_V9[i] = SUFFIX[i] end
for i = 1, NKEYS - 2 do SUFFIX_V8[i] = SUFFIX[i] end

-- Checks ARGV[1] and that KEYS are this class's keys (or those of
-- SUFFIX_V9 or SUFFIX_V8), exactly and in order; returns the class name.
local function class_arg(keys, args)
    local name = args[1]
    if not valid_name(name) then fail('BADNAME', 'invalid class name') end
    keys_of(keys, name, #keys == NKEYS - 1 and SUFFIX_V9 or #keys == NKEYS - 2 and SUFFIX_V8 or SUFFIX)
    return name
end

-- The global keys of a Function (the tag "_", which no class can take).
local function global_keys(keys, suffixes)
    keys_of(keys, '_', suffixes)
end

-- A hash as a table of field -> value.
local function hgetall_table(key)
    local raw = redis.call('HGETALL', key)
    local t = {}
    for i = 1, #raw, 2 do t[raw[i]] = raw[i + 1] end
    return t
end

-- The class's configuration fields "names" (a list, CLASS_ORDER when nil)
-- as a table of numbers with the defaults for fields never set, and its
-- tier, or an error when the class was never declared. One HMGET of just
-- the fields the caller reads: in a Function each value read costs about
-- as much as a write, so the per-job Functions name theirs.
local function load_class(keys, names)
    names = names or CLASS_ORDER
    local raw = redis.call('HMGET', keys[K.class], 'tier', unpack(names))
    if not raw[1] then fail('NOCLASS', 'class is not declared') end
    local c = {tier = raw[1]}
    for i, f in ipairs(names) do
        -- a text field (key_weights) has no default here: its text or nil
        if f ~= 'tier' then c[f] = tonumber(raw[i + 1]) or CLASS_DEFAULTS[f] or raw[i + 1] end
    end
    return c
end

-- For load_class: only whether the class is declared.
local NO_FIELDS = {}

local function job_id(name, seq)
    return string.format('%s:%d', name, seq)
end

-- The integer n as a decimal string, as redis.call would send it, at half
-- the cost for a large one (Redis 7.0 formats a Lua number with %.17g).
local function int_text(n)
    return string.format('%d', n)
end

-- Whether id names a job of class "name": "<class>:<digits>".
local function valid_id(name, id)
    return type(id) == 'string' and #id <= 96 and string.match(id, '^([^:]*):%d+$') == name
end

local function id_arg(name, id)
    if not valid_id(name, id) then fail('BADARG', 'job id does not name this class') end
    return id
end

-- The lease entry of the leased job m, counted in the running count of
-- the key m.running when that is set.
local function pack_lease(m)
    local key = m.running
    if key then
        return struct.pack(KEYED_LEASE.format, KEYED_LEASE.byte, m[M.token], m[M.attempt], m[M.at], m[M.started],
                           m[M.duty], #key) .. key .. m[M.unique]
    end
    return struct.pack(LEASE_FORMAT, LEASE_BYTE, m[M.token], m[M.attempt], m[M.at], m[M.started], m[M.duty]) ..
           m[M.unique]
end

-- The lease entry e's fields: token, attempt, at, started, duty, unique,
-- and the key it is counted in (nil: none). Fails on a malformed entry.
local function lease_fields(e)
    local b = string.byte(e, 1)
    if b == KEYED_LEASE.byte then
        local _, token, attempt, at, started, duty, len, tail = struct.unpack(KEYED_LEASE.format, e)
        if len < 1 or tail + len - 1 > #e then error('lease entry is malformed') end
        return token, attempt, at, started, duty, string.sub(e, tail + len), string.sub(e, tail, tail + len - 1)
    end
    if b ~= LEASE_BYTE then error('lease entry is malformed') end
    local _, token, attempt, at, started, duty, tail = struct.unpack(LEASE_FORMAT, e)
    return token, attempt, at, started, duty, tail > #e and '' or string.sub(e, tail), nil
end

-- The record m with the lease entry e's fields written onto it, which then
-- reads as leased.
local function lease_onto(m, e)
    m[M.token], m[M.attempt], m[M.at], m[M.started], m[M.duty], m[M.unique], m.running = lease_fields(e)
    m[M.state] = 'leased'
    m.lease = true
    return m
end

-- The lease entry e's fields alone, at their places in M (a constructor in
-- the order of M is one allocation; the rest are placeholders), and .running.
local function lease_only(e)
    local token, attempt, at, started, duty, unique, running = lease_fields(e)
    return {0, 0, attempt, 0, 0, 0, token, 0, unique, 0, 'leased', '', at, started, duty, running = running}
end

-- The record "raw" as a table of the fields of M: its elements decoded
-- after its header as values and then gathered, which costs half of what
-- cmsgpack.unpack's own table does. A record of version 7 gets key ''.
local function unpack_record(raw)
    local _, f1, f2, f3, f4, f5, f6, f7, f8, f9, f10, f11, f12, f13, f14, f15, f16, f17 =
        cmsgpack.unpack_limit(raw, 17, #RECORD_HEAD)
    if f17 == nil then f17 = '' end
    return {f1, f2, f3, f4, f5, f6, f7, f8, f9, f10, f11, f12, f13, f14, f15, f16, f17}
end

-- The job "id" as a table of the fields of M, from "raw" and "lease", its
-- record and its lease entry in the jobs hash (nil: none); nil when there
-- is no job. A job of an earlier version (see M) comes back with m.legacy
-- set, and a leased one with m.lease; save_job and forget clear both.
local function job_from(keys, id, raw, lease)
    if not raw then return nil end
    if string.byte(raw, 1) == RECORD_BYTE then
        local m = unpack_record(raw)
        if lease then lease_onto(m, lease) end
        return m
    end
    local old = redis.call('HGET', keys[K.meta], id)
    if not old then return nil end
    local m = cmsgpack.unpack(old)
    m[M.started], m[M.duty], m[M.payload], m[M.key] = m[M.started] or 0, m[M.duty] or 0, raw, ''
    m.legacy = true
    return m
end

local function load_job(keys, id)
    local raw = redis.call('HGET', keys[K.jobs], id)
    return raw and job_from(keys, id, raw, redis.call('HGET', keys[K.jobs], id .. LEASE_SUFFIX))
end

-- The record as save_job writes it. A lease entry, or the meta field of a
-- job of an earlier version, is deleted (a lease's running count must have
-- been moved first: see fair.lua's Cap.ended).
local function packed_job(keys, id, m)
    if m.lease then redis.call('HDEL', keys[K.jobs], id .. LEASE_SUFFIX) end
    if m.legacy then redis.call('HDEL', keys[K.meta], id) end
    m.legacy, m.lease, m.running = nil, nil, nil
    return cmsgpack.pack(m)
end

local function save_job(keys, id, m)
    redis.call('HSET', keys[K.jobs], id, packed_job(keys, id, m))
end

-- Writes the lease of the leased job m as its lease entry; a job of an
-- earlier version is first written as one record.
local function save_lease(keys, id, m)
    if m.legacy then save_job(keys, id, m) end  -- of a version before keys: never counted
    m.lease = true
    redis.call('HSET', keys[K.jobs], id .. LEASE_SUFFIX, pack_lease(m))
end

-- A ready job's place: by priority, then by seq (its tag).
local function score_of(priority, seq)
    return (PRIORITY_MAX - priority) * SEQ_SPAN + seq
end

local function ready_score(m)
    return score_of(m[M.priority], m[M.seq])
end

-- A new job's record, in pieces, for a batch of jobs that mostly share
-- their options: new_record(seq, fields, payload, key) is the same bytes as
-- cmsgpack.pack of the job's table (an array16 of the fields of M, each
-- packed alone), where fields, from new_fields, is fields 2..15 packed once
-- for every job that shares them.
local function new_fields(priority, max_attempts, timeout, cost, unique, now, state, at)
    return cmsgpack.pack(priority, 0, max_attempts, timeout, cost, 0, 0, unique, now, state, '', at, 0, 0)
end

local function new_record(seq, fields, payload, key)
    return RECORD_HEAD .. cmsgpack.pack(seq) .. fields .. cmsgpack.pack(payload, key)
end

-- Reserves n fencing tokens and returns the first: past the last one issued
-- and never below the Redis clock in microseconds, so tokens rise for ever,
-- across a class's deletion (its counters survive it) and across a restart
-- from an older snapshot (the clock does not run back). "tag" (may be nil):
-- the largest tag of the jobs the tokens lease, which the class's virtual
-- time (fair.lua) moves up to in the same write.
local function next_tokens(keys, n, tag)
    local t = redis.call('TIME')
    local clock = tonumber(t[1]) * 1000000 + tonumber(t[2])
    local r = redis.call('HMGET', keys[K.stats], 'token', 'vtime', 'seq')
    local last = tonumber(r[1]) or 0
    local first = math.max(last + 1, clock)
    local v = tonumber(r[2]) or tonumber(r[3]) or 0
    if tag and tag > v then
        redis.call('HSET', keys[K.stats], 'token', int_text(first + n - 1), 'vtime', int_text(tag))
    else
        redis.call('HSET', keys[K.stats], 'token', int_text(first + n - 1))
    end
    return first
end

local function count(keys, field, n)
    if n ~= 0 then redis.call('HINCRBY', keys[K.stats], field, n) end
end

local function release_unique(keys, id, m)
    local u = m[M.unique]
    if u ~= '' and redis.call('HGET', keys[K.unique], u) == id then
        redis.call('HDEL', keys[K.unique], u)
    end
end

-- Deletes the job "id"; m is its record if loaded (nil: it may be of an
-- earlier version).
local function forget(keys, id, m)
    redis.call('HDEL', keys[K.jobs], id, id .. LEASE_SUFFIX)
    if not m or m.legacy then redis.call('HDEL', keys[K.meta], id) end
end

local function make_ready(keys, id, m)
    m[M.state] = 'ready'
    m[M.at] = 0
    save_job(keys, id, m)
    redis.call('ZADD', keys[K.ready], ready_score(m), id)
end

-- Moves a job (already removed from its previous set) to the dead set, which
-- keeps at most dead_max jobs, none dead longer than dead_ttl_ms (when set;
-- at most AGED_MAX of those go per death, the oldest first); cfg has both.
local AGED_MAX = 100
local function make_dead(keys, id, m, reason, now, cfg)
    m[M.state] = 'dead'
    m[M.reason] = string.sub(reason, 1, REASON_MAX)
    m[M.at] = now
    save_job(keys, id, m)
    release_unique(keys, id, m)
    redis.call('ZADD', keys[K.dead], now, id)
    count(keys, 'dead', 1)
    local over = redis.call('ZCARD', keys[K.dead]) - cfg.dead_max
    if cfg.dead_ttl_ms > 0 then
        local aged = redis.call('ZCOUNT', keys[K.dead], '-inf', '(' .. (now - cfg.dead_ttl_ms))
        over = math.max(over, math.min(aged, AGED_MAX))
    end
    if over > 0 then
        local gone = redis.call('ZPOPMIN', keys[K.dead], over)
        for i = 1, #gone, 2 do forget(keys, gone[i]) end
        count(keys, 'dead_dropped', #gone / 2)
    end
end

-- A lease that ran under a share of one job below 1 ends at "ended": its
-- span becomes the class's last duty span (stats fields duty_started and
-- duty_ended), unless a later one ended first.
local function end_duty(keys, m, ended)
    local share = m[M.duty]
    if not share or share <= 0 or not m[M.started] then return end
    if ended >= (tonumber(redis.call('HGET', keys[K.stats], 'duty_ended')) or 0) then
        redis.call('HSET', keys[K.stats], 'duty_started', m[M.started], 'duty_ended', ended)
    end
end

-- ms until a class admitted at "share" of one job (below 1) may start its
-- next job: its jobs occupy only that share of the time, measured from when
-- the last duty span began. The share is the one the class has now, so a
-- cut lengthens a rest under way and a raise shortens it.
local function duty_rest(keys, share, now)
    local span = redis.call('HMGET', keys[K.stats], 'duty_started', 'duty_ended')
    local started, ended = tonumber(span[1]), tonumber(span[2])
    if not started or not ended then return 0 end
    return started + (ended - started) / share - now
end

-- Appends to the class's capped audit stream, atomically with the change,
-- once it is certain to happen; called before the change's writes (see the
-- top of this file).
local function audit_to(key, actor, what, detail)
    redis.call('XADD', key, 'MAXLEN', '~', AUDIT_MAX, '*', 'actor', string.sub(actor or '', 1, 128),
               'what', what, 'detail', detail or '')
end

local function audit(keys, actor, what, detail)
    audit_to(keys[K.audit], actor, what, detail)
end

-- The shortest decimal that reads back as the same number.
local function fmt_num(n)
    if n == math.floor(n) and math.abs(n) < 1e15 then return string.format('%d', n) end
    local s = string.format('%.15g', n)
    if tonumber(s) ~= n then s = string.format('%.17g', n) end
    return s
end

-- Flags: READONLY for reads; GROWS for the one Function that adds jobs.
-- Everything else may run when Redis is at maxmemory (allow-oom), so that
-- when memory is full producers are refused while workers keep draining
-- and operators and the governor keep working.
local READONLY = {'no-writes'}
local GROWS = {}

local function register(name, fn, flags)
    redis.register_function{function_name = name, callback = fn, flags = flags or {'allow-oom'}}
end

register('sluice_version', function(keys, args) return VERSION end, READONLY)

-- needs: common
-- Fair shares by key inside a class: start-time fair queueing in the ready
-- set's order. A job's seq is its tag, its place among the ready jobs of its
-- priority. A job that becomes ready as new (enqueued, promoted, retried
-- from the dead set) gets tag max(V + 1, F[key]), and F[key] moves one step
-- past it: step = L / weight(key), L the least common multiple of the
-- class's key weights (1 without key_weights), weight 1 for a key not in
-- them. V is the class's virtual time, the largest tag claimed (stats field
-- vtime; absent, the class's sequence: the tags of version 7 were the
-- sequence). A job whose lease ends back in the ready set keeps its tag.
-- Keyless jobs are the key '' (F in stats field 'f:'): a class without keys
-- orders its jobs by priority, then FIFO, as before.
-- A key other than '' with waiting (ready or delayed) jobs counts them in
-- stats field 'n:' .. key and keeps F in 'f:' .. key; when its count falls
-- to 0 both go, so the hash holds only keys that wait. A key that returns
-- then starts at V + 1, at most one step before where F would have put it.

-- The limits (KEY_MAX, KEY_WEIGHTS_MAX, KEY_WEIGHT_MAX, KEY_WEIGHT_LCM_MAX,
-- KEY_WEIGHTS_TEXT_MAX) come from include/sluice/fair.h.

-- Whether s is a fairness key: 1..KEY_MAX bytes, no control byte.
local function valid_key(s)
    return type(s) == 'string' and #s >= 1 and #s <= KEY_MAX and not string.find(s, '[%z\1-\31\127]')
end

local function gcd(a, b)
    while b ~= 0 do a, b = b, a % b end
    return a
end

-- The key_weights text (a JSON object of key -> weight) checked whole: its
-- keys are fairness keys, at most KEY_WEIGHTS_MAX, its weights whole numbers
-- 1..KEY_WEIGHT_MAX whose least common multiple is at most
-- KEY_WEIGHT_LCM_MAX. Returns the weights as a table and L, or fails.
local function key_weights_arg(text)
    local w = json_field(text, KEY_WEIGHTS_TEXT_MAX, '{', 'key_weights is not a JSON object')
    local n, l = 0, 1
    for k, x in pairs(w) do
        if not valid_key(k) then fail('BADARG', 'key_weights has an invalid key') end
        if type(x) ~= 'number' or x ~= math.floor(x) or x < 1 or x > KEY_WEIGHT_MAX then
            fail('BADARG', 'key_weights has a weight that is not a whole number 1..' .. KEY_WEIGHT_MAX)
        end
        n = n + 1
        if n > KEY_WEIGHTS_MAX then fail('BADARG', 'key_weights has more than ' .. KEY_WEIGHTS_MAX .. ' keys') end
        l = l / gcd(l, x) * x
        if l > KEY_WEIGHT_LCM_MAX then
            fail('BADARG', 'key_weights need a common multiple of at most ' .. KEY_WEIGHT_LCM_MAX)
        end
    end
    return w, l
end

-- The steps of a class whose key_weights field is "text" (nil or false:
-- none, as HMGET answers a class declared before version 8): a
-- function of a key.
local function key_steps(text)
    if not text or text == '{}' then return function() return 1 end end
    local w, l = key_weights_arg(text)
    return function(key) return l / (w[key] or 1) end
end

-- The tags of one call. tags(keys, text, r) with "text" the class's
-- key_weights and r the stats fields vtime, seq and 'f:' as HMGET answers
-- them (nil: read them here) returns an object whose :read(list) reads F
-- and the counts of the keys of "list" at once, :next(key) the next tag of
-- key (advancing F), :count(key, d) moves key's waiting count by d, and
-- :fields(out) appends the changed fields, as field, value pairs, to out
-- (vtime too, when it was absent) and returns the fields to delete.
local Tags = {}
Tags.__index = Tags

local function tags(keys, text, r)
    r = r or redis.call('HMGET', keys[K.stats], 'vtime', 'seq', 'f:')
    return setmetatable({keys = keys, v = tonumber(r[1]) or tonumber(r[2]) or 0, unset = not r[1],
                         step = key_steps(text), f = {[''] = tonumber(r[3]) or false}, n = {[''] = 0},
                         dirty = {}}, Tags)
end

-- For tags: no virtual time needed (only counts change), nothing read.
local UNREAD = {'0', '0', false}

function Tags:read(list)
    local want, fields = {}, {}
    for _, key in ipairs(list) do
        if self.f[key] == nil and not want[key] then
            want[key] = true
            fields[#fields + 1] = key
        end
    end
    if #fields == 0 then return end
    local names = {}
    for i, key in ipairs(fields) do names[2 * i - 1], names[2 * i] = 'f:' .. key, 'n:' .. key end
    local r = redis.call('HMGET', self.keys[K.stats], unpack(names))
    for i, key in ipairs(fields) do
        self.f[key] = tonumber(r[2 * i - 1]) or false
        self.n[key] = tonumber(r[2 * i]) or 0
    end
end

function Tags:next(key)
    if self.f[key] == nil then self:read({key}) end
    local s = math.max(self.v + 1, self.f[key] or 0)
    self.f[key] = s + self.step(key)
    self.dirty[key] = true
    return s
end

function Tags:count(key, d)
    if key == '' then return end
    if self.f[key] == nil then self:read({key}) end
    self.n[key] = self.n[key] + d
    self.dirty[key] = true
end

function Tags:fields(out)
    local gone = {}
    if self.unset then out[#out + 1], out[#out + 2] = 'vtime', int_text(self.v) end
    for key in pairs(self.dirty) do
        if key ~= '' and self.n[key] <= 0 then
            gone[#gone + 1], gone[#gone + 2] = 'f:' .. key, 'n:' .. key
        else
            if self.f[key] then out[#out + 1], out[#out + 2] = 'f:' .. key, int_text(self.f[key]) end
            if key ~= '' then out[#out + 1], out[#out + 2] = 'n:' .. key, int_text(self.n[key]) end
        end
    end
    return gone
end

-- Writes what "t" changed, and the stats fields "out" (field, value
-- pairs): one HSET and at most one HDEL.
local function save_tags(t, out)
    local gone = t:fields(out)
    if #out > 0 then redis.call('HSET', t.keys[K.stats], unpack(out)) end
    if #gone > 0 then redis.call('HDEL', t.keys[K.stats], unpack(gone)) end
end

-- Moves the waiting count of "key" by d, for a job that waits again or no
-- longer waits outside a claim or an enqueue; a keyless job: nothing.
local function key_waits(keys, key, d)
    if key == '' then return end
    local t = tags(keys, nil, UNREAD)
    t:count(key, d)
    save_tags(t, {})
end

-- Per-key caps (the class field max_concurrency_per_key; 0: none). A
-- claim leases a keyed job only while its key has fewer counted leases than
-- the cap. The stats field 'r:' .. key counts the leases of key claimed
-- while the class had a cap (their lease entries say so: common.lua), and
-- goes at 0. A ready job of a key at its cap that a claim passes is parked:
-- moved from the ready set to the parked set, member key .. '\0' .. its
-- ready score in SCORE_HEX hex digits .. its id, score 0, so that a key's
-- parked jobs are one range, in their ready order; its record stays ready
-- and it still counts as waiting. When a counted lease ends, as many of its
-- key's parked jobs as the key may now start return to the ready set at
-- their scores (all of them once the cap is gone); when the cap is raised
-- or removed, every key's. A call without the parked key (library version
-- 9) is refused where it would need it. Cap holds the functions (one local:
-- the library's main chunk may have at most 200).
local Cap = {SCORE_HEX = 14,     -- a ready score is below 2^53
             UNPARK_BATCH = 1000, -- parked jobs moved back per ZRANGEBYLEX
             PICK_PAGE = 100,     -- ready jobs a claim reads at once past its head
             PARK_MAX = 1000}     -- jobs one claim parks at most

function Cap.member(key, score, id)
    return key .. '\0' .. string.format('%0' .. Cap.SCORE_HEX .. 'x', score) .. id
end

-- A parked member's key, ready score and id (nil for a malformed one).
function Cap.parse(member)
    local z = string.find(member, '\0', 1, true)
    if not z or #member < z + Cap.SCORE_HEX + 1 then return nil end
    local score = tonumber(string.sub(member, z + 1, z + Cap.SCORE_HEX), 16)
    return string.sub(member, 1, z - 1), score, string.sub(member, z + Cap.SCORE_HEX + 1)
end

-- The parked key, or a BADARG naming "what" for a call without it.
function Cap.parked_key(keys, what)
    local k = keys[K.parked]
    if not k then fail('BADARG', what .. ' of a class with max_concurrency_per_key needs library version 10') end
    return k
end

-- The counted leases of "key".
function Cap.running(keys, key)
    return tonumber(redis.call('HGET', keys[K.stats], 'r:' .. key)) or 0
end

-- Parks the ready jobs "jobs" (pairs {id, record}) of keys at their caps.
function Cap.park(keys, jobs)
    if #jobs == 0 then return end
    local ids, members = {}, {}
    for i, j in ipairs(jobs) do
        ids[i] = j[1]
        members[2 * i - 1], members[2 * i] = 0, Cap.member(j[2][M.key], ready_score(j[2]), j[1])
    end
    redis.call('ZREM', keys[K.ready], unpack(ids))
    redis.call('ZADD', keys[K.parked], unpack(members))
end

-- Moves up to n (-1: all) of key's parked jobs back to the ready set, the
-- first in their order, and announces them. Returns how many.
function Cap.unpark(keys, key, n)
    local moved = 0
    while n < 0 or moved < n do
        local take = n < 0 and Cap.UNPARK_BATCH or math.min(Cap.UNPARK_BATCH, n - moved)
        local members = redis.call('ZRANGEBYLEX', keys[K.parked], '[' .. key .. '\0', '(' .. key .. '\1', 'LIMIT',
                                   0, take)
        if #members == 0 then break end
        local ready = {}
        for i, member in ipairs(members) do
            local _, score, id = Cap.parse(member)
            ready[2 * i - 1], ready[2 * i] = score, id
        end
        redis.call('ZREM', keys[K.parked], unpack(members))
        redis.call('ZADD', keys[K.ready], unpack(ready))
        moved = moved + #members
        if #members < take then break end
    end
    if moved > 0 then redis.call('PUBLISH', keys[K.ready], 1) end
    return moved
end

-- The room key has under cap (-1: no cap, so all of its parked jobs).
function Cap.room(keys, key, cap)
    if cap <= 0 then return -1 end
    return math.max(0, cap - Cap.running(keys, key))
end

-- The keys "key_of(i)" gives for i = 1..n ('' and nil left out), in the
-- order they first come, and how many times each comes.
function Cap.tally(n, key_of)
    local order, by = {}, {}
    for i = 1, n do
        local key = key_of(i)
        if key and key ~= '' then
            if not by[key] then order[#order + 1], by[key] = key, 0 end
            by[key] = by[key] + 1
        end
    end
    return order, by
end

-- The first n of the jobs "ms" (records) were leased under a per-key cap:
-- each keyed one counts in its key's running count.
function Cap.started(keys, ms, n)
    local order, by = Cap.tally(n, function(i) return ms[i][M.key] end)
    for _, key in ipairs(order) do redis.call('HINCRBY', keys[K.stats], 'r:' .. key, by[key]) end
end

-- For the leases of the jobs "ms" that ended (job tables; .running: the
-- key a lease was counted in): each key's running count falls, and with
-- the parked key, as many of its parked jobs as it may now start under
-- the class's max_concurrency_per_key (read only when a lease was
-- counted) return to the ready set.
function Cap.ended(keys, ms)
    local order, by = Cap.tally(#ms, function(i) return ms[i].running end)
    if #order == 0 then return end
    local cap = tonumber(redis.call('HMGET', keys[K.class], 'max_concurrency_per_key')[1]) or 0  -- workers may HMGET it
    for _, key in ipairs(order) do
        if redis.call('HINCRBY', keys[K.stats], 'r:' .. key, -by[key]) <= 0 then
            redis.call('HDEL', keys[K.stats], 'r:' .. key)
        end
        if keys[K.parked] then
            local room = Cap.room(keys, key, cap)
            if room ~= 0 then Cap.unpark(keys, key, room) end
        end
    end
end

-- Every key's parked jobs that its room under "cap" lets start return to
-- the ready set (an operator's change of the cap): one lookup per key that
-- has parked jobs, the keys found in order by jumping past each one's range.
function Cap.unpark_all(keys, cap)
    local from = '-'
    while true do
        local first = redis.call('ZRANGEBYLEX', keys[K.parked], from, '+', 'LIMIT', 0, 1)
        if #first == 0 then return end
        local key = Cap.parse(first[1])
        if not key then return end  -- malformed: sluice_check names it
        local room = Cap.room(keys, key, cap)
        if room ~= 0 then Cap.unpark(keys, key, room) end
        from = '[' .. key .. '\1'
    end
end

-- Removes the ready job "id" (record m) from the ready set, or from the
-- parked set when its key's cap parked it (a call with the parked key).
function Cap.drop_ready(keys, id, m)
    if redis.call('ZREM', keys[K.ready], id) == 0 and keys[K.parked] then
        redis.call('ZREM', keys[K.parked], Cap.member(m[M.key], ready_score(m), id))
    end
end

-- How many leased jobs each key has, by their records (the lease entries
-- do not always name the key): a table of key -> count, keyless jobs left
-- out. A record's key is read without decoding the payload before it: the
-- record's fields up to the payload, the payload's string header, then the
-- key after it. A record of version 7 ends at its payload; a job of an
-- earlier version (its payload alone in the jobs hash) has no key.
local function running_by_key(keys)
    local function record_key(raw)
        if string.byte(raw, 1) ~= RECORD_BYTE then return '' end
        local at = cmsgpack.unpack_limit(raw, M.payload - 1, #RECORD_HEAD)  -- 0-based: the payload's header
        local b = string.byte(raw, at + 1)
        local head, len
        if b >= 0xa0 and b <= 0xbf then head, len = 1, b - 0xa0
        elseif b == 0xd9 then head, len = 2, string.byte(raw, at + 2)
        elseif b == 0xda then head, len = 3, struct.unpack('>H', raw, at + 2)
        else head, len = 5, struct.unpack('>I4', raw, at + 2) end
        local after = at + head + len
        if after >= #raw then return '' end
        local _, key = cmsgpack.unpack_limit(raw, 1, after)
        return key
    end
    local ids = redis.call('ZRANGE', keys[K.leased], 0, -1)
    local running = {}
    for first = 1, #ids, 1000 do  -- HMGET 1000 records at a time
        local records = redis.call('HMGET', keys[K.jobs], unpack(ids, first, math.min(#ids, first + 999)))
        for _, raw in ipairs(records) do
            local key = raw and record_key(raw) or ''
            if key ~= '' then running[key] = (running[key] or 0) + 1 end
        end
    end
    return running
end

-- sluice_top_keys: ARGV class, n (1..TOP_KEYS_MAX), running ('0', the
-- default, or '1'). Reply: up to n pairs of a key and its waiting (ready or
-- delayed) jobs, most first, ties by key; with running '1' (library
-- version 10), triples of a key, its waiting jobs and its leased jobs, over
-- the keys that wait or run, by waiting, then leased, most first, ties by
-- key. Reads every key that waits, and with running every leased job's
-- record: an operator's call. Errors: NOCLASS, BADARG.
register('sluice_top_keys', function(keys, args)
    class_arg(keys, args)
    local n = int_arg(args[2], 'n', 1, TOP_KEYS_MAX)
    local with_running = args[3] or '0'
    if with_running ~= '0' and with_running ~= '1' then fail('BADARG', 'running must be 0 or 1') end
    with_running = with_running == '1'
    load_class(keys, NO_FIELDS)
    local raw = redis.call('HGETALL', keys[K.stats])
    local list, seen = {}, {}
    for i = 1, #raw, 2 do
        local key = string.match(raw[i], '^n:(.+)$')
        if key then
            list[#list + 1] = {key, tonumber(raw[i + 1]) or 0, 0}
            seen[key] = list[#list]
        end
    end
    if with_running then
        for key, c in pairs(running_by_key(keys)) do
            if seen[key] then seen[key][3] = c else list[#list + 1] = {key, 0, c} end
        end
    end
    table.sort(list, function(a, b)
        if a[2] ~= b[2] then return a[2] > b[2] end
        if a[3] ~= b[3] then return a[3] > b[3] end
        return a[1] < b[1]
    end)
    local r = {}
    for i = 1, math.min(n, #list) do
        r[#r + 1] = list[i][1]
        r[#r + 1] = list[i][2]
        if with_running then r[#r + 1] = list[i][3] end
    end
    return r
end, READONLY)

-- needs: common window fair
-- Declaring classes: their tier, limits, run windows and key weights. A
-- change takes effect on the next claim anywhere, since claims read the
-- class hash each time.
-- KEYS: the class keys (sluice_registry*: the global registry key).

-- The text fields beside CLASS_ORDER's, with their defaults: the run
-- windows (window.lua; none, and the floor outside them), not read by
-- claims, the key weights (fair.lua; none) and what becomes of a job past
-- its start_by (deadline.lua; it runs late).
local TEXT_DEFAULTS = {windows = '[]', outside_window = 'floor', key_weights = '{}', on_expiry = 'run'}
local TEXT_ORDER = {'windows', 'outside_window', 'key_weights', 'on_expiry'}

-- The class's text fields as a table, defaults for those never set.
local function load_texts(keys)
    local raw = redis.call('HMGET', keys[K.class], unpack(TEXT_ORDER))
    local w = {}
    for i, f in ipairs(TEXT_ORDER) do w[f] = raw[i] or TEXT_DEFAULTS[f] end
    return w
end

-- sluice_class_set: ARGV class, actor, then field, value pairs (the fields
-- of CLASS_ORDER, and windows, outside_window, key_weights and on_expiry). Fields not
-- named keep their value (or default). The whole result is validated before
-- anything is written. A max_concurrency_per_key raised or removed lets the
-- parked jobs its keys may now start return to the ready set (fair.lua);
-- changing it needs the parked key. Reply: 'created' or 'updated'.
-- Errors: BADNAME, BADARG.
register('sluice_class_set', function(keys, args)
    class_arg(keys, args)
    local actor = args[2] or ''
    if #args % 2 ~= 0 then fail('BADARG', 'fields and values must pair up') end
    local exists = redis.call('EXISTS', keys[K.class]) == 1
    local c = {}
    local w = exists and load_texts(keys) or {}
    if exists then
        c = load_class(keys)
    else
        for k, v in pairs(TEXT_DEFAULTS) do w[k] = v end
        for k, v in pairs(CLASS_DEFAULTS) do c[k] = v end
    end
    local cap_was = c.max_concurrency_per_key
    local nwindows = nil  -- counted when windows are set
    local changes = {}
    for i = 3, #args, 2 do
        local f, v = args[i], args[i + 1]
        if f == 'tier' then
            if not TIERS[v] then fail('BADARG', 'tier must be one of ' .. TIERS_TEXT) end
            c.tier = v
        elseif f == 'windows' then
            nwindows = windows_arg(v)
            w.windows = v
        elseif f == 'outside_window' then
            if not OUTSIDE_WINDOW[v] then fail('BADARG', 'outside_window must be one of ' .. OUTSIDE_WINDOW_TEXT) end
            w.outside_window = v
        elseif f == 'key_weights' then
            key_weights_arg(v)
            w.key_weights = v
        elseif f == 'on_expiry' then
            if not ON_EXPIRY[v] then fail('BADARG', 'on_expiry must be one of ' .. ON_EXPIRY_TEXT) end
            w.on_expiry = v
        elseif CLASS_FIELDS[f] then
            local s = CLASS_FIELDS[f]
            if s[1] == 'int' then c[f] = int_arg(v, f, s[2], s[3]) else c[f] = num_arg(v, f, s[2], s[3]) end
        else
            fail('BADARG', 'unknown class field')
        end
        changes[#changes + 1] = f .. '=' .. v
    end
    if c.tier ~= 'critical' and c.max_rate == 0 and c.max_concurrency == 0 then
        fail('BADARG', 'a non-critical class needs max_rate or max_concurrency for the governor to scale')
    end
    if c.backoff_base_ms > c.backoff_max_ms then
        fail('BADARG', 'backoff_base_ms exceeds backoff_max_ms')
    end
    if (nwindows or windows_arg(w.windows)) > 0 and c.max_rate == 0 and c.max_concurrency == 0 then
        fail('BADARG', 'a class with windows needs max_rate or max_concurrency')
    end
    local cap = c.max_concurrency_per_key
    if cap ~= cap_was then Cap.parked_key(keys, 'changing max_concurrency_per_key') end
    local flat = {}
    for _, f in ipairs(CLASS_ORDER) do
        flat[#flat + 1] = f
        flat[#flat + 1] = type(c[f]) == 'number' and fmt_num(c[f]) or c[f]
    end
    for _, f in ipairs(TEXT_ORDER) do
        flat[#flat + 1] = f
        flat[#flat + 1] = w[f]
    end
    audit(keys, actor, exists and 'class updated' or 'class created', table.concat(changes, ' '))
    redis.call('HSET', keys[K.class], unpack(flat))
    if cap_was > 0 and (cap == 0 or cap > cap_was) then Cap.unpark_all(keys, cap) end
    return exists and 'updated' or 'created'
end)

-- sluice_class_get: ARGV class. Reply: field, value pairs in CLASS_ORDER,
-- then windows, outside_window, key_weights and on_expiry. Errors: NOCLASS.
register('sluice_class_get', function(keys, args)
    class_arg(keys, args)
    local c = load_class(keys)
    local r = {}
    for _, f in ipairs(CLASS_ORDER) do
        r[#r + 1] = f
        r[#r + 1] = type(c[f]) == 'number' and fmt_num(c[f]) or c[f]
    end
    local w = load_texts(keys)
    for _, f in ipairs(TEXT_ORDER) do
        r[#r + 1] = f
        r[#r + 1] = w[f]
    end
    return r
end, READONLY)

-- sluice_class_delete: ARGV class, actor, force ('0' or '1'). Without force
-- a class that still holds jobs is refused. The audit stream stays, and so
-- do the sequence and token counters, so a class declared again under the
-- same name never reuses a job id or a fencing token. Reply: 1.
-- Errors: NOCLASS, STATE.
register('sluice_class_delete', function(keys, args)
    class_arg(keys, args)
    if load_class(keys, {'max_concurrency_per_key'}).max_concurrency_per_key > 0 then
        Cap.parked_key(keys, 'deleting a class')
    end
    local force = args[3] == '1'
    if not force then
        for _, k in ipairs({K.ready, K.delayed, K.leased, K.dead, K.parked}) do
            if keys[k] and redis.call('ZCARD', keys[k]) > 0 then fail('STATE', 'class still holds jobs') end
        end
    end
    local counters = redis.call('HMGET', keys[K.stats], 'seq', 'token')
    -- DEL first: the deploy role's right alone (see common.lua)
    redis.call('DEL', keys[K.class])
    audit(keys, args[2], 'class deleted', force and 'force' or '')
    for i = 1, #keys do
        if i ~= K.audit and i ~= K.class then redis.call('DEL', keys[i]) end
    end
    if counters[1] then redis.call('HSET', keys[K.stats], 'seq', counters[1]) end
    if counters[2] then redis.call('HSET', keys[K.stats], 'token', counters[2]) end
    return 1
end)

-- sluice_registry: KEYS the registry set. ARGV 'add' or 'del', class.
-- Separate from the class Functions because the registry is a global key
-- and a class's keys live in the class's own hash slot.

register('sluice_registry', function(keys, args)
    global_keys(keys, REGISTRY_KEYS)
    if not valid_name(args[2]) then fail('BADNAME', 'invalid class name') end
    if args[1] == 'add' then return redis.call('SADD', keys[1], args[2]) end
    if args[1] == 'del' then return redis.call('SREM', keys[1], args[2]) end
    fail('BADARG', 'registry verb must be add or del')
end)

-- sluice_registry_list: KEYS the registry set. Reply: class names, sorted.
register('sluice_registry_list', function(keys, args)
    global_keys(keys, REGISTRY_KEYS)
    local r = redis.call('SMEMBERS', keys[1])
    table.sort(r)
    return r
end, READONLY)

-- needs: common
-- Pressure signals: named gauges of database pressure with a target, a
-- critical level and a direction. Values carry the Redis time they were
-- observed. These are global keys, never touched by the per-job path.
-- KEYS: the definitions hash, the values hash, the global audit stream:
-- NS:{_}:signals, NS:{_}:signal-values, NS:{_}:audit, exactly.

local DIRECTIONS = {higher = true, lower = true}
local SIGNAL_RANGE = 1e15

local function signal_name(s)
    if not valid_name(s) then fail('BADNAME', 'invalid signal name') end
    return s
end

-- sluice_signal_define: ARGV name, actor, target, critical, direction
-- (higher or lower: which way is worse), stale_after_ms, on_stale
-- (assume-pressure, hold or ignore), period_ms (how long a change takes to
-- show in a value, 0..86400000; 0: not declared). Reply: 'created' or
-- 'updated'.
register('sluice_signal_define', function(keys, args)
    global_keys(keys, SIGNAL_KEYS)
    local name = signal_name(args[1])
    local target = num_arg(args[3], 'target', -SIGNAL_RANGE, SIGNAL_RANGE)
    local critical = num_arg(args[4], 'critical', -SIGNAL_RANGE, SIGNAL_RANGE)
    local dir = args[5]
    if not DIRECTIONS[dir] then fail('BADARG', 'direction must be higher or lower') end
    if dir == 'higher' and critical <= target then fail('BADARG', 'critical must be above target') end
    if dir == 'lower' and critical >= target then fail('BADARG', 'critical must be below target') end
    local stale = int_arg(args[6], 'stale_after_ms', 1, 86400000)
    if not ON_STALE[args[7]] then fail('BADARG', 'on_stale must be one of ' .. ON_STALE_TEXT) end
    local period = int_arg(args[8], 'period_ms', 0, 86400000)
    local def = cjson.encode({target = target, critical = critical, direction = dir,
                              stale_after_ms = stale, on_stale = args[7], period_ms = period})
    local created = redis.call('HEXISTS', keys[1], name) == 0
    audit_to(keys[3], args[2], created and 'signal defined' or 'signal updated', name .. ' ' .. def)
    redis.call('HSET', keys[1], name, def)
    return created and 'created' or 'updated'
end)

-- sluice_signal_report: ARGV name, value, age_ms (how long ago it was
-- observed, 0..86400000). Reply: the observation time, Unix ms.
-- Errors: NOTFOUND for an undefined signal, BADARG for a value that is not
-- a finite number.
register('sluice_signal_report', function(keys, args)
    global_keys(keys, SIGNAL_KEYS)
    local name = signal_name(args[1])
    local v = num_arg(args[2], 'value', -SIGNAL_RANGE, SIGNAL_RANGE)
    local age = int_arg(args[3], 'age_ms', 0, 86400000)
    if redis.call('HEXISTS', keys[1], name) == 0 then fail('NOTFOUND', 'signal is not defined') end
    local at = now_ms() - age
    redis.call('HSET', keys[2], name, fmt_num(v) .. ' ' .. fmt_num(at))
    return at
end)

-- sluice_signal_delete: ARGV name, actor. Reply: 1. Errors: NOTFOUND.
register('sluice_signal_delete', function(keys, args)
    global_keys(keys, SIGNAL_KEYS)
    local name = signal_name(args[1])
    if redis.call('HEXISTS', keys[1], name) == 0 then fail('NOTFOUND', 'signal is not defined') end
    audit_to(keys[3], args[2], 'signal deleted', name)
    redis.call('HDEL', keys[1], name)
    redis.call('HDEL', keys[2], name)
    return 1
end)

-- sluice_signal_list: no ARGV. Reply: {now, then groups of name, target,
-- critical, direction, stale_after_ms, on_stale, period_ms, value,
-- observed_at} sorted by name; value and observed_at are '' before the
-- first report; period_ms is 0 for a signal defined before it existed.
register('sluice_signal_list', function(keys, args)
    global_keys(keys, SIGNAL_KEYS)
    local names = redis.call('HKEYS', keys[1])
    table.sort(names)
    local r = {fmt_num(now_ms())}
    for _, name in ipairs(names) do
        local d = cjson.decode(redis.call('HGET', keys[1], name))
        local v = redis.call('HGET', keys[2], name)
        local val, at = '', ''
        if v then val, at = string.match(v, '^(%S+) (%S+)$') end
        for _, x in ipairs({name, fmt_num(d.target), fmt_num(d.critical), d.direction,
                            fmt_num(d.stale_after_ms), d.on_stale, fmt_num(d.period_ms or 0),
                            val, at}) do
            r[#r + 1] = x
        end
    end
    return r
end, READONLY)

-- needs: common claim
-- The gate: a class's admission state beside its keys. Operators pause and
-- pin it (with an optional expiry, audited); the governor writes the admitted
-- fraction with an expiry, fenced by its epoch. sluice_claim reads it.
-- KEYS: the class keys.

local function for_ms_arg(s)
    return int_arg(s, 'duration ms', 0, 31536000000)
end

-- An operator's hold on the gate, audited: field = value until ms from now
-- (0: until lifted). Reply: 1.
local function hold(keys, actor, what, detail, field, value, until_field, ms)
    audit(keys, actor, what, detail)
    redis.call('HSET', keys[K.gate], field, value, until_field, ms > 0 and now_ms() + ms or 0)
    return 1
end

-- Lifts an operator's hold, audited, and wakes the class's claimers.
-- ARGV class, actor. Reply: 1.
local function lift(keys, args, what, field, until_field)
    class_arg(keys, args)
    load_class(keys, NO_FIELDS)
    audit(keys, args[2], what, '')
    redis.call('HDEL', keys[K.gate], field, until_field)
    redis.call('PUBLISH', keys[K.ready], 0)
    return 1
end

-- sluice_pause: ARGV class, actor, for_ms (0: until resumed). Reply: 1.
register('sluice_pause', function(keys, args)
    class_arg(keys, args)
    load_class(keys, NO_FIELDS)
    local ms = for_ms_arg(args[3])
    return hold(keys, args[2], 'paused', ms > 0 and ('for ' .. ms .. ' ms') or 'until resumed',
                'paused', '1', 'paused_until', ms)
end)

-- sluice_pin: ARGV class, actor, fraction (0..1), for_ms (0: until unpinned).
-- The pinned fraction overrides the governor's. Reply: 1.
register('sluice_pin', function(keys, args)
    class_arg(keys, args)
    load_class(keys, NO_FIELDS)
    local f = num_arg(args[3], 'fraction', 0, 1)
    local ms = for_ms_arg(args[4])
    return hold(keys, args[2], 'pinned', 'fraction=' .. fmt_num(f) ..
                (ms > 0 and (' for ' .. ms .. ' ms') or ' until unpinned'), 'pin', fmt_num(f), 'pin_until', ms)
end)

-- sluice_resume and sluice_unpin: ARGV class, actor. Each lifts its hold:
-- the word audited, the gate's field and its expiry. Reply: 1.
local function register_lift(name, what, field, until_field)
    register(name, function(keys, args)
        return lift(keys, args, what, field, until_field)
    end)
end
register_lift('sluice_resume', 'resumed', 'paused', 'paused_until')
register_lift('sluice_unpin', 'unpinned', 'pin', 'pin_until')

-- sluice_govern: ARGV class, epoch, fraction (0..1), ttl_ms, reason, shadow
-- ('0' or '1'). The governor's decision for the class; in shadow mode it is
-- recorded as shadow_fraction and the gate stays open. A governor with an
-- older epoch than the gate's last writer is refused (STALE). Reply: 1.
register('sluice_govern', function(keys, args)
    class_arg(keys, args)
    load_class(keys, NO_FIELDS)
    local epoch = int_arg(args[2], 'epoch', 1, 9007199254740991)
    local f = num_arg(args[3], 'fraction', 0, 1)
    local ttl = int_arg(args[4], 'ttl_ms', 1, 86400000)
    local reason = args[5]
    if type(reason) ~= 'string' or #reason > 256 then fail('BADARG', 'reason is too long') end
    local last = tonumber(redis.call('HGET', keys[K.gate], 'epoch')) or 0
    if last > epoch then fail('STALE', 'a newer governor owns this gate') end
    local now = now_ms()
    local fields = {'epoch', epoch, 'expires_at', now + ttl, 'reason', reason,
                    'decided_at', now}
    if args[6] == '1' then
        fields[#fields + 1] = 'fraction'; fields[#fields + 1] = '1'
        fields[#fields + 1] = 'shadow_fraction'; fields[#fields + 1] = fmt_num(f)
    else
        fields[#fields + 1] = 'fraction'; fields[#fields + 1] = fmt_num(f)
        redis.call('HDEL', keys[K.gate], 'shadow_fraction')
    end
    local old = tonumber(redis.call('HGET', keys[K.gate], 'fraction') or 1)
    redis.call('HSET', keys[K.gate], unpack(fields))
    if f > old then redis.call('PUBLISH', keys[K.ready], 0) end
    return 1
end)

-- sluice_ungovern: ARGV class. Removes the governor's decision and its
-- epoch fence (governor mode off): the class runs at its configured limits,
-- and any governor may write it again. Reply: 1.
register('sluice_ungovern', function(keys, args)
    class_arg(keys, args)
    redis.call('HDEL', keys[K.gate], 'fraction', 'expires_at', 'reason', 'decided_at',
               'shadow_fraction', 'epoch')
    redis.call('PUBLISH', keys[K.ready], 0)
    return 1
end)

-- sluice_gate: ARGV class. The gate as a claim now would see it. Reply:
-- {effective_fraction, why, effective_rate, effective_concurrency (jobs in
-- flight on average: below 1 by duty cycle, see sluice_claim), paused
-- (0/1), paused_until, pin ('' for none), pin_until, fraction, expires_at,
-- reason, epoch, shadow_fraction, now}; numbers as strings.
register('sluice_gate', function(keys, args)
    class_arg(keys, args)
    local cfg = load_class(keys)
    local gate = hgetall_table(keys[K.gate])
    local now = now_ms()
    local f, _, why = admitted(cfg, gate, now)
    local pu = tonumber(gate.paused_until) or 0
    local paused = gate.paused == '1' and (pu == 0 or now < pu)
    local pin_until = tonumber(gate.pin_until) or 0
    local pin = gate.pin or ''
    if pin ~= '' and pin_until > 0 and now >= pin_until then pin = '' end
    local rate = cfg.max_rate * f
    local conc = 0
    if cfg.max_concurrency > 0 then
        conc = cfg.max_concurrency * f
        if conc >= 1 - 1e-9 then conc = math.floor(conc + 1e-9) end
    end
    return {fmt_num(f), why, fmt_num(rate), fmt_num(conc), paused and '1' or '0',
            fmt_num(pu), pin, fmt_num(pin_until), gate.fraction or '', gate.expires_at or '',
            gate.reason or '', gate.epoch or '', gate.shadow_fraction or '', fmt_num(now)}
end, READONLY)

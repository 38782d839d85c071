-- needs: common
-- The governor's lease, mode, state and decision history. Exactly one
-- governor acts at a time: the holder of an unexpired lease. Each new holder
-- gets a higher epoch, which fences its gate writes (sluice_govern).
-- KEYS: the governor hash, the history stream, the global audit stream:
-- NS:{_}:governor, NS:{_}:governor:history, NS:{_}:audit, exactly.

local function governor(keys)
    local g = hgetall_table(keys[1])
    g.epoch = tonumber(g.epoch) or 0
    g.lease_until = tonumber(g.lease_until) or 0
    g.mode = g.mode or 'enforce'
    return g
end

local function owner_arg(s)
    if type(s) ~= 'string' or #s == 0 or #s > 128 then fail('BADARG', 'owner must be 1..128 bytes') end
    return s
end

-- sluice_gov_lease: ARGV owner, ttl_ms. Takes the lease if it is free or
-- expired, renews it if owner holds it. Reply: {held (1/0), epoch, leader,
-- mode, state} where state is the last committed state ('' unless held).
register('sluice_gov_lease', function(keys, args)
    global_keys(keys, GOVERNOR_KEYS)
    local owner = owner_arg(args[1])
    local ttl = int_arg(args[2], 'ttl_ms', 100, 600000)
    local g = governor(keys)
    local now = now_ms()
    local held = g.leader == owner and now < g.lease_until
    if not held and (not g.leader or now >= g.lease_until) then
        g.epoch = g.epoch + 1
        redis.call('HSET', keys[1], 'leader', owner, 'epoch', g.epoch)
        held = true
    end
    if not held then return {0, g.epoch, g.leader or '', g.mode, ''} end
    redis.call('HSET', keys[1], 'lease_until', now + ttl)
    return {1, g.epoch, owner, g.mode, g.state or ''}
end)

-- sluice_gov_resign: ARGV owner. Gives the lease up at once. Reply: 1 if
-- owner held it, else 0.
register('sluice_gov_resign', function(keys, args)
    global_keys(keys, GOVERNOR_KEYS)
    local g = governor(keys)
    if g.leader ~= owner_arg(args[1]) then return 0 end
    redis.call('HDEL', keys[1], 'leader', 'lease_until')
    return 1
end)

-- sluice_gov_commit: ARGV owner, epoch, state, decision (JSON), history_max.
-- Stores the control law's state and appends the decision to the capped
-- history. Reply: the commit time. Errors: STALE when owner no longer holds
-- the lease at that epoch.
register('sluice_gov_commit', function(keys, args)
    global_keys(keys, GOVERNOR_KEYS)
    local owner = owner_arg(args[1])
    local epoch = int_arg(args[2], 'epoch', 1, 9007199254740991)
    local state, decision = args[3], args[4]
    if type(state) ~= 'string' or #state > 1048576 then fail('BADARG', 'state is too large') end
    if type(decision) ~= 'string' or #decision > 1048576 then fail('BADARG', 'decision is too large') end
    local max = int_arg(args[5], 'history_max', 1, 1000000)
    local g = governor(keys)
    local now = now_ms()
    if g.leader ~= owner or g.epoch ~= epoch or now >= g.lease_until then
        fail('STALE', 'governor lease is not held')
    end
    redis.call('HSET', keys[1], 'state', state, 'last_tick', now)
    redis.call('HINCRBY', keys[1], 'ticks', 1)
    redis.call('XADD', keys[2], 'MAXLEN', '~', max, '*', 'decision', decision)
    return now
end)

-- sluice_gov_mode: ARGV actor, mode (enforce, shadow or off). Reply: 1.
register('sluice_gov_mode', function(keys, args)
    global_keys(keys, GOVERNOR_KEYS)
    if not MODES[args[2]] then fail('BADARG', 'mode must be one of ' .. MODES_TEXT) end
    audit_to(keys[3], args[1], 'governor mode', args[2])
    redis.call('HSET', keys[1], 'mode', args[2])
    return 1
end)

-- sluice_gov_status: no ARGV. Reply: {leader ('' if none or expired),
-- epoch, lease_until, mode, last_tick, ticks, now}.
register('sluice_gov_status', function(keys, args)
    global_keys(keys, GOVERNOR_KEYS)
    local g = governor(keys)
    local now = now_ms()
    local leader = g.leader or ''
    if now >= g.lease_until then leader = '' end
    return {leader, g.epoch, g.lease_until, g.mode, tonumber(g.last_tick) or 0,
            tonumber(g.ticks) or 0, now}
end, READONLY)

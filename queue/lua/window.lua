-- needs: common
-- Run windows: the checks of a class's "windows" field, a JSON array of
-- {"days", "from", "to", "tz"} strings (include/sluice/window.h), the same
-- checks libsluice makes. Syntax only: whether tzdata has a zone is checked
-- by libsluice before it sends, and by the governor, which holds a window in
-- an unknown zone closed.

local WINDOWS_TEXT_MAX = 4096
local DAY_INDEX = {mon = 0, tue = 1, wed = 2, thu = 3, fri = 4, sat = 5, sun = 6}
local WEEK_MIN = 7 * 1440

-- "mon-fri", "sat,sun", "fri-mon" as a set of day indexes (0 Monday); nil
-- if malformed.
local function window_days(s)
    local days = {}
    for item in string.gmatch(s .. ',', '([^,]*),') do
        local a, b = string.match(item, '^(%l%l%l)%-(%l%l%l)$')
        if not a then
            a = string.match(item, '^%l%l%l$') and item
            b = a
        end
        local d, last = DAY_INDEX[a or ''], DAY_INDEX[b or '']
        if not d or not last then return nil end
        while true do
            days[d] = true
            if d == last then break end
            d = (d + 1) % 7
        end
    end
    return days
end

-- "HH:MM", 00:00..23:59, as minutes; nil if malformed.
local function window_time(s)
    local h, m = string.match(s, '^(%d%d):(%d%d)$')
    h, m = tonumber(h), tonumber(m)
    if not h or h > 23 or m > 59 then return nil end
    return h * 60 + m
end

-- Components [A-Za-z][A-Za-z0-9_+-]* joined by '/', as libsluice's
-- zone_name_ok: no '.', so never a path out of the zone directory.
local function zone_name(s)
    if #s < 1 or #s > ZONE_NAME_MAX then return false end
    for part in string.gmatch(s .. '/', '([^/]*)/') do
        if not string.match(part, '^%a[%w_+%-]*$') then return false end
    end
    return true
end

-- Whether windows a and b (of one zone) share a wall-clock minute of the week.
local function windows_overlap(a, b)
    for da in pairs(a.days) do
        local as = da * 1440 + a.from
        local ae = da * 1440 + a.to + (a.to <= a.from and 1440 or 0)
        for db in pairs(b.days) do
            local bs = db * 1440 + b.from
            local be = db * 1440 + b.to + (b.to <= b.from and 1440 or 0)
            for shift = -WEEK_MIN, WEEK_MIN, WEEK_MIN do
                if as < be + shift and bs + shift < ae then return true end
            end
        end
    end
    return false
end

-- The windows text s, checked: a JSON array of at most WINDOWS_MAX windows,
-- each exactly {days, from, to, tz} strings, well formed, not empty, and no
-- two of one zone overlapping. Returns how many there are.
local function windows_arg(s)
    local list = json_field(s, WINDOWS_TEXT_MAX, '%[', 'windows must be a JSON array of windows')
    local n = 0
    for _ in pairs(list) do n = n + 1 end
    if n ~= #list then fail('BADARG', 'windows must be a JSON array of windows') end
    if n > WINDOWS_MAX then fail('BADARG', 'windows: at most ' .. WINDOWS_MAX) end
    local w = {}
    for i, o in ipairs(list) do
        local what = 'windows: window ' .. i
        local keys = 0
        if type(o) == 'table' then for _ in pairs(o) do keys = keys + 1 end end
        if keys ~= 4 or type(o.days) ~= 'string' or type(o.from) ~= 'string' or type(o.to) ~= 'string' or
           type(o.tz) ~= 'string' then
            fail('BADARG', what .. ' must be an object of strings days, from, to and tz')
        end
        local days = window_days(o.days)
        if not days then fail('BADARG', what .. ' has bad days (e.g. mon-fri, sat,sun: days mon..sun)') end
        local from, to = window_time(o.from), window_time(o.to)
        if not from or not to then fail('BADARG', what .. ' has a bad time (HH:MM, 00:00..23:59)') end
        if from == to then fail('BADARG', what .. ' is empty (from equals to)') end
        if not zone_name(o.tz) then fail('BADARG', what .. ' has a bad zone name') end
        w[i] = {days = days, from = from, to = to, tz = o.tz}
        for k = 1, i - 1 do
            if w[k].tz == o.tz and windows_overlap(w[k], w[i]) then
                fail('BADARG', 'windows: window ' .. i .. ' overlaps window ' .. k)
            end
        end
    end
    return n
end

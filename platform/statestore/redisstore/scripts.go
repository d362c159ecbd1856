package redisstore

import "github.com/redis/go-redis/v9"

// luaPrelude holds the helpers the scripts share. Lua numbers are float64, so
// int64 counters are handled as decimal strings split into two exact limbs
// (hi*1e9 + lo, both with the value's sign); floats use float64 arithmetic,
// which is what makes IncrFloat and ZIncrBy agree bit for bit with the
// embedded adapter (Redis's INCRBYFLOAT would add in long double).
const luaPrelude = `
local LIM = 1000000000
local MAXHI, MAXLO, MINLO = 9223372036, 854775807, 854775808

-- parseint accepts exactly the canonical int64 decimals Redis's INCRBY
-- accepts and returns the signed limbs, or nil.
local function parseint(s)
  if s == '0' then return 0, 0 end
  local neg = false
  local d = s
  if string.sub(s, 1, 1) == '-' then neg = true; d = string.sub(s, 2) end
  if #d > 19 or not string.match(d, '^[1-9][0-9]*$') then return nil end
  local hi, lo = 0, tonumber(d)
  if #d > 9 then
    hi = tonumber(string.sub(d, 1, #d - 9))
    lo = tonumber(string.sub(d, #d - 8))
  end
  if hi > MAXHI or (hi == MAXHI and lo > (neg and MINLO or MAXLO)) then return nil end
  if neg then return -hi, -lo end
  return hi, lo
end

-- addint adds two limb pairs; nil on int64 overflow.
local function addint(h1, l1, h2, l2)
  local h, l = h1 + h2, l1 + l2
  if l >= LIM then h = h + 1; l = l - LIM elseif l <= -LIM then h = h - 1; l = l + LIM end
  if h > 0 and l < 0 then h = h - 1; l = l + LIM elseif h < 0 and l > 0 then h = h + 1; l = l - LIM end
  if h > MAXHI or (h == MAXHI and l > MAXLO) then return nil end
  if h < -MAXHI or (h == -MAXHI and l < -MINLO) then return nil end
  return h, l
end

local function fmtint(h, l)
  if h == 0 then return string.format('%d', l) end
  if h < 0 then return '-' .. string.format('%d%09d', -h, -l) end
  return string.format('%d%09d', h, l)
end

-- parsefloat accepts a finite decimal number (no blanks, hex, inf or nan).
local function parsefloat(s)
  if s == '' or string.find(s, '[^0-9eE.+-]') then return nil end
  local x = tonumber(s)
  if x == nil or x ~= x or x == math.huge or x == -math.huge then return nil end
  return x
end

local function fmtfloat(x)
  if x == math.huge then return 'inf' elseif x == -math.huge then return '-inf' end
  return string.format('%.17g', x)
end

local function isfinite(x) return x == x and x ~= math.huge and x ~= -math.huge end
`

// applyLua implements Store.Apply in one atomic step.
//
// KEYS[1] is the dedupe record, KEYS[1+i] the key of op i. ARGV[1] is the
// dedupe ttl in ms ("0": none), then three ARGV per op: code, a, b.
//
// Redis has no rollback: an error half-way through a script keeps the writes
// made before it. So the script runs in two passes. The first simulates every
// op on an in-memory model of the touched keys (type, value, cardinality,
// known members), loaded lazily from Redis, and stops at the first failure
// before anything is written. The second replays the ops, which can no
// longer fail, and stores the results with the dedupe record.
//
// Replies: {0, results} duplicate; {1, results} applied; {2, i} precondition
// i failed; {3, i, reason} op i failed.
var applyScript = redis.NewScript(luaPrelude + `
local dd = redis.call('GET', KEYS[1])
if dd then return {0, dd} end

local n = #KEYS - 1
local st = {}

local function reset(s) s.t = 'none'; s.m = {}; s.fresh = true; s.c = 0; s.v = nil end

-- load reads a key into the model. Most keys are values or missing, so one
-- GET answers; only a GET refused with WRONGTYPE costs a TYPE call more.
local function load(k)
  local s = st[k]
  if s then return s end
  local v = redis.pcall('GET', k)
  if type(v) == 'table' and v.err then
    local t = redis.call('TYPE', k).ok
    s = {t = t, m = {}, fresh = false, c = 0}
    if t == 'set' then s.c = redis.call('SCARD', k)
    elseif t == 'zset' then s.c = redis.call('ZCARD', k) end
  elseif v then
    s = {t = 'string', v = v, m = {}, fresh = false, c = 0}
  else
    s = {t = 'none', m = {}, fresh = true, c = 0}
  end
  st[k] = s
  return s
end

-- smember/zscore consult Redis only while the model still mirrors the
-- stored key (not fresh); s.m caches true/false or the score/false.
local function smember(s, k, m)
  local v = s.m[m]
  if v == nil then
    v = (not s.fresh) and redis.call('SISMEMBER', k, m) == 1
    s.m[m] = v
  end
  return v
end

local function zscore(s, k, m)
  local v = s.m[m]
  if v == nil then
    v = false
    if not s.fresh then
      local r = redis.call('ZSCORE', k, m)
      if r then v = tonumber(r) end
    end
    s.m[m] = v
  end
  return v
end

for i = 1, n do
  local op = ARGV[2 + (i - 1) * 3]
  if op == 'ev' or op == 'ea' then
    local s = load(KEYS[i + 1])
    if op == 'ev' then
      if s.t == 'none' then return {2, i} end
      if s.t ~= 'string' then return {3, i, 'wrongtype'} end
      if s.v ~= ARGV[3 + (i - 1) * 3] then return {2, i} end
    elseif s.t ~= 'none' then
      return {2, i}
    end
  end
end

local res, out = {}, {}
for i = 1, n do
  local base = 2 + (i - 1) * 3
  local op, a, b = ARGV[base], ARGV[base + 1], ARGV[base + 2]
  local k = KEYS[i + 1]
  local s
  if op == 'set' then
    -- A set replaces whatever is there: no need to read it.
    s = st[k]
    if not s then s = {}; st[k] = s end
  else
    s = load(k)
  end
  if op == 'set' then
    reset(s); s.t = 'string'; s.v = a; res[i] = '-'
  elseif op == 'setnx' then
    if s.t == 'none' then s.t = 'string'; s.v = a; res[i] = 'b1' else res[i] = 'b0' end
  elseif op == 'del' then
    if s.t == 'none' then res[i] = 'i0' else reset(s); res[i] = 'i1' end
  elseif op == 'incr' or op == 'incrf' then
    if s.t ~= 'none' and s.t ~= 'string' then return {3, i, 'wrongtype'} end
    if op == 'incr' then
      local h, l = 0, 0
      if s.t == 'string' then
        h, l = parseint(s.v)
        if h == nil then return {3, i, 'notint'} end
      end
      local dh, dl = parseint(a)
      h, l = addint(h, l, dh, dl)
      if h == nil then return {3, i, 'overflow'} end
      s.v = fmtint(h, l); res[i] = 'i' .. s.v
    else
      local x = 0
      if s.t == 'string' then
        x = parsefloat(s.v)
        if x == nil then return {3, i, 'notfloat'} end
      end
      x = x + tonumber(a)
      if not isfinite(x) then return {3, i, 'nonfinite'} end
      s.v = fmtfloat(x); out[i] = s.v; res[i] = 'f' .. s.v
    end
    s.t = 'string'
  elseif op == 'sadd' or op == 'srem' then
    if s.t ~= 'none' and s.t ~= 'set' then return {3, i, 'wrongtype'} end
    if op == 'sadd' then
      if s.t == 'none' then s.t = 'set' end
      if smember(s, k, a) then res[i] = 'i0' else s.m[a] = true; s.c = s.c + 1; res[i] = 'i1' end
    elseif s.t == 'set' and smember(s, k, a) then
      s.m[a] = false; s.c = s.c - 1; res[i] = 'i1'
      if s.c == 0 then reset(s) end
    else
      res[i] = 'i0'
    end
  elseif op == 'zadd' or op == 'zincr' or op == 'zrem' then
    if s.t ~= 'none' and s.t ~= 'zset' then return {3, i, 'wrongtype'} end
    if op == 'zrem' then
      if s.t == 'zset' and zscore(s, k, a) then
        s.m[a] = false; s.c = s.c - 1; res[i] = 'i1'
        if s.c == 0 then reset(s) end
      else
        res[i] = 'i0'
      end
    else
      local old = zscore(s, k, a)
      local x = tonumber(b)
      if op == 'zincr' then
        x = (old or 0) + x
        if x ~= x then return {3, i, 'nan'} end
        out[i] = fmtfloat(x); res[i] = 'f' .. out[i]
      else
        res[i] = old and 'i0' or 'i1'
      end
      if s.t == 'none' then s.t = 'zset' end
      if not old then s.c = s.c + 1 end
      s.m[a] = x
    end
  elseif op == 'exp' then
    res[i] = (s.t ~= 'none') and 'b1' or 'b0'
  elseif op == 'ev' or op == 'ea' then
    res[i] = '-'
  else
    return {3, i, 'badop'}
  end
end

for i = 1, n do
  local base = 2 + (i - 1) * 3
  local op, a, b = ARGV[base], ARGV[base + 1], ARGV[base + 2]
  local k = KEYS[i + 1]
  if op == 'set' or (op == 'setnx' and res[i] == 'b1') then
    if b ~= '0' then redis.call('SET', k, a, 'PX', b) else redis.call('SET', k, a) end
  elseif op == 'del' then redis.call('DEL', k)
  elseif op == 'incr' then redis.call('INCRBY', k, a)
  elseif op == 'incrf' then redis.call('SET', k, out[i], 'KEEPTTL')
  elseif op == 'sadd' then redis.call('SADD', k, a)
  elseif op == 'srem' then redis.call('SREM', k, a)
  elseif op == 'zadd' then redis.call('ZADD', k, b, a)
  elseif op == 'zincr' then redis.call('ZADD', k, out[i], a)
  elseif op == 'zrem' then redis.call('ZREM', k, a)
  elseif op == 'exp' then
    if b ~= '0' then redis.call('PEXPIRE', k, b) else redis.call('PERSIST', k) end
  end
end

local enc = '1|' .. table.concat(res, ',')
if ARGV[1] ~= '0' then redis.call('SET', KEYS[1], enc, 'PX', ARGV[1]) else redis.call('SET', KEYS[1], enc) end
return {1, enc}
`)

// incrFloatScript implements Store.IncrFloat with the same float64
// arithmetic and formatting as Apply. Replies {1, value} or {3, reason}.
var incrFloatScript = redis.NewScript(luaPrelude + `
local t = redis.call('TYPE', KEYS[1]).ok
if t ~= 'none' and t ~= 'string' then return {3, 'wrongtype'} end
local x = 0
if t == 'string' then
  x = parsefloat(redis.call('GET', KEYS[1]))
  if x == nil then return {3, 'notfloat'} end
end
x = x + tonumber(ARGV[1])
if not isfinite(x) then return {3, 'nonfinite'} end
local v = fmtfloat(x)
redis.call('SET', KEYS[1], v, 'KEEPTTL')
return {1, v}
`)

// casScript implements Store.CompareAndSet. ARGV: hasOld, old, hasNew, new,
// ttl ms. Replies 1 swapped, 0 not, -1 wrong type.
var casScript = redis.NewScript(`
local t = redis.call('TYPE', KEYS[1]).ok
if t ~= 'none' and t ~= 'string' then return -1 end
if ARGV[1] == '1' then
  if t == 'none' or redis.call('GET', KEYS[1]) ~= ARGV[2] then return 0 end
elseif t ~= 'none' then
  return 0
end
if ARGV[3] == '1' then
  if ARGV[5] ~= '0' then redis.call('SET', KEYS[1], ARGV[4], 'PX', ARGV[5]) else redis.call('SET', KEYS[1], ARGV[4]) end
elseif t ~= 'none' then
  redis.call('DEL', KEYS[1])
end
return 1
`)

// persistScript implements Store.Expire with ttl 0: PERSIST alone cannot
// tell "no such key" from "had no ttl".
var persistScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('PERSIST', KEYS[1])
return 1
`)

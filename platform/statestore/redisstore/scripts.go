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
// made before it. So the script simulates every op on an in-memory model of
// the touched keys (type, value, cardinality, known members) and stops at the
// first failure before anything is written; then it replays the ops, which
// can no longer fail, and stores the results with the dedupe record.
//
// The script runs once per event, so its cost caps a Redis's event rate, and
// nearly all of it is Lua work: each redis.call, table, table field, string
// conversion and global lookup counts. Hence: one MGET reads the dedupe
// record and every key (MGET answers false for a missing key and for a set
// or sorted set alike; one EXISTS over those tells them apart, and TYPE runs
// only when some exist); a plain set without ttl, and an increment of a key
// known to have no ttl, is written by one MSET of the final values (SET k v,
// MSET and INCRBY agree on such a key); and a short increment of a key that
// may have a ttl is left to INCRBY, whose reply is its result. Writes to
// different keys commute, so a set may wait in the MSET while later ops on
// other keys are written; an op on a key still waiting flushes it first.
//
// Replies: {0, results} duplicate; {1, results} applied; {2, i} precondition
// i failed; {3, i, reason} op i failed.
var applyScript = redis.NewScript(luaPrelude + `
-- Globals and library fields cost a table lookup per use: keep locals.
local KEYS, ARGV, call, tonumber, unpack = KEYS, ARGV, redis.call, tonumber, unpack
local find, format = string.find, string.format
local n = #KEYS - 1

-- Read every key at once: a plain set would not need its key's old value,
-- but reading it anyway costs less than sorting the keys out, and its
-- model is reset when the set runs. gone collects the keys MGET found no
-- string for.
local vals = call('MGET', unpack(KEYS))
if vals[1] then return {0, vals[1]} end

-- st[k] models key k: t type, v string value, c cardinality, m member
-- cache (made lazily), fresh when the key no longer mirrors Redis, nt
-- when the key is known to have no ttl (missing, or set without one), d a
-- delta left to INCRBY, p the MSET generation the key waits in. Every field
-- is present from the start (false for none): adding one later regrows the
-- table.
local st, gone = {}, {}
for j = 2, n + 1 do
  local k = KEYS[j]
  if st[k] == nil then
    local v = vals[j]
    if v then st[k] = {t = 'string', v = v, m = false, fresh = false, c = 0, nt = false, d = false, p = false}
    else st[k] = false; gone[#gone + 1] = k end
  end
end
-- The dedupe record is a string or missing; anything else fails as GET did.
if call('EXISTS', KEYS[1], unpack(gone)) == 0 then
  for j = 1, #gone do st[gone[j]] = {t = 'none', v = false, m = false, fresh = true, c = 0, nt = true, d = false, p = false} end
else
  if call('TYPE', KEYS[1]).ok ~= 'none' then call('GET', KEYS[1]) end
  for j = 1, #gone do
    local k = gone[j]
    local t = call('TYPE', k).ok
    local s = {t = t, v = false, m = false, fresh = t == 'none', c = 0, nt = t == 'none', d = false, p = false}
    if t == 'set' then s.c = call('SCARD', k)
    elseif t == 'zset' then s.c = call('ZCARD', k) end
    st[k] = s
  end
end

local function reset(s) s.t = 'none'; s.m = false; s.fresh = true; s.c = 0; s.v = false; s.d = false; s.nt = true end

-- smember/zscore consult Redis only while the model still mirrors the
-- stored key (not fresh); s.m caches true/false or the score/false.
local function smember(s, k, m)
  local c = s.m
  if not c then c = {}; s.m = c end
  local v = c[m]
  if v == nil then
    v = (not s.fresh) and call('SISMEMBER', k, m) == 1
    c[m] = v
  end
  return v
end

local function zscore(s, k, m)
  local c = s.m
  if not c then c = {}; s.m = c end
  local v = c[m]
  if v == nil then
    v = false
    if not s.fresh then
      local r = call('ZSCORE', k, m)
      if r then v = tonumber(r) end
    end
    c[m] = v
  end
  return v
end

-- Preconditions see the state before the batch.
do
  for i = 1, n do
    local op = ARGV[2 + (i - 1) * 3]
    if op == 'ev' or op == 'ea' then
      local s = st[KEYS[i + 1]]
      if op == 'ev' then
        if s.t == 'none' then return {2, i} end
        if s.t ~= 'string' then return {3, i, 'wrongtype'} end
        if s.v ~= ARGV[3 + (i - 1) * 3] then return {2, i} end
      elseif s.t ~= 'none' then
        return {2, i}
      end
    end
  end
end

-- CANON matches the canonical decimals but "0" (INCRBY's rules: no sign
-- but "-", no leading zero, no blank); with at most 15 characters the sum of
-- two is exact in a Lua number. parseint handles the rest.
local CANON = '^%-?[1-9]%d*$'

-- settle adds a delta left to INCRBY (s.d, see incr) to the modelled value.
local function settle(s)
  if s.d then s.v = format('%d', tonumber(s.v) + tonumber(s.d)); s.d = false end
end

-- mv[i] is the value an incr or incrf on a key without ttl leaves: a
-- plain set of it has the same effect, so it joins the MSET.
local res, out, mv = {}, {}, {}
for i = 1, n do
  local base = 2 + (i - 1) * 3
  local op, a, b = ARGV[base], ARGV[base + 1], ARGV[base + 2]
  local k = KEYS[i + 1]
  local s = st[k]
  if op == 'set' then
    s.t = 'string'; s.v = a; s.m = false; s.fresh = true; s.c = 0; s.d = false; s.nt = b == '0'; res[i] = '-'
  elseif op == 'setnx' then
    if s.t == 'none' then s.t = 'string'; s.v = a; s.nt = b == '0'; res[i] = 'b1' else res[i] = 'b0' end
  elseif op == 'del' then
    if s.t == 'none' then res[i] = 'i0' else reset(s); res[i] = 'i1' end
  elseif op == 'incr' or op == 'incrf' then
    if s.t ~= 'none' and s.t ~= 'string' then return {3, i, 'wrongtype'} end
    if op == 'incr' then
      -- a is strconv.FormatInt's canonical form. When both numbers have
      -- at most 15 digits the sum is exact in a Lua number and cannot
      -- overflow; if the key may have a ttl, INCRBY writes it, so its reply
      -- gives the result (res[i] false until then) and the model keeps the
      -- delta in s.d until an op needs the value.
      if s.d then settle(s) end
      local v = s.t == 'string' and s.v or '0'
      if #a <= 15 and (v == '0' or (#v <= 15 and find(v, CANON))) then
        if v == '0' then s.v = a; res[i] = 'i' .. a
        elseif s.nt then s.v = format('%d', tonumber(v) + tonumber(a)); res[i] = 'i' .. s.v
        else s.d = a; res[i] = false end
      else
        local h, l = parseint(v)
        if h == nil then return {3, i, 'notint'} end
        local dh, dl = parseint(a)
        h, l = addint(h, l, dh, dl)
        if h == nil then return {3, i, 'overflow'} end
        s.v = fmtint(h, l); res[i] = 'i' .. s.v
      end
      if s.nt then mv[i] = s.v end
    else
      local x = 0
      if s.t == 'string' then
        settle(s)
        x = parsefloat(s.v)
        if x == nil then return {3, i, 'notfloat'} end
      end
      x = x + tonumber(a)
      if not isfinite(x) then return {3, i, 'nonfinite'} end
      s.v = fmtfloat(x); out[i] = s.v; res[i] = 'f' .. s.v
      if s.nt then mv[i] = s.v end
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
    if s.t ~= 'none' then s.nt = b == '0'; res[i] = 'b1' else res[i] = 'b0' end
  elseif op == 'ev' or op == 'ea' then
    res[i] = '-'
  else
    return {3, i, 'badop'}
  end
end

-- ms holds the pending MSET's key/value pairs; a key is in it while its
-- model's p equals gen.
local ms, nm, gen = {}, 0, 1
local function flush()
  if nm > 0 then call('MSET', unpack(ms, 1, nm)); nm = 0; gen = gen + 1 end
end
-- Preconditions write nothing.
for i = 1, n do
  local base = 2 + (i - 1) * 3
  local op = ARGV[base]
  if op ~= 'ev' and op ~= 'ea' then
    local a, b = ARGV[base + 1], ARGV[base + 2]
    local k = KEYS[i + 1]
    local v = mv[i]
    if not v and b == '0' and (op == 'set' or (op == 'setnx' and res[i] == 'b1')) then v = a end
    if v then
      ms[nm + 1] = k; ms[nm + 2] = v; nm = nm + 2; st[k].p = gen
    else
      if st[k].p == gen then flush() end
      if op == 'set' or (op == 'setnx' and res[i] == 'b1') then call('SET', k, a, 'PX', b)
      elseif op == 'del' then call('DEL', k)
      elseif op == 'incr' then
        local r = call('INCRBY', k, a)
        if not res[i] then res[i] = 'i' .. format('%d', r) end
      elseif op == 'incrf' then call('SET', k, out[i], 'KEEPTTL')
      elseif op == 'sadd' then call('SADD', k, a)
      elseif op == 'srem' then call('SREM', k, a)
      elseif op == 'zadd' then call('ZADD', k, b, a)
      elseif op == 'zincr' then call('ZADD', k, out[i], a)
      elseif op == 'zrem' then call('ZREM', k, a)
      elseif op == 'exp' then
        if b ~= '0' then call('PEXPIRE', k, b) else call('PERSIST', k) end
      end
    end
  end
end

local enc = '1|' .. table.concat(res, ',')
if ARGV[1] ~= '0' then
  flush()
  call('SET', KEYS[1], enc, 'PX', ARGV[1])
else
  ms[nm + 1] = KEYS[1]; ms[nm + 2] = enc; nm = nm + 2
  flush()
end
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

/**
 * The Lua scripts of the shared tier. Each runs atomically in Redis, so a purge, a fill and a
 * lock change can never interleave. Times are Redis's own clock (TIME, in ms): every gateway
 * compares against the same clock, so clock skew between gateway hosts does not matter.
 *
 * Keys (all under the configured prefix P):
 *   P s:<cacheKey>   the stored value (JSON summary or negative marker), PX = its TTL
 *   P i:<identityId> set of the cacheKeys of that identity's sessions (for purge by identity)
 *   P l:<cacheKey>   fill lock: one instance asks Kratos for a new credential, the fleet waits
 *   P p:k:<cacheKey>, P p:i:<identityId>   purge markers: when the key / identity was last purged
 *   P r:<cacheKey>   revalidation claim: one instance re-checks an old entry for the fleet
 *   P hb:<origin>    never written: the heartbeat DELetes it to learn whether Redis takes writes
 * Channels: P invalidate (purges, JSON), P filled (a fill lock released: the cacheKey).
 *
 * Commands sent (for an ACL user): AUTH, EVALSHA (EVAL after a Redis restart flushed the
 * scripts), PING, DEL (the heartbeat), SUBSCRIBE (SELECT only when the URL names a database); inside the scripts
 * TIME, GET, SET, DEL, PTTL, PEXPIRE, SADD, SMEMBERS, PUBLISH.
 */

/** Lua: Redis time in ms as an exact decimal string (a Lua number passed to redis.call may be printed as 1.7e+12). */
const NOW = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local nowText = string.format('%d', now)`;

/**
 * LOAD: the value if held, else the fill lock if free, else "wait".
 * KEYS: s:key, l:key. ARGV: lock token, lock PX.
 * Returns {kind, value, pttl, now}: kind 1 = found (value, its PTTL), 2 = lock taken by us,
 * 3 = someone else holds the lock (its PTTL). `now` is the start of this miss in Redis time.
 */
export const LOAD = `${NOW}
local v = redis.call('GET', KEYS[1])
if v then return {1, v, redis.call('PTTL', KEYS[1]), nowText} end
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then return {2, '', 0, nowText} end
return {3, '', redis.call('PTTL', KEYS[2]), nowText}`;

/**
 * KEEP: stores an answer Kratos gave for a miss that began at ARGV[3] (Redis ms), unless a
 * purge of the key or its identity came at or after that start minus the margin, or the
 * miss is so old that a marker may have expired. Then releases the fill lock if ARGV[4] is
 * our token and tells waiters.
 * KEYS: s:key, l:key, p:k:key, p:i:identity (or p:k:key again for a negative), i:identity (idem).
 * ARGV: value, PX, started, lock token or '', margin ms, max age ms, '1' when a session
 * (indexed under its identity) else '0', filled channel, cacheKey.
 * Returns 1 when stored, 0 when refused.
 */
export const KEEP = `${NOW}
local started = tonumber(ARGV[3])
local floor = started - tonumber(ARGV[5])
local ok = now - started <= tonumber(ARGV[6])
local mk = redis.call('GET', KEYS[3])
if mk and tonumber(mk) >= floor then ok = false end
if ARGV[7] == '1' then
  local mi = redis.call('GET', KEYS[4])
  if mi and tonumber(mi) >= floor then ok = false end
end
if ok then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  if ARGV[7] == '1' then
    redis.call('SADD', KEYS[5], ARGV[9])
    if redis.call('PTTL', KEYS[5]) < tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[5], ARGV[2]) end
  end
end
if ARGV[4] ~= '' then
  if redis.call('GET', KEYS[2]) == ARGV[4] then redis.call('DEL', KEYS[2]) end
  redis.call('PUBLISH', ARGV[8], ARGV[9])
end
if ok then return 1 end
return 0`;

/**
 * RELEASE: gives the fill lock back without an answer (step-up, whoami failed, purged) and
 * tells waiters, who then ask Kratos themselves.
 * KEYS: l:key. ARGV: token, filled channel, cacheKey.
 */
export const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
redis.call('PUBLISH', ARGV[2], ARGV[3])
return 1`;

/**
 * PURGE_KEY: drops one stored value, marks the key purged now, and tells the fleet.
 * The DEL comes first: out of memory (noeviction), Redis refuses a script whose first write is
 * a SET, but not one that has already called DEL, so a purge still reaches the fleet then.
 * KEYS: s:key, p:k:key. ARGV: marker PX, invalidate channel, message. Returns how many values were dropped.
 */
export const PURGE_KEY = `${NOW}
local n = redis.call('DEL', KEYS[1])
redis.call('SET', KEYS[2], nowText, 'PX', ARGV[1])
redis.call('PUBLISH', ARGV[2], ARGV[3])
return n`;

/**
 * PURGE_IDENTITY: drops every stored session of an identity, marks it purged now, and tells
 * the fleet. KEYS: i:identity, p:i:identity. ARGV: marker PX, invalidate channel, message,
 * the prefix of value keys (P s:). Returns how many values were dropped.
 */
export const PURGE_IDENTITY = `${NOW}
local n = 0
for _, k in ipairs(redis.call('SMEMBERS', KEYS[1])) do n = n + redis.call('DEL', ARGV[4] .. k) end
redis.call('DEL', KEYS[1])
redis.call('SET', KEYS[2], nowText, 'PX', ARGV[1])
redis.call('PUBLISH', ARGV[2], ARGV[3])
return n`;

/**
 * REVALIDATE: who re-checks an old entry for the fleet. The stored value if it was checked
 * after ARGV[1] (another instance re-checked it), else the claim if free, else "elsewhere".
 * KEYS: s:key, r:key. ARGV: checkedAtMs of the caller's entry, claim PX.
 * Returns {kind, value, pttl, now}: 1 = newer value (its PTTL), 2 = claimed, 3 = claimed elsewhere.
 */
export const REVALIDATE = `${NOW}
local v = redis.call('GET', KEYS[1])
if v then
  local ok, decoded = pcall(cjson.decode, v)
  if ok and type(decoded) == 'table' and type(decoded.checkedAtMs) == 'number' and decoded.checkedAtMs > tonumber(ARGV[1]) then
    return {1, v, redis.call('PTTL', KEYS[1]), nowText}
  end
end
if redis.call('SET', KEYS[2], '1', 'NX', 'PX', ARGV[2]) then return {2, '', 0, nowText} end
return {3, '', 0, nowText}`;

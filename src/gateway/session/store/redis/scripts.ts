/**
 * The Lua scripts of the shared tier, and every command the gateway sends Redis. Each script
 * runs atomically in Redis, so a purge, a fill and a lock change can never interleave. Times
 * are Redis's own clock (TIME, in ms): every gateway compares against the same clock, so clock
 * skew between gateway hosts does not matter.
 *
 * Keys (all under the configured prefix P):
 *   P s:<cacheKey>   the stored session (JSON summary), PX = its TTL; or, while one instance
 *                    asks Kratos for a new credential, its fill lock (FILL_LOCK…), PX = the lock's
 *   P i:<identityId> set of the cacheKeys of that identity's sessions (for purge by identity)
 *   P p:k:<cacheKey>, P p:i:<identityId>   purge markers: when the key / identity was last purged
 *                    (an identity of one of kratos_instances is `<instance>` NUL `<id>`: cache-key.ts)
 *   P r:<cacheKey>   revalidation claim: one instance re-checks an old entry for the fleet
 *   P hb:<origin>    the heartbeat DELetes it (never written) to learn whether Redis takes
 *                    writes; the permission check writes and deletes it within one script
 * Channels: P invalidate (purges, JSON), P filled (a fill lock released: the cacheKey),
 * P wait:<origin> (another instance waits on that instance's fill: "<lock token> <cacheKey>").
 *
 * Every command is declared here, so the ACL user's command list (aclSetUser), the check at
 * connect (permission-probe.ts) and the tests that parse the scripts share one source.
 */
import type { Redis } from 'ioredis';

/** A command the gateway sends, at top level or from a script (as Redis names it, upper case). */
export type RedisCommand =
  | 'AUTH'
  | 'DEL'
  | 'EVAL'
  | 'EVALSHA'
  | 'GET'
  | 'PEXPIRE'
  | 'PING'
  | 'PTTL'
  | 'PUBLISH'
  | 'SADD'
  | 'SET'
  | 'SMEMBERS'
  | 'SUBSCRIBE'
  | 'TIME';

/** A Lua script and the commands it calls (redis.call/pcall): a test checks the list against the text. */
export interface Script {
  readonly lua: string;
  readonly keys: number;
  readonly calls: readonly RedisCommand[];
}

/**
 * Sent at top level: AUTH (with credentials; allowed to every user), EVALSHA (EVAL after a Redis
 * restart flushed the scripts), the miss's SET … NX GET and its PTTL on a hit, GET when out of
 * memory, PUBLISH (a waiting notice), PING and DEL (heartbeat), SUBSCRIBE. SELECT only when the
 * URL names a database (not part of the recommended user: leave the database out).
 */
export const TOP_LEVEL: readonly RedisCommand[] = ['AUTH', 'EVALSHA', 'EVAL', 'SET', 'PTTL', 'GET', 'PUBLISH', 'PING', 'DEL', 'SUBSCRIBE'];

/** Commands every authenticated user may run, which an ACL rule does not name. */
const ALWAYS_ALLOWED: ReadonlySet<RedisCommand> = new Set(['AUTH']);

/**
 * The value of a fill lock in P s:<cacheKey>: never JSON (a stored session always is), and names
 * the instance holding it, so a waiter can tell that instance (and no other) that it waits.
 */
export const FILL_LOCK = 'fill ';

/** Lua: Redis time in ms as an exact decimal string (a Lua number passed to redis.call may be printed as 1.7e+12). */
const NOW = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local nowText = string.format('%d', now)`;

/**
 * KEEP: stores a session Kratos gave for a miss, unless a purge of the key or its identity came
 * at or after the miss began (minus the margin), or the miss is so old that a marker may have
 * expired. With a fill lock (ARGV[4]) the miss began when the lock was taken, known from its
 * remaining PTTL, and only a lock still ours may be replaced: a purge of the key deleted it.
 * Without one (a revalidation claim) the miss began at ARGV[3]. A lock of ours is released when
 * the value is refused; waiters are told only when there are any (ARGV[10]).
 * KEYS: s:key, p:k:key, p:i:identity, i:identity.
 * ARGV: value, PX, started or '', lock or '', margin ms, max age ms, lock PX, filled channel,
 * cacheKey, '1' to publish. Returns 1 when stored, 0 when refused.
 */
export const KEEP: Script = {
  keys: 4,
  calls: ['TIME', 'GET', 'PTTL', 'SET', 'SADD', 'PEXPIRE', 'DEL', 'PUBLISH'],
  lua: `${NOW}
local ok = true
local held = false
local started
if ARGV[4] ~= '' then
  held = redis.call('GET', KEYS[1]) == ARGV[4]
  if held then started = now - tonumber(ARGV[7]) + redis.call('PTTL', KEYS[1]) else ok = false end
else
  started = tonumber(ARGV[3])
  ok = now - started <= tonumber(ARGV[6])
end
if ok then
  local floor = started - tonumber(ARGV[5])
  local mk = redis.call('GET', KEYS[2])
  if mk and tonumber(mk) >= floor then ok = false end
  local mi = redis.call('GET', KEYS[3])
  if mi and tonumber(mi) >= floor then ok = false end
end
if ok then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  redis.call('SADD', KEYS[4], ARGV[9])
  if redis.call('PTTL', KEYS[4]) < tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[4], ARGV[2]) end
elseif held then
  redis.call('DEL', KEYS[1])
end
if ARGV[10] == '1' then redis.call('PUBLISH', ARGV[8], ARGV[9]) end
if ok then return 1 end
return 0`,
};

/**
 * RELEASE: gives a fill lock back without an answer to share (not a session, step-up, whoami
 * failed, purged) and tells waiters, who then ask Kratos themselves. Sent only when an
 * instance waits. KEYS: s:key. ARGV: lock, filled channel, cacheKey.
 */
export const RELEASE: Script = {
  keys: 1,
  calls: ['GET', 'DEL', 'PUBLISH'],
  lua: `if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
redis.call('PUBLISH', ARGV[2], ARGV[3])
return 1`,
};

/**
 * PURGE_KEY: drops one stored value (or a fill lock, whose answer is then refused), marks the
 * key purged now, and tells the fleet. The DEL comes first: out of memory (noeviction), Redis
 * refuses a script whose first write is a SET, but not one that has already called DEL, so a
 * purge still reaches the fleet then.
 * KEYS: s:key, p:k:key. ARGV: marker PX, invalidate channel, message. Returns how many values were dropped.
 */
export const PURGE_KEY: Script = {
  keys: 2,
  calls: ['TIME', 'DEL', 'SET', 'PUBLISH'],
  lua: `${NOW}
local n = redis.call('DEL', KEYS[1])
redis.call('SET', KEYS[2], nowText, 'PX', ARGV[1])
redis.call('PUBLISH', ARGV[2], ARGV[3])
return n`,
};

/**
 * PURGE_IDENTITY: drops every stored session of an identity, marks it purged now, and tells
 * the fleet. KEYS: i:identity, p:i:identity. ARGV: marker PX, invalidate channel, message,
 * the prefix of value keys (P s:). Returns how many values were dropped.
 */
export const PURGE_IDENTITY: Script = {
  keys: 2,
  calls: ['TIME', 'SMEMBERS', 'DEL', 'SET', 'PUBLISH'],
  lua: `${NOW}
local n = 0
for _, k in ipairs(redis.call('SMEMBERS', KEYS[1])) do n = n + redis.call('DEL', ARGV[4] .. k) end
redis.call('DEL', KEYS[1])
redis.call('SET', KEYS[2], nowText, 'PX', ARGV[1])
redis.call('PUBLISH', ARGV[2], ARGV[3])
return n`,
};

/**
 * REVALIDATE: who re-checks an old entry for the fleet. The stored value if it was checked
 * after ARGV[1] (another instance re-checked it), else the claim if free, else "elsewhere".
 * KEYS: s:key, r:key. ARGV: checkedAtMs of the caller's entry, claim PX.
 * Returns {kind, value, pttl, now}: 1 = newer value (its PTTL), 2 = claimed, 3 = claimed elsewhere.
 */
export const REVALIDATE: Script = {
  keys: 2,
  calls: ['TIME', 'GET', 'PTTL', 'SET'],
  lua: `${NOW}
local v = redis.call('GET', KEYS[1])
if v then
  local ok, decoded = pcall(cjson.decode, v)
  if ok and type(decoded) == 'table' and type(decoded.checkedAtMs) == 'number' and decoded.checkedAtMs > tonumber(ARGV[1]) then
    return {1, v, redis.call('PTTL', KEYS[1]), nowText}
  end
end
if redis.call('SET', KEYS[2], '1', 'NX', 'PX', ARGV[2]) then return {2, '', 0, nowText} end
return {3, '', 0, nowText}`,
};

/** The scripts as ioredis defines them (EVALSHA, falling back to EVAL). */
export const SCRIPTS = {
  kgKeep: KEEP,
  kgRelease: RELEASE,
  kgRevalidate: REVALIDATE,
  kgPurgeKey: PURGE_KEY,
  kgPurgeIdentity: PURGE_IDENTITY,
} as const satisfies Record<string, Script>;

/** [kind, value, pttl, now] from REVALIDATE. */
export type ClaimReply = [number, string, number, string];

/** The scripts as ioredis commands (EVALSHA, falling back to EVAL after a Redis restart). */
export interface ScriptedRedis extends Redis {
  kgKeep(...args: (string | number)[]): Promise<number>;
  kgRelease(s: string, lock: string, channel: string, key: string): Promise<number>;
  kgRevalidate(s: string, r: string, checkedAtMs: number, px: number): Promise<ClaimReply>;
  kgPurgeKey(s: string, p: string, px: number, channel: string, msg: string): Promise<number>;
  kgPurgeIdentity(i: string, p: string, px: number, channel: string, msg: string, sPrefix: string): Promise<number>;
}

/** Defines every script of SCRIPTS on `conn`. */
export function withScripts(conn: Redis): ScriptedRedis {
  for (const [name, s] of Object.entries(SCRIPTS)) conn.defineCommand(name, { numberOfKeys: s.keys, lua: s.lua });
  return conn as ScriptedRedis;
}

/** Every command the gateway may send, sorted: top level and from the scripts. */
export function commandsSent(): RedisCommand[] {
  const all = new Set<RedisCommand>(TOP_LEVEL);
  for (const s of Object.values(SCRIPTS)) for (const c of s.calls) all.add(c);
  return [...all].sort();
}

/**
 * The ACL rule docs/fleet.md recommends: a user confined to the key prefix and its channels,
 * allowed exactly the commands the gateway sends. `reset` first, so running it again (after an
 * upgrade that sends a new command) leaves exactly this user; `resetchannels` after it, since
 * on Redis 6.2 `reset` grants every channel where acl-pubsub-default is allchannels.
 */
export function aclSetUser(keyPrefix = 'kratos-gateway:', user = 'kratos-gateway', password = 'GATEWAY_PASSWORD'): string {
  const commands = commandsSent().filter((c) => !ALWAYS_ALLOWED.has(c));
  return [
    `ACL SETUSER ${user} reset on >${password} resetchannels ~${keyPrefix}* &${keyPrefix}*`,
    ...commands.map((c) => '+' + c.toLowerCase()),
  ].join(' ');
}

/**
 * At connect: may this Redis user run every command the gateway sends (scripts.ts)?
 *
 * An ACL that lacks one does not fail the connection: Redis refuses that command only when it is
 * sent, which for a purge means a logout that never reaches the other instances while every
 * instance looks healthy. So before the store reports itself up, it runs PROBE once per
 * connection: a script generated from the same declaration as the ACL rule, which calls every
 * command a script or the store sends on keys of this instance's own (deleted again within the
 * script) and on the store's channels (messages every instance ignores), with redis.pcall, and
 * returns the ones Redis refused. It is sent with EVAL, EVALSHA is tried with an unknown digest
 * (Redis checks the ACL before looking the script up), and SUBSCRIBE is checked by the store's
 * own subscription. Not ACL DRYRUN: that needs the `acl` command (administrative, and it would
 * reveal every user's rules), which the gateway's user must not have, and Redis 7.0 or later.
 */
import { ReplyError, type Redis } from 'ioredis';
import type { RedisCommand } from './scripts.js';

/** What the probe found: commands the ACL refuses, and other errors (a Redis too old for a command's form). */
export interface PermissionReport {
  missing: string[];
  errors: string[];
}

/** Commands a script can call; the others are checked apart (see the file comment). */
type Probed = Exclude<RedisCommand, 'AUTH' | 'EVAL' | 'EVALSHA' | 'SUBSCRIBE'>;

/**
 * How each command is run by the probe: in the form the gateway sends it, on the probe's keys
 * (KEYS[1] a string, KEYS[2] a set, both deleted at the end) and channels (ARGV). A command
 * added to RedisCommand does not compile until it is given a harmless form here.
 */
const HARMLESS: Record<Probed, string> = {
  DEL: `'DEL', KEYS[1], KEYS[2]`,
  TIME: `'TIME'`,
  PING: `'PING'`,
  GET: `'GET', KEYS[1]`,
  // The miss's form: NX together with GET needs Redis 7.0 (an error, not a refusal, before).
  SET: `'SET', KEYS[1], '1', 'PX', '60000', 'NX', 'GET'`,
  PTTL: `'PTTL', KEYS[1]`,
  PEXPIRE: `'PEXPIRE', KEYS[1], '60000'`,
  SADD: `'SADD', KEYS[2], '1'`,
  SMEMBERS: `'SMEMBERS', KEYS[2]`,
  PUBLISH: `'PUBLISH', channel, ''`,
};

/**
 * What the form a command is sent in needs of Redis, said with an error (not a refusal) Redis
 * answers it with: Redis 6.2 and older answer the miss's SET with a syntax error.
 */
const NEEDS: Partial<Record<Probed, string>> = {
  SET: 'the gateway sends SET … PX … NX GET, which needs Redis 7.0 or later, or Valkey',
};

/**
 * Generated from HARMLESS. DEL first: out of memory, Redis refuses a script whose first write is
 * anything else. Returns the errors as {name, error, name, error, …}.
 */
export const PROBE = `local errors = {}
local function try(name, ...)
  local r = redis.pcall(name, ...)
  if type(r) == 'table' and r.err then
    errors[#errors + 1] = name
    errors[#errors + 1] = r.err
  end
end
try(${HARMLESS.DEL})
${(Object.keys(HARMLESS) as Probed[])
  .filter((c) => c !== 'DEL' && c !== 'PUBLISH')
  .map((c) => `try(${HARMLESS[c]})`)
  .join('\n')}
for _, channel in ipairs(ARGV) do try(${HARMLESS.PUBLISH}) end
redis.pcall(${HARMLESS.DEL})
return errors`;

/**
 * An error of `name` as the report lists it: a refusal (NOPERM at top level, "The user executing
 * the script can't …" in a script) by the command's name, with what else was refused (a key or
 * channel outside the user's patterns); anything else as an error.
 */
function classify(report: PermissionReport, name: string, message: string): void {
  const first = message.split('\n')[0]!;
  const upper = name.toUpperCase();
  if (!/^NOPERM|executing the script can't/.test(first)) {
    const needs = NEEDS[upper as Probed];
    return void report.errors.push(`${upper}: ${first}${needs === undefined ? '' : ` (${needs})`}`);
  }
  if (/can't access at least one of the keys|access a key/.test(first)) report.missing.push(`${upper} (on the key prefix)`);
  else if (/publish to the channel|access a channel/.test(first)) report.missing.push(`${upper} (on the channels)`);
  else report.missing.push(upper);
}

/** An unknown script digest: EVALSHA of it is refused by the ACL (NOPERM) or answered NOSCRIPT. */
const NO_SUCH_SCRIPT = '0'.repeat(40);

/**
 * Runs the checks on the command connection. Rejects only when Redis did not answer (timeout,
 * connection lost): then nothing is known yet, and the caller asks again later.
 */
export async function probePermissions(
  cmd: Redis,
  keys: readonly [string, string],
  channels: readonly string[],
  within: <T>(p: Promise<T>) => Promise<T>,
): Promise<PermissionReport> {
  const report: PermissionReport = { missing: [], errors: [] };
  const refusal = (err: unknown, name: string): void => {
    if (!(err instanceof ReplyError)) throw err;
    const message = (err as Error).message;
    if (!message.startsWith('NOSCRIPT')) classify(report, name, message);
  };
  try {
    const errors = (await within(cmd.eval(PROBE, 2, ...keys, ...channels))) as string[];
    for (let i = 0; i + 1 < errors.length; i += 2) classify(report, errors[i]!, errors[i + 1]!);
  } catch (err) {
    refusal(err, 'EVAL');
  }
  await within(cmd.evalsha(NO_SUCH_SCRIPT, 0)).catch((err: unknown) => refusal(err, 'EVALSHA'));
  report.missing = [...new Set(report.missing)].sort();
  return report;
}

/** SUBSCRIBE refused by the ACL (the command, or a channel): the store reports it with the probe's findings. */
export function subscribeRefused(err: unknown): string | undefined {
  const message = err instanceof ReplyError ? (err as Error).message : '';
  if (!message.startsWith('NOPERM')) return undefined;
  const report: PermissionReport = { missing: [], errors: [] };
  classify(report, 'SUBSCRIBE', message);
  return report.missing[0];
}

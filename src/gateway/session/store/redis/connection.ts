/**
 * How the shared store's connections are made and bounded: credentials out of the URL, the
 * scripts as commands, and a timeout on every command a caller waits for.
 */
import type { Redis } from 'ioredis';
import { SCRIPTS } from './scripts.js';

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

/** A command that did not answer within its bound (the command itself is not cancelled). */
export class Timeout extends Error {}

/** Rejects with Timeout past `ms`. */
export function within<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Timeout(`Redis did not answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/**
 * User and password as options, the password from the file winning over the URL's: ioredis
 * lets anything in the URL (even an empty password) win over its options. ioredis also takes
 * every query parameter as an option, `?password=` and `?username=` included: read here as the
 * userinfo would be (the userinfo first), and taken out of the URL (see withoutCredentials).
 */
export function credentialsOf(url: string, password: string | undefined): { username?: string; password?: string } {
  const u = new URL(url);
  const user = decodeURIComponent(u.username) || (u.searchParams.get('username') ?? '');
  const pass = password ?? (decodeURIComponent(u.password) || (u.searchParams.get('password') ?? ''));
  return { ...(user !== '' && { username: user }), ...(pass !== '' && { password: pass }) };
}

/** The URL ioredis is given: no userinfo, no `username`/`password` query parameters. */
export function withoutCredentials(url: string): string {
  const u = new URL(url);
  u.username = '';
  u.password = '';
  u.searchParams.delete('username');
  u.searchParams.delete('password');
  return u.href;
}

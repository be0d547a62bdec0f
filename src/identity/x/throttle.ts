/**
 * Backoff per identifier and per client address, for failed password logins
 * (`kratos_gateway.login_throttling`) and for recovery/verification emails
 * (`kratos_gateway.email_throttling`). Kratos v0.6 has nothing like it (30 wrong passwords in
 * under a second, then a successful login, all pass); this is an embedded-server addition.
 *
 * After `max` counted events (failed logins, emails sent) for a key, further attempts are
 * refused until a delay has passed that doubles with every further event (`base_delay`, 2×,
 * 4×, … capped at `max_delay`). Events are forgotten `reset_after` after the last one; a
 * successful login clears the identifier's record (not the client's: an attacker with one
 * valid account could otherwise reset their address's record between sprays).
 *
 * State is in memory, bounded by `max_tracked` entries per kind (least recently touched are
 * dropped first). That is enough here: the records live at most `reset_after`, the embedded
 * server is one process (SQLite has one writer), a restart is not something an attacker can
 * trigger, and a failed login does not cost a database write.
 */
import { createHash } from 'node:crypto';
import { BlockList, isIP } from 'node:net';

export interface BackoffLimit {
  /** Counted events (failures, emails) allowed before attempts are refused; 0 turns this limit off. */
  maxFailures: number;
  baseDelayMs: number;
  maxDelayMs: number;
  resetAfterMs: number;
}

export interface ThrottleConfig {
  enabled: boolean;
  /** Peers whose X-Forwarded-For is believed (the gateway's mount connects from loopback). */
  trustedProxies: string[];
  /** The login identifier, or the email address a link is sent to. */
  perIdentifier: BackoffLimit;
  perClient: BackoffLimit;
  maxTracked: number;
}

interface Entry {
  failures: number;
  lastFailureAt: number;
  blockedUntil: number;
  /** Attempts whose password check is still running: a parallel burst must not all get through. */
  inFlight: number;
}

/** While a password check for a key is running, a parallel attempt is told to come back in a second. */
const IN_FLIGHT_RETRY_MS = 1000;

class BackoffTable {
  // A Map iterates in insertion order; re-inserting on every touch makes the first key the least recently used.
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly limit: BackoffLimit,
    private readonly maxTracked: number,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  private touch(key: string, now: number): Entry {
    let e = this.entries.get(key);
    if (e) {
      this.entries.delete(key);
      if (e.failures > 0 && e.inFlight === 0 && e.blockedUntil <= now && now - e.lastFailureAt >= this.limit.resetAfterMs) e = undefined;
    }
    e ??= { failures: 0, lastFailureAt: 0, blockedUntil: 0, inFlight: 0 };
    this.entries.set(key, e);
    while (this.entries.size > this.maxTracked) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.entries.delete(oldest);
    }
    return e;
  }

  /**
   * Milliseconds until the key may try again, or 0 when it may now. Never creates an entry:
   * only attempts let through (begin) do. Otherwise refused attempts, which cost nothing,
   * could fill the table with made-up keys and evict the records of blocked ones.
   */
  waitMs(key: string, now: number): number {
    if (this.limit.maxFailures === 0) return 0;
    if (!this.entries.has(key)) return 0;
    const e = this.touch(key, now);
    if (e.blockedUntil > now) return e.blockedUntil - now;
    // Below the limit, only as many attempts may run at once as failures are left; in backoff, one.
    if (e.inFlight >= Math.max(1, this.limit.maxFailures - e.failures)) return IN_FLIGHT_RETRY_MS;
    return 0;
  }

  begin(key: string, now: number): void {
    if (this.limit.maxFailures === 0) return;
    this.touch(key, now).inFlight++;
  }

  failed(key: string, now: number): void {
    if (this.limit.maxFailures === 0) return;
    const e = this.touch(key, now);
    e.inFlight = Math.max(0, e.inFlight - 1);
    e.failures++;
    e.lastFailureAt = now;
    if (e.failures >= this.limit.maxFailures) {
      const doublings = Math.min(e.failures - this.limit.maxFailures, 40);
      e.blockedUntil = now + Math.min(this.limit.maxDelayMs, this.limit.baseDelayMs * 2 ** doublings);
    }
  }

  /** The attempt succeeded: `reset` forgets the key's failures, otherwise only the attempt ends. */
  succeeded(key: string, now: number, reset: boolean): void {
    if (this.limit.maxFailures === 0) return;
    if (reset) {
      this.entries.delete(key);
      return;
    }
    const e = this.touch(key, now);
    e.inFlight = Math.max(0, e.inFlight - 1);
  }

  /** The attempt ended before a password was checked (e.g. an internal error). */
  abandoned(key: string, now: number): void {
    if (this.limit.maxFailures === 0) return;
    const e = this.touch(key, now);
    e.inFlight = Math.max(0, e.inFlight - 1);
  }
}

export interface ThrottleKeys {
  identifier: string;
  client: string;
}

export type ThrottleVerdict = { allowed: true } | { allowed: false; retryAfterSeconds: number; by: 'identifier' | 'client' };

export class Throttle {
  private readonly identifiers: BackoffTable;
  private readonly clients: BackoffTable;
  private readonly trusted = new BlockList();
  private readonly trustsAnyone: boolean;

  constructor(private readonly cfg: ThrottleConfig) {
    this.identifiers = new BackoffTable(cfg.perIdentifier, cfg.maxTracked);
    this.clients = new BackoffTable(cfg.perClient, cfg.maxTracked);
    this.trustsAnyone = cfg.trustedProxies.length > 0;
    for (const entry of cfg.trustedProxies) addToBlockList(this.trusted, entry);
  }

  get enabled(): boolean {
    return this.cfg.enabled;
  }

  /** Entries currently held, for tests of the memory bound. */
  get tracked(): { identifiers: number; clients: number } {
    return { identifiers: this.identifiers.size, clients: this.clients.size };
  }

  private trusts(address: string | undefined): boolean {
    if (!this.trustsAnyone || address === undefined) return false;
    const plain = address.startsWith('::ffff:') ? address.slice(7) : address;
    const family = isIP(plain);
    return family !== 0 && this.trusted.check(plain, family === 6 ? 'ipv6' : 'ipv4');
  }

  /**
   * The client's address: the TCP peer, unless the peer is a trusted proxy (by default only
   * loopback, which is where the gateway's mount connects from). Then X-Forwarded-For is read
   * right to left past trusted hops, so a client cannot pick its address by prepending entries.
   */
  clientAddress(peer: string | undefined, xff: string | string[] | undefined): string {
    const fallback = peer ?? 'unknown';
    if (!this.trusts(peer) || xff === undefined) return fallback;
    const hops = (Array.isArray(xff) ? xff.join(',') : xff).split(',').map((h) => h.trim());
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = hops[i] ?? '';
      if (!this.trusts(hop)) return isIP(hop) !== 0 ? hop : fallback;
    }
    return hops[0] || fallback;
  }

  /**
   * Keys for an attempt; the identifier is hashed so the table holds no identifiers and
   * bounded-size keys. An IPv6 client is keyed by its /64: one subscriber or host is given a
   * whole /64 and can use any address in it, so a per-address limit would not limit it.
   */
  keys(identifier: string, client: string): ThrottleKeys {
    return { identifier: createHash('sha256').update(identifier.trim().toLowerCase()).digest('base64url'), client: clientKey(client) };
  }

  /** Checks both limits and, when allowed, counts the attempt as running. */
  begin(k: ThrottleKeys, now: number): ThrottleVerdict {
    if (!this.cfg.enabled) return { allowed: true };
    const byIdentifier = this.identifiers.waitMs(k.identifier, now);
    const byClient = this.clients.waitMs(k.client, now);
    if (byIdentifier > 0 || byClient > 0) {
      const by = byIdentifier >= byClient ? 'identifier' : 'client';
      return { allowed: false, by, retryAfterSeconds: Math.max(1, Math.ceil(Math.max(byIdentifier, byClient) / 1000)) };
    }
    this.identifiers.begin(k.identifier, now);
    this.clients.begin(k.client, now);
    return { allowed: true };
  }

  /** Counts the attempt: a failed login, or an email sent. */
  failed(k: ThrottleKeys, now: number): void {
    if (!this.cfg.enabled) return;
    this.identifiers.failed(k.identifier, now);
    this.clients.failed(k.client, now);
  }

  succeeded(k: ThrottleKeys, now: number): void {
    if (!this.cfg.enabled) return;
    this.identifiers.succeeded(k.identifier, now, true);
    this.clients.succeeded(k.client, now, false);
  }

  abandoned(k: ThrottleKeys, now: number): void {
    if (!this.cfg.enabled) return;
    this.identifiers.abandoned(k.identifier, now);
    this.clients.abandoned(k.client, now);
  }
}

/** The per-client key: an IPv4 address as it is (v4-mapped ones unwrapped), an IPv6 address as its /64. */
export function clientKey(address: string): string {
  const plain = address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
  if (isIP(plain) !== 6) return plain;
  const bare = plain.split('%')[0]!.toLowerCase(); // a zone index is not part of the address
  const [head = '', tail] = bare.split('::');
  const groups = (part: string) => (part === '' ? [] : part.split(':'));
  // An embedded IPv4 tail (a.b.c.d) is two groups, and only ever in the last 32 bits.
  const width = (gs: string[]) => gs.reduce((n, g) => n + (g.includes('.') ? 2 : 1), 0);
  const h = groups(head);
  const full = tail === undefined ? h : [...h, ...Array<string>(8 - width(h) - width(groups(tail))).fill('0'), ...groups(tail)];
  const prefix = full.slice(0, 4).map((g) => (g.includes('.') ? g : parseInt(g, 16).toString(16)));
  return `${prefix.join(':')}::/64`;
}

/** Adds an address or CIDR; returns false when it is neither (config validation uses this). */
export function addToBlockList(list: BlockList, entry: string): boolean {
  const [addr = '', bits, ...rest] = entry.split('/');
  const plain = addr.startsWith('::ffff:') ? addr.slice(7) : addr;
  const family = isIP(plain);
  if (family === 0 || rest.length > 0) return false;
  const type = family === 6 ? 'ipv6' : 'ipv4';
  if (bits === undefined) {
    list.addAddress(plain, type);
    return true;
  }
  // Digits only: Number('') is 0, and "10.0.0.0/" must not mean "every address".
  const n = /^\d{1,3}$/.test(bits) ? Number(bits) : NaN;
  if (!(n >= 0 && n <= (family === 6 ? 128 : 32))) return false;
  list.addSubnet(plain, n, type);
  return true;
}

export function isAddressOrCidr(entry: string): boolean {
  return addToBlockList(new BlockList(), entry);
}

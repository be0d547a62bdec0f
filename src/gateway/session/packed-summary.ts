/**
 * The compact form of a session summary, as the cache keeps it. What the gateway reads of a
 * session (identity headers, policies, the assertion) is a handful of strings per session, so
 * the structure around them is what costs: a Map per summary is ~180 bytes before its first
 * entry. Here the paths live once per configuration (SummaryLayout) and each summary holds
 * only an array of values in the layout's order, read through small views that implement the
 * ReadonlyMap/ReadonlySet the rest of the gateway reads.
 */
import type { SessionSummary, TokenizedSession } from './summary-types.js';

/** Paths whose values policies read as claims (a scalar or a list of scalars). */
export function isClaimPath(path: string): boolean {
  return path.startsWith('identity.traits.') || path.startsWith('identity.metadata_public.');
}

/** The value paths of one configuration, each with its slot: shared by every summary built for it. */
export class SummaryLayout {
  readonly paths: readonly string[];
  readonly slots: ReadonlyMap<string, number>;
  /** Slots of the claim paths (a subset of `slots`, same numbers). */
  readonly claimSlots: ReadonlyMap<string, number>;
  readonly isClaim: readonly boolean[];
  /** Per slot, the path's segments inside the whoami body (`session.…` names the body itself, `identity.…` a field of it). */
  readonly bodyPaths: ReadonlyArray<readonly string[]>;

  constructor(paths: readonly string[]) {
    this.paths = [...new Set(paths)];
    this.slots = new Map(this.paths.map((p, i) => [p, i]));
    this.isClaim = this.paths.map(isClaimPath);
    this.claimSlots = new Map(this.paths.flatMap((p, i) => (this.isClaim[i] ? [[p, i] as const] : [])));
    this.bodyPaths = this.paths.map((p) => {
      const segments = p.split('.');
      return segments[0] === 'session' ? segments.slice(1) : segments;
    });
  }

  private static readonly byPaths = new Map<string, SummaryLayout>();

  /**
   * The layout for these paths, one instance per distinct list (bounded: a decoder meeting
   * ever new lists gets fresh layouts rather than growing this without end).
   */
  static of(paths: readonly string[]): SummaryLayout {
    const key = JSON.stringify(paths);
    let layout = SummaryLayout.byPaths.get(key);
    if (layout === undefined) {
      layout = new SummaryLayout(paths);
      if (SummaryLayout.byPaths.size < 256) SummaryLayout.byPaths.set(key, layout);
    }
    return layout;
  }
}

/** One claim per claim slot; `undefined` where the session has none. */
type ClaimSlots = ReadonlyArray<readonly string[] | undefined>;

/** Claim slots below this can be marked "the value, as a one-element list" in a Smi bit mask. */
const MASKED_SLOTS = 30;

/**
 * Path → header-safe value, and the claims of the claim paths: a claim whose bit is set in
 * `sameClaims` is its slot's value as a one-element list (the usual case: a printable-ASCII
 * scalar is its own header value), any other is in `claims` (absent when there is none).
 */
export class PathValues implements ReadonlyMap<string, string> {
  constructor(
    readonly layout: SummaryLayout,
    readonly slots: ReadonlyArray<string | undefined>,
    readonly claims: ClaimSlots | undefined,
    readonly sameClaims: number,
  ) {}

  get(path: string): string | undefined {
    const i = this.layout.slots.get(path);
    return i === undefined ? undefined : this.slots[i];
  }
  has(path: string): boolean {
    return this.get(path) !== undefined;
  }
  get size(): number {
    let n = 0;
    for (const v of this.slots) if (v !== undefined) n++;
    return n;
  }
  *entries(): MapIterator<[string, string]> {
    const paths = this.layout.paths;
    for (let i = 0; i < paths.length; i++) {
      const v = this.slots[i];
      if (v !== undefined) yield [paths[i]!, v];
    }
  }
  *keys(): MapIterator<string> {
    for (const [k] of this.entries()) yield k;
  }
  *values(): MapIterator<string> {
    for (const [, v] of this.entries()) yield v;
  }
  forEach(fn: (value: string, key: string, map: ReadonlyMap<string, string>) => void, thisArg?: unknown): void {
    for (const [k, v] of this.entries()) fn.call(thisArg, v, k, this);
  }
  [Symbol.iterator](): MapIterator<[string, string]> {
    return this.entries();
  }

  claim(i: number): readonly string[] | undefined {
    if (i < MASKED_SLOTS && (this.sameClaims & (1 << i)) !== 0) return [this.slots[i]!];
    return this.claims?.[i];
  }
}

/** Claim path → its values, read from a PathValues. */
export class PathClaims implements ReadonlyMap<string, readonly string[]> {
  constructor(private readonly of: PathValues) {}

  get(path: string): readonly string[] | undefined {
    const i = this.of.layout.claimSlots.get(path);
    return i === undefined ? undefined : this.of.claim(i);
  }
  has(path: string): boolean {
    return this.get(path) !== undefined;
  }
  get size(): number {
    let n = 0;
    for (const _ of this.entries()) n++;
    return n;
  }
  *entries(): MapIterator<[string, readonly string[]]> {
    for (const [path, i] of this.of.layout.claimSlots) {
      const c = this.of.claim(i);
      if (c !== undefined) yield [path, c];
    }
  }
  *keys(): MapIterator<string> {
    for (const [k] of this.entries()) yield k;
  }
  *values(): MapIterator<readonly string[]> {
    for (const [, v] of this.entries()) yield v;
  }
  forEach(fn: (value: readonly string[], key: string, map: ReadonlyMap<string, readonly string[]>) => void, thisArg?: unknown): void {
    for (const [k, v] of this.entries()) fn.call(thisArg, v, k, this);
  }
  [Symbol.iterator](): MapIterator<[string, readonly string[]]> {
    return this.entries();
  }
}

/** A few strings (the verified addresses) without a Set's hash table; one is kept bare. */
export class SmallSet implements ReadonlySet<string> {
  private readonly items: string | readonly string[];
  constructor(items: readonly string[]) {
    this.items = items.length === 1 ? items[0]! : items;
  }

  has(value: string): boolean {
    return typeof this.items === 'string' ? this.items === value : this.items.includes(value);
  }
  get size(): number {
    return typeof this.items === 'string' ? 1 : this.items.length;
  }
  *entries(): SetIterator<[string, string]> {
    for (const v of this.values()) yield [v, v];
  }
  keys(): SetIterator<string> {
    return this.values();
  }
  *values(): SetIterator<string> {
    if (typeof this.items === 'string') yield this.items;
    else yield* this.items;
  }
  forEach(fn: (value: string, value2: string, set: ReadonlySet<string>) => void, thisArg?: unknown): void {
    for (const v of this.values()) fn.call(thisArg, v, v, this);
  }
  [Symbol.iterator](): SetIterator<string> {
    return this.values();
  }
}

export const NO_ADDRESSES: ReadonlySet<string> = new SmallSet([]);

/** A summary as the cache keeps it: one fixed shape, every field of SessionSummary an own property. */
export class PackedSummary implements SessionSummary {
  readonly claims: PathClaims;
  constructor(
    readonly identityId: string,
    readonly sessionId: string,
    readonly expiresAtMs: number,
    readonly checkedAtMs: number | undefined,
    readonly values: PathValues,
    readonly aal: number,
    readonly authenticatedAtMs: number | undefined,
    readonly schemaId: string | undefined,
    readonly verifiedAddresses: ReadonlySet<string>,
    readonly tokenized: TokenizedSession | undefined,
  ) {
    this.claims = new PathClaims(values);
  }
}

/** Schema ids repeat across every session of a schema: one string each (bounded). */
const schemaIds = new Map<string, string>();
export function internSchemaId(id: string): string {
  const known = schemaIds.get(id);
  if (known !== undefined) return known;
  if (schemaIds.size < 64) schemaIds.set(id, id);
  return id;
}

/** What a summary holds, by path, before packing. */
export interface SummaryParts {
  identityId: string;
  sessionId: string;
  expiresAtMs: number;
  checkedAtMs?: number | undefined;
  /** Per layout slot: the header-safe value. */
  values: ReadonlyArray<string | undefined>;
  /** Per layout slot: the claim (only claim slots are read). */
  claims: ReadonlyArray<readonly string[] | undefined>;
  aal?: number | undefined;
  authenticatedAtMs?: number | undefined;
  schemaId?: string | undefined;
  verifiedAddresses?: Iterable<string> | undefined;
  tokenized?: TokenizedSession | undefined;
}

/** Packs the parts; a claim equal to its slot's value as a one-element list is not stored twice. */
export function packSummary(layout: SummaryLayout, p: SummaryParts): PackedSummary {
  let same = 0;
  let claims: Array<readonly string[] | undefined> | undefined;
  for (const i of layout.claimSlots.values()) {
    const c = p.claims[i];
    if (c === undefined) continue;
    if (i < MASKED_SLOTS && c.length === 1 && c[0] === p.values[i]) same |= 1 << i;
    // An exact-length copy: a list built by push has spare capacity the cache would keep.
    else (claims ??= new Array<readonly string[] | undefined>(layout.paths.length))[i] = c.slice();
  }
  const values = new PathValues(layout, p.values, claims, same);
  // A verified address is usually the email a header already carries: the same string then.
  const addresses = p.verifiedAddresses === undefined ? [] : [...p.verifiedAddresses].map((a) => p.values.find((v) => v === a) ?? a);
  return new PackedSummary(
    p.identityId,
    p.sessionId,
    p.expiresAtMs,
    p.checkedAtMs,
    values,
    p.aal ?? 1,
    p.authenticatedAtMs,
    p.schemaId === undefined ? undefined : internSchemaId(p.schemaId),
    addresses.length === 0 ? NO_ADDRESSES : new SmallSet(addresses),
    p.tokenized,
  );
}

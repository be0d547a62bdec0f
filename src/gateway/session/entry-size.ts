/**
 * What one cache entry costs, in bytes, for `session_cache.max_bytes` (lru-cache's
 * sizeCalculation). Counted from V8's layout on 64-bit Node (no pointer compression, Node's
 * default build) for the structures the entry actually is (packed-summary.ts):
 *
 * - an object: 24 bytes of header (map, properties, elements) + 8 per field;
 * - a string: 16 bytes of header + 1 byte per character (2 when it has one above U+00FF), rounded up to 8;
 * - an array: 32 bytes (JSArray) + 16 (its FixedArray's header) + 8 per element;
 * - a double field (a time in ms): a 16-byte HeapNumber;
 * - a Map entry: 3 words + half a bucket word per capacity slot, and a table between half
 *   and fully used: ≈ 42 bytes on average.
 *
 * Per entry: the summary (11 fields), its values view (3 fields) and values
 * array, its claims view, two times, the strings it holds (key, identity id, session id,
 * values, claims and addresses a value does not already hold), its slot in lru-cache's
 * preallocated arrays (keyList and valList 8 each, next and prev 4 each, ttls, starts and
 * sizes 8 each, the free stack 4: 52), its keyMap entry and its entry in the identity index.
 * Schema ids are interned (one string per schema), so they are not counted per entry.
 * The bench (`npm run bench -- --scenarios memory`) compares this with the measured heap.
 */
import { PathValues } from './packed-summary.js';
import type { SessionSummary } from './summary-types.js';

const OBJECT = 24;
const FIELD = 8;
const ARRAY = 32 + 16;
const HEAP_NUMBER = 16;
const MAP_ENTRY = 42;
/** lru-cache's per-slot arrays (see above). */
const LRU_SLOT = 8 + 8 + 4 + 4 + 8 + 8 + 8 + 4;

/** PackedSummary (11 fields), PathValues (4), PathClaims (1), the values array's headers, expiresAtMs and checkedAtMs. */
const SUMMARY = OBJECT + 11 * FIELD + (OBJECT + 4 * FIELD) + (OBJECT + FIELD) + ARRAY + 2 * HEAP_NUMBER;
/** The LRU slot, the key's keyMap entry and its identity-index entry. */
export const STORE_ENTRY_OVERHEAD = LRU_SLOT + 2 * MAP_ENTRY;

const WIDE = /[^\u0000-\u00ff]/;
export function stringBytes(s: string): number {
  return (16 + s.length * (WIDE.test(s) ? 2 : 1) + 7) & ~7;
}

/** Estimated bytes the summary keeps alive (see above). */
export function summaryBytes(s: SessionSummary): number {
  let size = SUMMARY + stringBytes(s.identityId) + stringBytes(s.sessionId);
  if (s.authenticatedAtMs !== undefined) size += HEAP_NUMBER;
  const held = new Set<string>();
  for (const [, v] of s.values) {
    size += stringBytes(v);
    held.add(v);
  }
  // One array slot per value path, held or not.
  const slots = s.values instanceof PathValues ? s.values.slots.length : s.values.size;
  size += FIELD * slots;
  let explicit = false;
  for (const [, claim] of s.claims ?? []) {
    if (claim.length === 1 && held.has(claim[0]!)) continue;
    explicit = true;
    size += ARRAY + claim.length * FIELD;
    for (const item of claim) if (!held.has(item)) size += stringBytes(item);
  }
  // Explicit claims are one more array, one slot per value path.
  if (explicit) size += ARRAY + FIELD * slots;
  const addresses = s.verifiedAddresses;
  if (addresses !== undefined && addresses.size > 0) {
    // SmallSet: one address bare, several in an array.
    size += OBJECT + FIELD + (addresses.size > 1 ? ARRAY + FIELD * addresses.size : 0);
    for (const a of addresses) size += held.has(a) ? 0 : stringBytes(a);
  }
  if (s.tokenized !== undefined) size += OBJECT + 3 * FIELD + 2 * HEAP_NUMBER + stringBytes(s.tokenized.jwt);
  return size;
}

/** One cache entry: the summary, its key and the store's own structures for it. */
export function entryBytes(key: string, s: SessionSummary): number {
  return STORE_ENTRY_OVERHEAD + stringBytes(key) + summaryBytes(s);
}

/**
 * StoredValue ⇄ the JSON a shared tier keeps. Only the summary (what header injection and
 * policy read) is written: no credential, no Set-Cookie, no raw whoami body. A value that does
 * not decode to a well-formed summary is a miss, never a session.
 */
import { hash } from 'node:crypto';
import type { SessionSummary } from '../../session-summary.js';
import { NOT_A_SESSION, type StoredValue } from '../session-store.js';
import { packSummary, SummaryLayout } from '../../packed-summary.js';

/** Format version: a gateway never reads a value written by a format it does not know. */
const FORMAT = 1;
/** The negative marker as stored. */
const NEGATIVE = '{"v":1,"negative":true}';

interface Encoded {
  v: number;
  /** The summary shape (which value paths were extracted): see encodeStoredValue. */
  p?: string;
  identityId: string;
  sessionId: string;
  /** null = no expiry (JSON has no Infinity). */
  expiresAtMs: number | null;
  checkedAtMs?: number;
  values: [string, string][];
  claims?: [string, string[]][];
  aal?: number;
  authenticatedAtMs?: number;
  schemaId?: string;
  verifiedAddresses?: string[];
}

/**
 * The value paths summaries are extracted for (the gateway's header mappings, policies and
 * assertion claims): `id` is their fingerprint, written with each value; `layout` is what a
 * value read back is packed by, the same one for every value, so what the cache holds per
 * entry is only its values (a layout per distinct set of present paths would be kept alive
 * by each entry and counted by no size estimate).
 */
export interface SummaryShape {
  readonly id: string;
  /** Absent: any paths (tests); each value is then laid out by the paths it has. */
  readonly layout?: SummaryLayout;
}

export function summaryShapeOf(valuePaths: readonly string[]): SummaryShape {
  const paths = [...new Set(valuePaths)];
  return { id: hash('sha256', [...paths].sort().join('\n'), 'base64url').slice(0, 16), layout: new SummaryLayout(paths) };
}

const ANY_SHAPE: SummaryShape = { id: '' };

/**
 * `shape.id` names the value paths the summary was extracted for. A gateway configured
 * otherwise, as during a rolling update, reads the value as a miss: a summary lacking a path it
 * needs would silently drop a header or fail a policy. "Not a session" does not depend on it.
 */
export function encodeStoredValue(value: StoredValue, shape: SummaryShape = ANY_SHAPE): string {
  if (value === NOT_A_SESSION) return NEGATIVE;
  const s = value as SessionSummary;
  const e: Encoded = {
    v: FORMAT,
    p: shape.id,
    identityId: s.identityId,
    sessionId: s.sessionId,
    expiresAtMs: Number.isFinite(s.expiresAtMs) ? s.expiresAtMs : null,
    values: [...s.values],
  };
  if (s.checkedAtMs !== undefined) e.checkedAtMs = s.checkedAtMs;
  if (s.claims !== undefined) e.claims = [...s.claims].map(([k, v]) => [k, [...v]]);
  if (s.aal !== undefined) e.aal = s.aal;
  if (s.authenticatedAtMs !== undefined) e.authenticatedAtMs = s.authenticatedAtMs;
  if (s.schemaId !== undefined) e.schemaId = s.schemaId;
  if (s.verifiedAddresses !== undefined) e.verifiedAddresses = [...s.verifiedAddresses];
  return JSON.stringify(e);
}

const isString = (x: unknown): x is string => typeof x === 'string';
const isNumber = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);
const isPairs = <V>(x: unknown, value: (v: unknown) => v is V): x is [string, V][] =>
  Array.isArray(x) && x.every((p) => Array.isArray(p) && p.length === 2 && isString(p[0]) && value(p[1]));
const isStrings = (x: unknown): x is string[] => Array.isArray(x) && x.every(isString);

/** The value, or undefined when `text` is not one this format (and, for a session, this shape) wrote. */
export function decodeStoredValue(text: string, shape: SummaryShape = ANY_SHAPE): StoredValue | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (raw === null || typeof raw !== 'object') return undefined;
  const e = raw as Partial<Encoded> & { negative?: unknown };
  if (e.v !== FORMAT) return undefined;
  if (e.negative === true) return NOT_A_SESSION;
  if ((e.p ?? '') !== shape.id) return undefined;
  if (!isString(e.identityId) || e.identityId === '' || !isString(e.sessionId)) return undefined;
  if (!(e.expiresAtMs === null || isNumber(e.expiresAtMs)) || !isPairs(e.values, isString)) return undefined;
  if (e.checkedAtMs !== undefined && !isNumber(e.checkedAtMs)) return undefined;
  if (e.claims !== undefined && !isPairs(e.claims, isStrings)) return undefined;
  if (e.aal !== undefined && !isNumber(e.aal)) return undefined;
  if (e.authenticatedAtMs !== undefined && !isNumber(e.authenticatedAtMs)) return undefined;
  if (e.schemaId !== undefined && !isString(e.schemaId)) return undefined;
  if (e.verifiedAddresses !== undefined && !isStrings(e.verifiedAddresses)) return undefined;
  // Packed as summarizeSession packs (a fleet instance's in-process tier holds what it loaded
  // from Redis): by this configuration's layout. A value naming a path the layout does not
  // have (or a claim of a path that is no claim) was not written for this shape: a miss.
  const values = new Map(e.values);
  const claims = new Map(e.claims ?? []);
  const layout = shape.layout ?? SummaryLayout.of([...new Set([...values.keys(), ...claims.keys()])]);
  for (const path of values.keys()) if (!layout.slots.has(path)) return undefined;
  for (const path of claims.keys()) if (!layout.claimSlots.has(path)) return undefined;
  return packSummary(layout, {
    identityId: e.identityId,
    sessionId: e.sessionId,
    expiresAtMs: e.expiresAtMs ?? Number.POSITIVE_INFINITY,
    checkedAtMs: e.checkedAtMs,
    values: layout.paths.map((p) => values.get(p)),
    claims: layout.paths.map((p) => claims.get(p)),
    aal: e.aal,
    authenticatedAtMs: e.authenticatedAtMs,
    schemaId: e.schemaId,
    verifiedAddresses: e.verifiedAddresses,
  });
}

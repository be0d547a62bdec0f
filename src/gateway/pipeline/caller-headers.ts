/**
 * The one walk over the caller's headers on the proxy path. Three rules remove caller headers:
 * protected headers (step 2, strip-protected-headers.ts), hop-by-hop fields and `Expect` (step 7,
 * src/http/hop-by-hop.ts) and what a mutator removes by name (step 7: forwarding headers the
 * gateway does not believe, mutators/forwarded-headers.ts). Applied one after another they walk
 * the headers twice and look up every hop-by-hop name. Here step 2 walks them once: it removes
 * the protected headers at once, as it must on every outcome, and notes the few names step 7's
 * rules may remove; step 7, when the request is forwarded, looks at those names only.
 *
 * The rules stay in their own files; this file only applies them, and gives the same headers as
 * applying them in turn (test/unit/gateway/caller-headers.test.ts holds the two side by side).
 */
import type { IncomingHttpHeaders } from 'node:http';
import { normalizeHeaderName } from '../../http/header-name.js';
import { isHopByHopHeader, stripHopByHopAmong } from '../../http/hop-by-hop.js';
import { isProtectedHeader } from './strip-protected-headers.js';
import type { ForwardContext, HeaderMutator, RemovalByName } from './mutators/index.js';

/** What the walk and step 7 need, prepared once per configuration snapshot. */
export class CallerHeaderPlan {
  /** The mutators' removals by name (RemovalByName). */
  readonly removals: readonly RemovalByName[];
  /** The mutators as step 7 runs them: one that removes by name, without that removal (the walk did it). */
  readonly upstreamMutators: ReadonlyArray<Pick<HeaderMutator, 'mutate'>>;

  constructor(
    /** Stripped from every request (ConfigSnapshot.protectedHeaderNames). */
    readonly protectedNames: ReadonlySet<string>,
    /** Never removed by a `Connection` token (ConfigSnapshot.injectedHeaderNames). */
    readonly injectedNames: ReadonlySet<string>,
    mutators: readonly HeaderMutator[],
  ) {
    this.removals = mutators.flatMap((m) => (m.byName === undefined ? [] : [m.byName]));
    this.upstreamMutators = mutators.map((m) => (m.byName === undefined ? m : { mutate: m.byName.afterRemoval }));
  }
}

/**
 * Step 2: removes every protected header. With `noting` (a request that may be forwarded),
 * returns the names step 7 may remove; undefined when there are none.
 */
export function stripCallerHeaders(headers: IncomingHttpHeaders, plan: CallerHeaderPlan, noting: boolean): string[] | undefined {
  let noted: string[] | undefined;
  for (const name in headers) {
    const normalized = normalizeHeaderName(name);
    if (isProtectedHeader(normalized, plan.protectedNames)) delete headers[name];
    else if (noting && (isHopByHopHeader(name) || name === 'expect' || mayBeRemoved(plan.removals, name, normalized)))
      (noted ??= []).push(name);
  }
  return noted;
}

/**
 * Step 7 on a request that is forwarded: hop-by-hop fields and the names `Connection` lists
 * (`keepUpgrade`: a WebSocket handshake keeps its upgrade), `Expect` (`dropExpect`: the HTTP
 * writer answers it) and what a mutator removes by name, all among the names step 2 noted;
 * then every mutator.
 */
export function writeUpstreamHeaders(
  headers: IncomingHttpHeaders,
  noted: readonly string[] | undefined,
  plan: CallerHeaderPlan,
  ctx: ForwardContext,
  keepUpgrade: boolean,
  dropExpect: boolean,
): void {
  const names = noted ?? NONE;
  // In the order of the rules applied one by one: `Connection` is read before a mutator could remove anything.
  stripHopByHopAmong(headers, names, plan.injectedNames, keepUpgrade);
  for (const name of names) {
    if (name === 'expect') {
      if (dropExpect) delete headers.expect;
    } else if (removed(plan.removals, name, ctx)) delete headers[name];
  }
  for (const m of plan.upstreamMutators) m.mutate(headers, ctx);
}

const NONE: readonly string[] = [];

// Loops rather than some(): no closure per header on the hot path.
function mayBeRemoved(removals: readonly RemovalByName[], name: string, normalized: string): boolean {
  for (const r of removals) if (r.mayRemove(name, normalized)) return true;
  return false;
}

function removed(removals: readonly RemovalByName[], name: string, ctx: ForwardContext): boolean {
  for (const r of removals) if (r.removes(name, ctx)) return true;
  return false;
}

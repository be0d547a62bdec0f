/**
 * `node --import tsx bench/header-walk.ts`: the proxy path's header work per forwarded request,
 * in one process, as the rules applied one after another (a walk for protected headers, a look-up
 * of every hop-by-hop name, the forwarding mutator's own walk, then the mutators) and as the one
 * walk of pipeline/caller-headers.ts, in CPU time. Alternating rounds, so a busy machine moves both alike.
 * Bounded: --requests per round (default 200,000), --rounds (default 10).
 */
import type { IncomingHttpHeaders } from 'node:http';
import { parseConfig } from '../src/config/load.js';
import { ConfigSnapshot } from '../src/gateway/config-snapshot.js';
import { stripCallerHeaders, writeUpstreamHeaders } from '../src/gateway/pipeline/caller-headers.js';
import type { ForwardContext } from '../src/gateway/pipeline/mutators/index.js';
import { stripIdentityHeaders } from '../src/gateway/pipeline/strip-protected-headers.js';
import { stripHopByHop } from '../src/http/hop-by-hop.js';
import { num, parseArgs } from './lib/args.js';

const args = parseArgs(process.argv.slice(2));
const requests = Math.min(5_000_000, num(args, 'requests', 200_000));
const rounds = Math.min(50, Math.max(1, num(args, 'rounds', 10)));

const s = new ConfigSnapshot(
  parseConfig({
    identity_headers: { 'X-User-Email': 'identity.traits.email' },
    routes: [{ name: 'app', match: { path_prefix: '/' }, upstream: 'http://127.0.0.1:9' }],
  }),
);
const ctx: ForwardContext = {
  route: s.routes.all[0],
  session: { identityId: 'id-1', sessionId: 's-1', expiresAtMs: Infinity, values: new Map([['identity.traits.email', 'a@example.com']]) },
  credentialKind: 'cookie',
  requestId: 'req-1',
  peerAddress: '203.0.113.9',
  peerTrusted: false,
  encrypted: false,
};
/** What a browser sends on a navigation (the header names Node hands over, lower-case). */
const BROWSER: IncomingHttpHeaders = {
  host: 'app.example.com',
  connection: 'keep-alive',
  'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36',
  accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8',
  'accept-language': 'en-GB,en;q=0.9',
  'accept-encoding': 'gzip, deflate, br',
  cookie: 'theme=dark; ory_kratos_session=MTcwMDAwMDAwMHxabcdef; csrf_token_0123=xyz',
  'sec-fetch-dest': 'document',
  'sec-fetch-mode': 'navigate',
  'sec-fetch-site': 'same-origin',
  'upgrade-insecure-requests': '1',
};

function inTurn(h: IncomingHttpHeaders): void {
  stripIdentityHeaders(h, s.protectedHeaderNames);
  delete h.expect;
  stripHopByHop(h, s.injectedHeaderNames, false);
  for (const m of s.mutators) m.mutate(h, ctx);
}

function oneWalk(h: IncomingHttpHeaders): void {
  writeUpstreamHeaders(h, stripCallerHeaders(h, s.callerHeaders, true), s.callerHeaders, ctx, false, true);
}

/** ns of this process's CPU time per request: steadier than wall time on a shared machine. */
function round(apply: (h: IncomingHttpHeaders) => void): number {
  const t0 = process.cpuUsage();
  for (let i = 0; i < requests; i++) apply({ ...BROWSER });
  const t = process.cpuUsage(t0);
  return ((t.user + t.system) * 1000) / requests;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
round(inTurn); // warm-up
round(oneWalk);
const a: number[] = [];
const b: number[] = [];
for (let r = 0; r < rounds; r++) {
  a.push(round(inTurn));
  b.push(round(oneWalk));
}
console.log(
  `header work per forwarded request, CPU time (11 browser headers, a copy of them included): ` +
    `rules one after another ${median(a).toFixed(0)} ns, one walk ${median(b).toFixed(0)} ns (medians of ${rounds} alternating rounds of ${requests}), node ${process.version}`,
);
console.log(`rounds, ns: one after another ${a.map((x) => x.toFixed(0)).join(' ')}; one walk ${b.map((x) => x.toFixed(0)).join(' ')}`);

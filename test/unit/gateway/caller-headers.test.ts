/**
 * The one walk over the caller's headers (src/gateway/pipeline/caller-headers.ts) against the
 * rules it applies, run one after another as separate passes: protected headers
 * (stripIdentityHeaders), then, on a forwarded request, `Expect` (HTTP), hop-by-hop fields and
 * `Connection` tokens (stripHopByHop), then every mutator's full `mutate`. Same headers, same
 * order, for every transport, peer and configuration below.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { IncomingHttpHeaders } from 'node:http';
import { parseConfig } from '../../../src/config/load.js';
import { ConfigSnapshot } from '../../../src/gateway/config-snapshot.js';
import { stripCallerHeaders, writeUpstreamHeaders } from '../../../src/gateway/pipeline/caller-headers.js';
import { stripIdentityHeaders } from '../../../src/gateway/pipeline/strip-protected-headers.js';
import type { ForwardContext } from '../../../src/gateway/pipeline/mutators/index.js';
import { HOP_BY_HOP, stripHopByHop } from '../../../src/http/hop-by-hop.js';
import { ALICE as SESSION } from '../../helpers/session-summary.js';

function snapshot(stripCredentials: boolean): ConfigSnapshot {
  return new ConfigSnapshot(
    parseConfig({
      identity_headers: { 'X-User-Email': 'identity.traits.email', 'X-Kratos-Session-Id': 'session.id' },
      proxy: { strip_credentials: stripCredentials },
      routes: [{ name: 'app', match: { path_prefix: '/' }, upstream: 'http://127.0.0.1:9', auth: 'optional', websocket: true }],
    }),
  );
}
const SNAPSHOTS = [snapshot(true), snapshot(false)];

interface Case {
  headers: Array<[string, string]>;
  transport: 'http' | 'websocket';
  peerTrusted: boolean;
  session: boolean;
  credentialKind: string | undefined;
  strip: number;
}

function context(s: ConfigSnapshot, c: Case): ForwardContext {
  return {
    route: s.routes.all[0],
    session: c.session ? SESSION : undefined,
    credentialKind: c.credentialKind,
    requestId: 'req-1',
    peerAddress: '203.0.113.9',
    peerTrusted: c.peerTrusted,
    encrypted: false,
  };
}

function headersOf(c: Case): IncomingHttpHeaders {
  const h: IncomingHttpHeaders = {};
  for (const [name, value] of c.headers) h[name] = value;
  return h;
}

/** The rules as separate passes, in the order the proxy applied them before the walk. */
function inTurn(s: ConfigSnapshot, c: Case): { afterStep2: unknown; upstream: unknown } {
  const h = headersOf(c);
  stripIdentityHeaders(h, s.protectedHeaderNames);
  const afterStep2 = Object.entries(h);
  if (c.transport === 'http') delete h.expect;
  stripHopByHop(h, s.injectedHeaderNames, c.transport === 'websocket');
  for (const m of s.mutators) m.mutate(h, context(s, c));
  return { afterStep2, upstream: Object.entries(h) };
}

function inOneWalk(s: ConfigSnapshot, c: Case): { afterStep2: unknown; upstream: unknown } {
  const h = headersOf(c);
  const noted = stripCallerHeaders(h, s.callerHeaders, true);
  const afterStep2 = Object.entries(h);
  writeUpstreamHeaders(h, noted, s.callerHeaders, context(s, c), c.transport === 'websocket', c.transport === 'http');
  return { afterStep2, upstream: Object.entries(h) };
}

/** Names each rule cares about, in the spellings that tell the rules apart. */
const NAMES = [
  'host',
  'accept',
  'content-length',
  'content-type',
  ...HOP_BY_HOP,
  'Connection',
  'expect',
  'Expect',
  'x-forwarded-for',
  'x-forwarded-host',
  'x-forwarded-proto',
  'x-forwarded-prefix',
  'X-Forwarded-Port',
  'x_forwarded_host',
  'X_Forwarded_For',
  'forwarded',
  'x-real-ip',
  'x_real_ip',
  'x-request-id',
  'x-kratos-authenticated-identity-id',
  'X_Kratos_Anything',
  'x-user-email',
  'X-User-Email',
  'x_user_email',
  'x-original-url',
  'x-http-method-override',
  'cookie',
  'authorization',
  'x-session-token',
  'sec-websocket-key',
  'foo',
];
const VALUES: Record<string, fc.Arbitrary<string>> = {
  cookie: fc.constantFrom('ory_kratos_session=tok', 'a=1; ory_kratos_session=tok; csrf_token_abc=x', 'theme=dark'),
  authorization: fc.constantFrom('Bearer tok', 'Basic eDp5'),
  upgrade: fc.constantFrom('websocket', 'h2c'),
};
const connectionValue = fc
  .array(fc.constantFrom(...NAMES, 'close', 'keep-alive', 'Upgrade', ' X-User-Email ', ''), { maxLength: 5 })
  .map((tokens) => tokens.join(','));

const header: fc.Arbitrary<[string, string]> = fc
  .constantFrom(...NAMES)
  .chain((name) =>
    (name.toLowerCase() === 'connection' ? connectionValue : (VALUES[name] ?? fc.constantFrom('v', '10.0.0.1', 'gw'))).map(
      (value): [string, string] => [name, value],
    ),
  );

const cases: fc.Arbitrary<Case> = fc.record({
  headers: fc.uniqueArray(header, { maxLength: 14, selector: ([name]) => name }),
  transport: fc.constantFrom('http' as const, 'websocket' as const),
  peerTrusted: fc.boolean(),
  session: fc.boolean(),
  credentialKind: fc.constantFrom(undefined, 'cookie', 'bearer', 'session_token'),
  strip: fc.nat({ max: SNAPSHOTS.length - 1 }),
});

describe('the one walk over the caller headers', () => {
  test('gives the headers the rules give one after another, after step 2 and upstream', () => {
    fc.assert(
      fc.property(cases, (c) => {
        const s = SNAPSHOTS[c.strip]!;
        assert.deepEqual(inOneWalk(s, c), inTurn(s, c));
      }),
      { numRuns: 3000 },
    );
  });

  test('a spoofed identity, hop-by-hop fields and forwarding headers, all at once', () => {
    const c: Case = {
      headers: [
        ['host', 'gw'],
        ['connection', 'Upgrade, X-Kratos-Authenticated-Identity-Id, foo'],
        ['upgrade', 'websocket'],
        ['foo', 'bar'],
        ['x_kratos_authenticated_identity_id', 'spoofed'],
        ['x-forwarded-host', 'evil.example'],
        ['x_forwarded_host', 'evil.example'],
        ['te', 'trailers'],
        ['expect', '100-continue'],
      ],
      transport: 'websocket',
      peerTrusted: false,
      session: true,
      credentialKind: 'cookie',
      strip: 0,
    };
    const s = SNAPSHOTS[0]!;
    const oneWalk = inOneWalk(s, c);
    assert.deepEqual(oneWalk, inTurn(s, c));
    assert.deepEqual(Object.fromEntries(oneWalk.upstream as Array<[string, string]>), {
      host: 'gw',
      connection: 'upgrade',
      upgrade: 'websocket',
      expect: '100-continue',
      'x-forwarded-for': '203.0.113.9',
      'x-forwarded-proto': 'http',
      'x-forwarded-host': 'gw',
      'x-request-id': 'req-1',
      'x-kratos-authenticated-identity-id': SESSION.identityId,
      'x-user-email': 'alice@example.com',
      'x-kratos-session-id': 'sess-1',
    });
  });

  test('a request with nothing for step 7 to remove notes nothing; the decision API notes nothing at all', () => {
    const s = SNAPSHOTS[0]!;
    assert.equal(stripCallerHeaders({ host: 'gw', accept: '*/*', 'x-user-email': 'spoofed' }, s.callerHeaders, true), undefined);
    const h: IncomingHttpHeaders = { host: 'gw', connection: 'close', 'x-forwarded-for': '1.2.3.4', 'x-user-email': 'spoofed' };
    assert.equal(stripCallerHeaders(h, s.callerHeaders, false), undefined);
    assert.deepEqual(h, { host: 'gw', connection: 'close', 'x-forwarded-for': '1.2.3.4' });
    assert.deepEqual(stripCallerHeaders({ ...h, expect: '100-continue' }, s.callerHeaders, true), [
      'connection',
      'x-forwarded-for',
      'expect',
    ]);
  });
});

/**
 * The forward-auth examples for nginx, Traefik, Envoy and ingress-nginx agree with the
 * gateway: they call the decision API at the configured prefix on the admin port, pass
 * the credential, copy exactly the identity headers the production configuration
 * injects, and never let a client-sent identity header through. Each one tells the gateway the
 * original method: nginx's and Traefik's auth requests are GETs whatever the client sent, and
 * without the method the decision API refuses routes whose answer depends on it. (The nginx
 * example also runs for real in test/integration/deploy/nginx-forward-auth.test.ts and
 * nginx-original-method.test.ts.)
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { configSchema } from '../../../src/config/schema.js';
import { METHOD_OVERRIDE_HEADERS } from '../../../src/gateway/config-snapshot.js';
import { repoRoot } from './values-schema.js';
import { contract } from '../../helpers/front-doors.js';

type Json = Record<string, unknown>;
const read = (p: string) => readFileSync(join(repoRoot, 'config/examples', p), 'utf8');
const production = configSchema.parse(parseYaml(readFileSync(join(repoRoot, 'config/production.yaml'), 'utf8')));
const defaults = configSchema.parse({});
/** The identity id, the production identity_headers and the assertion header: what the answer may set. */
const identityHeaders = contract.protectedHeaders;
const lower = (xs: string[]) => xs.map((x) => x.toLowerCase()).sort();
const at = (node: unknown, ...path: Array<string | number>): unknown =>
  path.reduce<unknown>((n, k) => {
    assert.ok(n !== null && typeof n === 'object', `missing ${path.join('.')}`);
    return (n as Json)[k as string];
  }, node);

/** The decision endpoint: admin port and decisions prefix as configured by default. */
function assertDecisionUrl(url: string) {
  const u = new URL(url);
  assert.equal(Number(u.port), defaults.admin.listen.port);
  assert.ok(u.pathname === defaults.admin.decisions_prefix || u.pathname === '/', `${u.pathname}`);
}

describe('nginx auth_request example', () => {
  const conf = read('nginx/auth_request.conf');
  /** The directives of the location the auth_request subrequest goes to (comments dropped). */
  function decisionLocation(): string[] {
    const target = /^\s*auth_request (\S+);/m.exec(conf)?.[1];
    assert.ok(target, 'an auth_request directive');
    const start = conf.indexOf(`location = ${target} {`);
    assert.ok(start !== -1, `a location = ${target}`);
    const block = conf.slice(start, conf.indexOf('\n    }', start));
    return block
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '' && !l.startsWith('#'));
  }
  it('asks the decision API with the original URI and method, body stripped', () => {
    const directives = decisionLocation();
    assert.ok(directives.includes(`proxy_pass http://kratos_gateway_admin${defaults.admin.decisions_prefix};`), directives.join('\n'));
    assert.match(conf, new RegExp(`server 127\\.0\\.0\\.1:${defaults.admin.listen.port};`));
    assert.ok(directives.includes('proxy_set_header X-Original-URI $request_uri;'));
    // The subrequest is a GET whatever the client sent: only this header carries the method.
    assert.ok(directives.includes('proxy_set_header X-Original-Method $request_method;'));
    assert.ok(directives.includes('proxy_pass_request_body off;'));
    assert.ok(directives.includes('internal;'));
  });
  it('copies and overwrites exactly the identity headers', () => {
    const copied = [...conf.matchAll(/auth_request_set \$\w+ \$upstream_http_([a-z0-9_]+);/g)].map((m) => m[1]!.replaceAll('_', '-'));
    const set = [...conf.matchAll(/proxy_set_header (X-[A-Za-z-]+) \$kg_\w+;/g)].map((m) => m[1]!);
    assert.deepEqual(lower(set), lower(identityHeaders));
    for (const h of lower(identityHeaders)) assert.ok(copied.includes(h), h);
    assert.match(conf, /underscores_in_headers off;/);
    assert.match(conf, /error_page 401 = @kratos_gateway_login;/);
    const directives = conf
      .split('\n')
      .filter((l) => !l.trim().startsWith('#'))
      .join('\n');
    assert.doesNotMatch(directives, /\$uri\b/, 'never the decoded $uri in a redirect');
    // nginx cannot URL-encode return_to; the gateway's 401 carries the encoded login URL.
    assert.match(conf, /auth_request_set \$kg_login_location \$upstream_http_location;/);
    assert.match(directives, /return 302 \$kg_login_location;/);
    assert.doesNotMatch(directives, /return_to=/, 'no hand-built return_to');
  });
});

describe('Traefik ForwardAuth example', () => {
  const doc = parseYaml(read('traefik/dynamic.yaml')) as Json;
  const fa = at(doc, 'http', 'middlewares', 'kratos-gateway', 'forwardAuth') as Json;
  it('points at the decision API and does not trust client X-Forwarded-*', () => {
    assertDecisionUrl(fa['address'] as string);
    assert.equal(new URL(fa['address'] as string).pathname, defaults.admin.decisions_prefix);
    // Traefik always sends X-Forwarded-Method (its auth request is a GET); without
    // trustForwardHeader it is the method Traefik received, never a value the client sent.
    assert.equal(fa['trustForwardHeader'], false);
  });
  it('passes the credential and copies exactly the identity headers', () => {
    assert.deepEqual(lower(fa['authResponseHeaders'] as string[]), lower(identityHeaders));
    for (const h of ['Cookie', 'Authorization', 'X-Session-Token', 'Accept'])
      assert.ok((fa['authRequestHeaders'] as string[]).includes(h), h);
    assert.deepEqual(fa['addAuthCookiesToResponse'], [production.kratos.session_cookie]);
  });
  it('passes method-override headers to the decision, which refuses them where the method matters', () => {
    // Traefik passes them on to the upstream; the gateway must see them to refuse.
    const sent = lower(fa['authRequestHeaders'] as string[]);
    for (const h of METHOD_OVERRIDE_HEADERS) assert.ok(sent.includes(h), h);
  });
  it('the router uses the middleware', () => {
    assert.deepEqual(at(doc, 'http', 'routers', 'app', 'middlewares'), ['kratos-gateway']);
  });
});

describe('Envoy ext_authz example', () => {
  const doc = parseYaml(read('envoy/envoy.yaml')) as Json;
  const hcm = at(doc, 'static_resources', 'listeners', 0, 'filter_chains', 0, 'filters', 0, 'typed_config') as Json;
  const filters = hcm['http_filters'] as Json[];
  const names = filters.map((f) => f['name']);
  const authz = at(
    filters.find((f) => f['name'] === 'envoy.filters.http.ext_authz'),
    'typed_config',
  ) as Json;
  it('calls the decision API with the path prefix and the original method, and fails closed', () => {
    assert.equal(at(authz, 'http_service', 'path_prefix'), defaults.admin.decisions_prefix);
    // Envoy's check request keeps the original method and is asked in the path form, where the
    // gateway reads the method from the request line: nothing may replace either.
    for (const key of ['path_override', 'method_override']) assert.equal(at(authz, 'http_service', key), undefined, key);
    assertDecisionUrl(at(authz, 'http_service', 'server_uri', 'uri') as string);
    assert.equal(authz['failure_mode_allow'], false);
    const clusters = at(doc, 'static_resources', 'clusters') as Json[];
    assert.ok(clusters.some((c) => c['name'] === at(authz, 'http_service', 'server_uri', 'cluster')));
  });
  it('sends the credential headers and copies exactly the identity headers upstream', () => {
    const allowed = (at(authz, 'http_service', 'authorization_request', 'allowed_headers', 'patterns') as Json[]).map(
      (p) => p['exact'] as string,
    );
    for (const h of ['cookie', 'x-session-token', 'accept']) assert.ok(allowed.includes(h), h);
    // Envoy passes method-override headers on to the upstream: the gateway must see them to refuse.
    for (const h of METHOD_OVERRIDE_HEADERS) assert.ok(allowed.includes(h), h);
    const upstream = (at(authz, 'http_service', 'authorization_response', 'allowed_upstream_headers', 'patterns') as Json[]).map(
      (p) => p['exact'] as string,
    );
    assert.deepEqual(upstream.sort(), lower(identityHeaders));
  });
  it('removes client-sent identity headers before ext_authz, and rejects underscore header names', () => {
    const mutation = filters.find((f) => f['name'] === 'envoy.filters.http.header_mutation');
    assert.ok(mutation);
    assert.ok(names.indexOf('envoy.filters.http.header_mutation') < names.indexOf('envoy.filters.http.ext_authz'));
    assert.equal(names[names.length - 1], 'envoy.filters.http.router');
    const removed = (at(mutation, 'typed_config', 'mutations', 'request_mutations') as Json[]).map((m) => m['remove'] as string);
    assert.deepEqual(removed.sort(), lower(identityHeaders));
    assert.equal(at(hcm, 'common_http_protocol_options', 'headers_with_underscores_action'), 'REJECT_REQUEST');
    assert.equal(hcm['path_with_escaped_slashes_action'], 'REJECT_REQUEST');
  });
});

describe('ingress-nginx example', () => {
  const doc = parseYaml(read('ingress-nginx/ingress.yaml')) as Json;
  const ann = at(doc, 'metadata', 'annotations') as Record<string, string>;
  const a = (k: string) => ann[`nginx.ingress.kubernetes.io/${k}`];
  it('uses the nginx contract: auth-method makes ingress-nginx send X-Original-URI', () => {
    assertDecisionUrl(a('auth-url')!);
    assert.equal(new URL(a('auth-url')!).pathname, defaults.admin.decisions_prefix);
    assert.ok(a('auth-method'));
    // The controller's auth location always sets X-Original-Method $request_method; only extra
    // proxy headers or a snippet could change what the subrequest carries.
    assert.equal(a('auth-proxy-set-headers'), undefined);
    assert.equal(a('auth-snippet'), undefined);
  });
  it('copies exactly the identity headers and sends browsers to login with return_to', () => {
    assert.deepEqual(
      lower(
        a('auth-response-headers')!
          .split(',')
          .map((s) => s.trim()),
      ),
      lower(identityHeaders),
    );
    assert.match(a('auth-signin')!, /^https:\/\//);
    assert.equal(a('auth-signin-redirect-param'), production.login.return_to_param);
    assert.ok(!Object.keys(ann).some((k) => k.endsWith('-snippet')), 'no snippet annotations');
  });
});

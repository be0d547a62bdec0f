/**
 * The Kubernetes front-door recipes (Envoy Gateway, Istio, Contour) and the Caddyfile agree
 * with the gateway: they address the admin Service at the admin listener's port, the HTTP
 * variants ask at the decision prefix with the credential, Accept and the method-override
 * headers, every recipe copies exactly the headers the gateway's answer may set and never lets
 * a client's copy through, and each fails closed. Custom resources are checked for the
 * apiVersion, kind and fields used, against the field names of each product's API types
 * (a misspelt field is ignored by the product, so it would silently fail open or do nothing).
 * Core objects are validated with kubernetes-models. Caddy also runs for real in
 * test/integration/front-doors/caddy.test.ts.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Service } from 'kubernetes-models/v1/Service';
import {
  at,
  assertAdminAddress,
  contract,
  lower,
  only,
  onlyKnownKeys,
  readExample,
  repoRoot,
  yamlDocuments,
  type Json,
} from '../../helpers/front-doors.js';

/** What an HTTP decision request must carry besides method, path and Host. */
const decisionRequestHeaders = [...contract.credentialHeaders, 'accept', ...contract.methodOverrideHeaders];
const protectedLower = lower(contract.protectedHeaders);
const includesAll = (sent: readonly string[], wanted: readonly string[], where: string) => {
  const have = lower(sent);
  for (const h of wanted) assert.ok(have.includes(h), `${where} sends ${h}`);
};

it('the admin Service the recipes address serves the admin listener', () => {
  assert.equal(contract.adminService.port, contract.adminPort);
});

/** Field names from envoyproxy/gateway api/v1alpha1 (ext_auth_types.go, shared_types.go, policy_helpers.go), v1.9. */
const EG = {
  extAuth: [
    'grpc',
    'http',
    'headersToExtAuth',
    'bodyToExtAuth',
    'timeout',
    'failOpen',
    'recomputeRoute',
    'includeRouteMetadata',
    'contextExtensions',
    'statusOnError',
  ],
  http: ['backendRef', 'backendRefs', 'backendSettings', 'path', 'pathOverride', 'headersToBackend'],
  grpc: ['backendRef', 'backendRefs', 'backendSettings'],
  backendRef: ['group', 'kind', 'name', 'namespace', 'port', 'weight', 'fallback'],
  policySpec: [
    'targetRef',
    'targetRefs',
    'targetSelectors',
    'extAuth',
    'apiKeyAuth',
    'cors',
    'csrf',
    'basicAuth',
    'jwt',
    'oidc',
    'authorization',
    'mergeType',
  ],
  headers: ['withUnderscoresAction', 'earlyRequestHeaders', 'lateResponseHeaders', 'enableEnvoyHeaders', 'preserveXRequestID', 'requestID'],
  headerFilter: ['set', 'add', 'addIfAbsent', 'remove', 'removeOnMatch'],
};

function envoyGateway(file: string) {
  const docs = yamlDocuments(file);
  const policy = only(docs, 'gateway.envoyproxy.io/v1alpha1', 'SecurityPolicy');
  const grant = only(docs, 'gateway.networking.k8s.io/v1beta1', 'ReferenceGrant');
  onlyKnownKeys(policy['spec'], EG.policySpec, `${file} spec`);
  const extAuth = at(policy, 'spec', 'extAuth') as Json;
  onlyKnownKeys(extAuth, EG.extAuth, `${file} extAuth`);
  return { docs, policy, grant, extAuth };
}

/** The backend is the admin Service at the admin port, and a ReferenceGrant lets the policy's namespace name it. */
function assertEnvoyGatewayBackend(file: string, service: Json, policy: Json, grant: Json) {
  const refs = service['backendRefs'] as Json[];
  assert.equal(refs.length, 1);
  onlyKnownKeys(refs[0], EG.backendRef, `${file} backendRefs[0]`);
  assert.equal(refs[0]!['name'], contract.adminService.name);
  assert.equal(refs[0]!['namespace'], contract.adminService.namespace);
  assertAdminAddress(
    `${refs[0]!['name'] as string}.${refs[0]!['namespace'] as string}.svc.cluster.local`,
    refs[0]!['port'] as number,
    file,
  );
  assert.equal(at(grant, 'metadata', 'namespace'), contract.adminService.namespace);
  assert.deepEqual(at(grant, 'spec', 'from'), [
    { group: 'gateway.envoyproxy.io', kind: 'SecurityPolicy', namespace: at(policy, 'metadata', 'namespace') },
  ]);
  assert.deepEqual(at(grant, 'spec', 'to'), [{ group: '', kind: 'Service', name: contract.adminService.name }]);
}

/** Fails closed: the gateway unreachable is a 503, never an allow. */
function assertFailsClosed(failOpen: unknown, statusOnError: unknown) {
  assert.equal(failOpen, false);
  assert.equal(String(statusOnError), '503');
}

describe('Envoy Gateway SecurityPolicy, HTTP', () => {
  const file = 'envoy-gateway/security-policy-http.yaml';
  const { docs, policy, grant, extAuth } = envoyGateway(file);
  const http = extAuth['http'] as Json;
  it('asks the decision API on the admin Service, with the path below the prefix, and fails closed', () => {
    onlyKnownKeys(http, EG.http, `${file} http`);
    assert.equal(extAuth['grpc'], undefined);
    assertEnvoyGatewayBackend(file, http, policy, grant);
    // Envoy appends the original path and keeps the method: the gateway's path form.
    assert.equal(http['path'], contract.decisionsPrefix);
    assert.equal(http['pathOverride'], undefined);
    assertFailsClosed(extAuth['failOpen'], extAuth['statusOnError']);
  });
  it('sends the credential, Accept and the method-override headers; copies exactly the protected headers', () => {
    includesAll(extAuth['headersToExtAuth'] as string[], decisionRequestHeaders, file);
    assert.deepEqual(lower(http['headersToBackend'] as string[]), protectedLower);
  });
  it('removes client-sent protected headers before ext_authz and refuses "_" header names', () => {
    const ctp = only(docs, 'gateway.envoyproxy.io/v1alpha1', 'ClientTrafficPolicy');
    const headers = at(ctp, 'spec', 'headers') as Json;
    onlyKnownKeys(headers, EG.headers, `${file} ClientTrafficPolicy headers`);
    onlyKnownKeys(headers['earlyRequestHeaders'], EG.headerFilter, `${file} earlyRequestHeaders`);
    assert.deepEqual(lower(at(headers, 'earlyRequestHeaders', 'remove') as string[]), protectedLower);
    assert.ok(['RejectRequest', 'DropHeader'].includes(headers['withUnderscoresAction'] as string));
    assert.deepEqual(
      (at(ctp, 'spec', 'targetRefs') as Json[]).map((r) => r['kind']),
      ['Gateway'],
    );
  });
});

describe('Envoy Gateway SecurityPolicy, gRPC', () => {
  const file = 'envoy-gateway/security-policy-grpc.yaml';
  const { policy, grant, extAuth } = envoyGateway(file);
  it('calls the Check service on the admin Service at the admin listener port, and fails closed', () => {
    const grpc = extAuth['grpc'] as Json;
    onlyKnownKeys(grpc, EG.grpc, `${file} grpc`);
    assert.equal(extAuth['http'], undefined);
    assertEnvoyGatewayBackend(file, grpc, policy, grant);
    assertFailsClosed(extAuth['failOpen'], extAuth['statusOnError']);
    assert.ok(readExample(file).includes(contract.grpcMethod.slice(1)), 'names the service it calls');
  });
  it('sends every request header, so the gateway sees (and removes) a client-sent protected header', () => {
    // headersToExtAuth would restrict the check request to the headers listed.
    assert.equal(extAuth['headersToExtAuth'], undefined);
  });
});

/** Field names from istio/api mesh/v1alpha1/config.proto (EnvoyExternalAuthorization{Http,Grpc}Provider), JSON spelling. */
const ISTIO = {
  http: [
    'service',
    'port',
    'timeout',
    'pathPrefix',
    'failOpen',
    'clearRouteCache',
    'statusOnError',
    'includeRequestHeadersInCheck',
    'includeAdditionalHeadersInCheck',
    'includeRequestBodyInCheck',
    'headersToUpstreamOnAllow',
    'headersToDownstreamOnDeny',
    'headersToDownstreamOnAllow',
  ],
  grpc: ['service', 'port', 'timeout', 'failOpen', 'clearRouteCache', 'statusOnError', 'includeRequestBodyInCheck'],
  policySpec: ['selector', 'targetRef', 'targetRefs', 'rules', 'action', 'provider'],
};

describe('Istio extension providers and a CUSTOM AuthorizationPolicy', () => {
  const file = 'istio/ext-authz.yaml';
  const docs = yamlDocuments(file);
  const providers = at(only(docs, 'install.istio.io/v1alpha1', 'IstioOperator'), 'spec', 'meshConfig', 'extensionProviders') as Json[];
  const provider = (kind: string) => {
    const found = providers.filter((p) => p[kind] !== undefined);
    assert.equal(found.length, 1, `one ${kind} provider`);
    return { name: found[0]!['name'] as string, config: found[0]![kind] as Json };
  };
  const grpcService = only(docs, 'v1', 'Service');

  it('the gRPC provider reaches the admin listener port through a Service declared gRPC', () => {
    const { config } = provider('envoyExtAuthzGrpc');
    onlyKnownKeys(config, ISTIO.grpc, `${file} envoyExtAuthzGrpc`);
    assertFailsClosed(config['failOpen'], config['statusOnError']);
    assert.doesNotThrow(() => new Service(grpcService as never).validate());
    const [port] = at(grpcService, 'spec', 'ports') as Json[];
    assert.equal(
      config['service'],
      `${at(grpcService, 'metadata', 'name') as string}.${at(grpcService, 'metadata', 'namespace') as string}.svc.cluster.local`,
    );
    assert.equal(config['port'], port!['port']);
    assert.equal(port!['port'], contract.adminPort);
    // Istio's ext_authz client speaks HTTP/2 only to a port declared gRPC.
    assert.equal(port!['appProtocol'], 'grpc');
    // The same pods and container port as the admin Service.
    assert.equal(port!['targetPort'], contract.adminService.targetPort);
    assert.equal(at(grpcService, 'metadata', 'namespace'), contract.adminService.namespace);
    assert.deepEqual(at(grpcService, 'spec', 'selector'), contract.adminService.selector);
    assert.ok(readExample(file).includes(contract.grpcMethod.slice(1)), 'names the service it calls');
  });

  it('the HTTP provider asks the decision API below the prefix with what the decision needs', () => {
    const { config } = provider('envoyExtAuthzHttp');
    onlyKnownKeys(config, ISTIO.http, `${file} envoyExtAuthzHttp`);
    assertAdminAddress(config['service'] as string, config['port'] as number, `${file} envoyExtAuthzHttp`);
    assert.equal(config['pathPrefix'], contract.decisionsPrefix);
    assertFailsClosed(config['failOpen'], config['statusOnError']);
    includesAll(config['includeRequestHeadersInCheck'] as string[], decisionRequestHeaders, file);
    assert.deepEqual(lower(config['headersToUpstreamOnAllow'] as string[]), protectedLower);
    // A refusal keeps what the gateway wrote for the client; an allow passes a refreshed cookie.
    includesAll(config['headersToDownstreamOnDeny'] as string[], ['content-type', 'www-authenticate', 'location', 'retry-after'], file);
    includesAll(config['headersToDownstreamOnAllow'] as string[], ['set-cookie'], file);
  });

  it('the AuthorizationPolicy is CUSTOM and names a provider declared above', () => {
    const policy = only(docs, 'security.istio.io/v1', 'AuthorizationPolicy');
    onlyKnownKeys(policy['spec'], ISTIO.policySpec, `${file} AuthorizationPolicy spec`);
    assert.equal(at(policy, 'spec', 'action'), 'CUSTOM');
    assert.ok(providers.some((p) => p['name'] === at(policy, 'spec', 'provider', 'name')));
    assert.equal(new Set(providers.map((p) => p['name'])).size, providers.length, 'provider names are unique');
  });
});

/** Field names from projectcontour/contour apis/projectcontour (v1alpha1/extensionservice.go, v1/httpproxy.go), v1.33. */
const CONTOUR = {
  extensionService: [
    'services',
    'validation',
    'protocol',
    'loadBalancerPolicy',
    'timeoutPolicy',
    'protocolVersion',
    'circuitBreakerPolicy',
  ],
  target: ['name', 'port', 'weight'],
  authorization: ['extensionRef', 'authPolicy', 'responseTimeout', 'failOpen', 'withRequestBody'],
  extensionRef: ['apiVersion', 'namespace', 'name'],
};

describe('Contour ExtensionService', () => {
  const file = 'contour/extension-service.yaml';
  const docs = yamlDocuments(file);
  const ext = only(docs, 'projectcontour.io/v1alpha1', 'ExtensionService');
  const proxy = only(docs, 'projectcontour.io/v1', 'HTTPProxy');
  it('binds the admin Service at the admin listener port, h2c, Check v3', () => {
    onlyKnownKeys(ext['spec'], CONTOUR.extensionService, `${file} ExtensionService spec`);
    const services = at(ext, 'spec', 'services') as Json[];
    assert.equal(services.length, 1);
    onlyKnownKeys(services[0], CONTOUR.target, `${file} services[0]`);
    // Contour requires the ExtensionService in the namespace of the Service it names.
    assert.equal(at(ext, 'metadata', 'namespace'), contract.adminService.namespace);
    assertAdminAddress(
      `${services[0]!['name'] as string}.${contract.adminService.namespace}.svc.cluster.local`,
      services[0]!['port'] as number,
      file,
    );
    // The admin listener is plain HTTP/2; Contour's default (h2) would speak TLS to it.
    assert.equal(at(ext, 'spec', 'protocol'), 'h2c');
    assert.equal(at(ext, 'spec', 'protocolVersion'), 'v3');
    assert.ok(readExample(file).includes(contract.grpcMethod.slice(1)), 'names the service it calls');
  });
  it('the HTTPProxy uses it on a TLS virtual host and fails closed', () => {
    const authorization = at(proxy, 'spec', 'virtualhost', 'authorization') as Json;
    onlyKnownKeys(authorization, CONTOUR.authorization, `${file} authorization`);
    onlyKnownKeys(authorization['extensionRef'], CONTOUR.extensionRef, `${file} extensionRef`);
    assert.deepEqual(authorization['extensionRef'], {
      apiVersion: ext['apiVersion'],
      name: at(ext, 'metadata', 'name'),
      namespace: at(ext, 'metadata', 'namespace'),
    });
    assert.equal(authorization['failOpen'], false);
    // Contour attaches authorization only to virtual hosts with TLS.
    assert.ok(at(proxy, 'spec', 'virtualhost', 'tls', 'secretName'));
  });
});

describe('Caddy forward_auth', () => {
  const file = 'caddy/Caddyfile';
  const lines = readExample(file)
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  const index = (prefix: string) => lines.findIndex((l) => l.startsWith(prefix));
  const words = (prefix: string) => lines.filter((l) => l.startsWith(prefix)).flatMap((l) => l.slice(prefix.length).trim().split(/\s+/));

  it('asks the decision API on the admin Service at the admin listener port', () => {
    const target = /^forward_auth (\S+):(\d+) \{$/.exec(lines[index('forward_auth ')] ?? '');
    assert.ok(target, 'forward_auth <host>:<port> {');
    assertAdminAddress(target[1]!, target[2]!, file);
    assert.deepEqual(words('uri '), [contract.decisionsPrefix]);
  });
  it('copies exactly the protected headers, after deleting the client copies and every "_" name', () => {
    assert.deepEqual(lower(words('copy_headers ')), protectedLower);
    const deleted = words('request_header -');
    assert.deepEqual(lower(deleted.filter((h) => h !== '*_*')), protectedLower);
    assert.ok(deleted.includes('*_*'), 'header names with "_" are deleted');
    // In a `route` block, in this order: Caddy's default order runs request_header after forward_auth.
    assert.ok(index('route {') !== -1 && index('route {') < index('request_header -'));
    assert.ok(lines.findLastIndex((l) => l.startsWith('request_header -')) < index('forward_auth '));
    assert.ok(index('forward_auth ') < index('reverse_proxy '));
  });
  it('deletes, after forward_auth, each copied header the answer lacked (Caddy 2.6 sets it to the placeholder text)', () => {
    const matchers = new Map(
      lines.flatMap((l) => {
        const m = /^(@\w+) header (\S+) \*reverse_proxy\.header\.\*$/.exec(l);
        return m ? [[m[1]!, m[2]!.toLowerCase()] as const] : [];
      }),
    );
    const after = lines.slice(index('forward_auth ')).flatMap((l) => {
      const m = /^request_header (@\w+) -(\S+)$/.exec(l);
      return m && matchers.get(m[1]!) === m[2]!.toLowerCase() ? [m[2]!] : [];
    });
    assert.deepEqual(lower(after), protectedLower);
    assert.ok(lines.findLastIndex((l) => /^request_header @/.test(l)) < index('reverse_proxy '));
  });
});

it('docs/front-doors.md links every front-door recipe', () => {
  const doc = readFileSync(join(repoRoot, 'docs/front-doors.md'), 'utf8');
  const dirs = ['nginx', 'ingress-nginx', 'traefik', 'caddy', 'envoy', 'envoy-gateway', 'istio', 'contour'];
  const files = dirs.flatMap((d) => readdirSync(join(repoRoot, 'config/examples', d)).map((f) => `${d}/${f}`));
  assert.ok(files.length >= dirs.length);
  for (const f of files) assert.ok(doc.includes(`](../config/examples/${f})`), `${f} is linked`);
});

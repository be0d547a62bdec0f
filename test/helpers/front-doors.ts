/**
 * What every front-door recipe (config/examples/) must agree with, read from the gateway
 * itself rather than written out again: the admin port and decision prefix of the
 * configuration schema, the headers the production configuration injects, the credential
 * headers the registered credential sources read, the admin Service of the Kubernetes example
 * the recipes address, and the login URL the gateway builds.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import { configSchema } from '../../src/config/schema.js';
import { credentialExtractors } from '../../src/gateway/pipeline/credentials/index.js';
import { IDENTITY_ID_HEADER } from '../../src/gateway/pipeline/mutators/identity-headers.js';
import { METHOD_OVERRIDE_HEADERS } from '../../src/gateway/config-snapshot.js';
import { CHECK_PATH } from '../../src/gateway/transport/ext-authz/messages.js';

export const repoRoot = resolve(fileURLToPath(new URL('.', import.meta.url)), '../..');
export const readExample = (path: string): string => readFileSync(join(repoRoot, 'config/examples', path), 'utf8');

export type Json = Record<string, unknown>;

/** Every document of a YAML file, parse errors failing the test. */
export function yamlDocuments(path: string): Json[] {
  return parseAllDocuments(readExample(path)).map((d) => {
    assert.deepEqual(d.errors, [], `${path} parses`);
    return d.toJS() as Json;
  });
}

/** The one document of `kind` (and `apiVersion`) in `docs`. */
export function only(docs: Json[], apiVersion: string, kind: string): Json {
  const found = docs.filter((d) => d['kind'] === kind);
  assert.equal(found.length, 1, `one ${kind}`);
  assert.equal(found[0]!['apiVersion'], apiVersion, `${kind} apiVersion`);
  return found[0]!;
}

/** The value at `path`, failing with the path when a step is missing. */
export const at = (node: unknown, ...path: Array<string | number>): unknown =>
  path.reduce<unknown>((n, k) => {
    assert.ok(n !== null && typeof n === 'object', `missing ${path.join('.')}`);
    return (n as Json)[k as string];
  }, node);

/** `node`'s keys are among `known` (the fields of the product's API that the recipe may use): a misspelt key fails. */
export function onlyKnownKeys(node: unknown, known: readonly string[], where: string): void {
  assert.ok(node !== null && typeof node === 'object' && !Array.isArray(node), `${where} is an object`);
  const unknown = Object.keys(node).filter((k) => !known.includes(k));
  assert.deepEqual(unknown, [], `${where}: fields the API does not have`);
}

export const lower = (xs: readonly string[]): string[] => xs.map((x) => x.toLowerCase()).sort();

const defaults = configSchema.parse({});
const production = configSchema.parse(parseYaml(readFileSync(join(repoRoot, 'config/production.yaml'), 'utf8')));
const cookieSources = credentialExtractors(production.kratos.session_cookie);

/** The gateway's admin Service in the Kubernetes example: the address every recipe uses. */
function adminService(): { name: string; namespace: string; port: number; targetPort: string; selector: Json; host: string } {
  const docs = parseAllDocuments(readFileSync(join(repoRoot, 'config/examples/kubernetes/standalone.yaml'), 'utf8')).map(
    (d) => d.toJS() as Json,
  );
  const svc = docs.find((d) => d['kind'] === 'Service' && at(d, 'metadata', 'name') === 'kratos-gateway-admin');
  assert.ok(svc, 'standalone.yaml has the admin Service');
  const [port] = at(svc, 'spec', 'ports') as Json[];
  const name = at(svc, 'metadata', 'name') as string;
  const namespace = at(svc, 'metadata', 'namespace') as string;
  return {
    name,
    namespace,
    port: port!['port'] as number,
    targetPort: port!['targetPort'] as string,
    selector: at(svc, 'spec', 'selector') as Json,
    host: `${name}.${namespace}.svc.cluster.local`,
  };
}

export const contract = {
  /** The admin listener's port, where the HTTP decision API and the ext_authz gRPC service both are. */
  adminPort: defaults.admin.listen.port,
  decisionsPrefix: defaults.admin.decisions_prefix,
  adminService: adminService(),
  /**
   * What the gateway's answer may set on the request, and so what the front door must never
   * take from the client: the identity id, every identity_headers name of the production
   * configuration, and the identity_assertion header.
   */
  protectedHeaders: [IDENTITY_ID_HEADER, ...Object.keys(production.identity_headers), defaults.identity_assertion.header],
  assertionHeader: defaults.identity_assertion.header,
  /** The headers the registered credential sources read (lower case), `cookie` for the session cookie. */
  credentialHeaders: [
    ...new Set(cookieSources.flatMap((s) => [...s.reads.headers, ...(s.reads.cookies.length > 0 ? ['cookie'] : [])])),
  ].sort(),
  methodOverrideHeaders: [...METHOD_OVERRIDE_HEADERS].sort(),
  sessionCookie: production.kratos.session_cookie,
  returnToParam: production.login.return_to_param,
  /** The login URL's path when `login.redirect_url` is not set (pipeline/snapshot.ts). */
  loginPath: `${production.kratos.mount_prefix}/self-service/login/browser`,
  /** Envoy's ext_authz v3 method the admin listener serves, from the gateway's .proto files (checked against Envoy's). */
  grpcMethod: CHECK_PATH,
};

/** `host:port` or a URL's host and port: the admin Service at the admin port. */
export function assertAdminAddress(host: string, port: number | string, where: string): void {
  assert.equal(host, contract.adminService.host, `${where}: the admin Service`);
  assert.equal(Number(port), contract.adminPort, `${where}: the admin listener's port`);
}

/**
 * A fake Kratos v26 whoami for integration tests. Every answer it sends is first validated
 * with ajv against the `toSession` operation's response schema (200, 401, 403, and `default`
 * for its 400) of the v26.2.0 OpenAPI spec in test/fixtures, so its bodies cannot drift from
 * what Kratos documents: a body the spec would reject throws inside the server and the test
 * sees a 500. Query parameters the spec does not list for `toSession` are refused the same way.
 *
 * Session-to-JWT (`?tokenize_as=<template>`, Kratos v1.2+): a configured template answers with
 * `tokenized`, an ES256 JWT with the claims Kratos's session tokenizer sets (jti, iss, exp,
 * sub, sid, nbf, iat), and without `Ory-Session-Cache-For` (Kratos omits it then); an unknown
 * template is Kratos's 400.
 */
import { createServer, type IncomingHttpHeaders } from 'node:http';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv, type ValidateFunction } from 'ajv';
import { exportJWK, generateKeyPair, SignJWT, type JSONWebKeySet } from 'jose';
import addFormatsModule, { type FormatsPlugin } from 'ajv-formats';
import { closeServer, listenOnFreePort } from './servers.js';

const here = dirname(fileURLToPath(import.meta.url));
export const MODERN_SPEC_FILE = join(here, '../fixtures/kratos-v26.2.0-api.json');

export const addFormats: FormatsPlugin =
  (addFormatsModule as unknown as { default?: FormatsPlugin }).default ?? (addFormatsModule as unknown as FormatsPlugin);

/** OpenAPI 3.0 `nullable` as a JSON-Schema union. */
export function toJsonSchema(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(toJsonSchema);
  if (typeof node !== 'object' || node === null) return node;
  const obj: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(node)) obj[k] = toJsonSchema(v);
  if (obj.nullable === true) {
    delete obj.nullable;
    return { anyOf: [obj, { type: 'null' }] };
  }
  return obj;
}

type Responses = Record<string, { content?: { 'application/json'?: { schema?: { $ref?: string } } } }>;

let validators: Map<number, ValidateFunction> | undefined;
let queryParameters: Set<string> | undefined;

/** The status the spec's `default` response stands for (any error status it does not list). */
const DEFAULT_RESPONSE = 0;

/** The `toSession` response validators by status, built once from the fixture spec. */
export function toSessionValidators(): Map<number, ValidateFunction> {
  if (validators) return validators;
  const spec = JSON.parse(readFileSync(MODERN_SPEC_FILE, 'utf8')) as {
    paths: Record<string, Record<string, { operationId?: string; responses: Responses; parameters: Array<{ name: string; in: string }> }>>;
    components: { schemas: Record<string, Record<string, unknown>> };
  };
  // Kratos's own answer puts `redirect_browser_to` in `error.details` as well (session/handler.go),
  // which its spec's `details: {additionalProperties: false}` does not list: exactly that one
  // field is allowed there, nothing else.
  const genericError = spec.components.schemas.genericError as { properties: Record<string, Record<string, unknown>> };
  genericError.properties.details = { ...genericError.properties.details, properties: { redirect_browser_to: { type: 'string' } } };
  const ajv = new Ajv({ strict: false, allErrors: true });
  addFormats(ajv);
  ajv.addFormat('uuid4', /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i);
  ajv.addFormat('int64', { type: 'number', validate: (n: number) => Number.isInteger(n) });
  ajv.addSchema({ $id: 'kratos-v26', components: toJsonSchema(spec.components) });
  const op = spec.paths['/sessions/whoami']!.get!;
  if (op.operationId !== 'toSession') throw new Error('fixture spec: GET /sessions/whoami is not toSession');
  validators = new Map();
  for (const status of [200, 401, 403, DEFAULT_RESPONSE]) {
    const ref = op.responses[status === DEFAULT_RESPONSE ? 'default' : String(status)]!.content!['application/json']!.schema!.$ref!;
    validators.set(status, ajv.compile({ $ref: `kratos-v26${ref}` }));
  }
  queryParameters = new Set(op.parameters.filter((p) => p.in === 'query').map((p) => p.name));
  return validators;
}

/** Throws when the gateway's whoami sends a query parameter `toSession` does not document. */
export function assertToSessionQuery(search: URLSearchParams): void {
  toSessionValidators();
  for (const name of search.keys()) if (!queryParameters!.has(name)) throw new Error(`toSession documents no query parameter "${name}"`);
}

/** Throws when `body` is not a valid `toSession` answer for `status`. */
export function assertToSessionAnswer(status: number, body: unknown): void {
  const v = toSessionValidators().get(status) ?? (status >= 400 ? toSessionValidators().get(DEFAULT_RESPONSE) : undefined);
  if (!v) throw new Error(`toSession documents no ${status}`);
  if (!v(body)) throw new Error(`toSession ${status} body violates the v26.2.0 spec: ${JSON.stringify(v.errors)}`);
}

/** Kratos's 403 session_aal2_required (`required_aal: highest_available`, session/handler.go), sending the browser to `redirect`. */
export function aal2RequiredBody(redirect: string): Record<string, unknown> {
  return {
    error: {
      id: 'session_aal2_required',
      code: 403,
      status: 'Forbidden',
      reason:
        'An active session was found but it does not fulfill the Authenticator Assurance Level, implying that the session must use 2FA.',
      message: 'Session does not fulfill the requested Authenticator Assurance Level',
      details: { redirect_browser_to: redirect },
    },
    redirect_browser_to: redirect,
  };
}

export interface ModernSession {
  identityId: string;
  sessionId: string;
  /** aal1: whoami answers 403 session_aal2_required (required_aal: highest_available); aal2: 200. */
  aal: 'aal1' | 'aal2';
  traits: Record<string, unknown>;
}

/**
 * A full v26 session body: every field the spec lists, including the ones the gateway ignores.
 * `tokenized` only when given (Kratos sets it only for a `tokenize_as` request).
 */
export function fullSessionBody(s: ModernSession, nowMs = Date.now(), tokenized?: string): Record<string, unknown> {
  const now = new Date(nowMs).toISOString();
  const methods = [{ method: 'password', aal: 'aal1', completed_at: now }];
  if (s.aal === 'aal2') methods.push({ method: 'totp', aal: 'aal2', completed_at: now });
  return {
    id: s.sessionId,
    active: true,
    authenticated_at: now,
    authentication_methods: methods,
    authenticator_assurance_level: s.aal,
    devices: [{ id: randomUUID(), ip_address: '192.0.2.7', location: 'Berlin, DE', user_agent: 'Mozilla/5.0' }],
    expires_at: new Date(nowMs + 86_400_000).toISOString(),
    issued_at: now,
    ...(tokenized !== undefined && { tokenized }),
    identity: {
      id: s.identityId,
      schema_id: 'default',
      schema_url: 'https://kratos.example/schemas/ZGVmYXVsdA',
      state: 'active',
      state_changed_at: now,
      traits: s.traits,
      metadata_public: { plan: 'pro' },
      verifiable_addresses: [
        { id: randomUUID(), value: 'a@example.com', verified: true, via: 'email', status: 'completed', created_at: now, updated_at: now },
      ],
      recovery_addresses: [{ id: randomUUID(), value: 'a@example.com', via: 'email', created_at: now, updated_at: now }],
      organization_id: null,
      created_at: now,
      updated_at: now,
    },
  };
}

/**
 * The fake v26 Kratos: sessions by token (X-Session-Token or the `ory_kratos_session` cookie).
 * `state.redirectBase`: where its 403's `redirect_browser_to` points (default its own URL, as
 * Kratos builds it from its public base URL); `state.cacheFor401`: the `Ory-Session-Cache-For`
 * it sends on a 401 for missing credentials (Kratos sends 60 when whoami caching is on).
 */
export async function startModernKratos() {
  const sessions = new Map<string, ModernSession>();
  const state = {
    calls: 0,
    redirectBase: undefined as string | undefined,
    /** Overrides the whole redirect_browser_to (e.g. another host). */
    redirectOverride: undefined as string | undefined,
    cacheFor401: undefined as number | undefined,
    lastHeaders: undefined as IncomingHttpHeaders | undefined,
    /** The last whoami's query string (`?tokenize_as=…`), '' without one. */
    lastSearch: '',
    /** Session token templates (Kratos `session.whoami.tokenizer.templates`): name → JWT lifetime in seconds. */
    templates: new Map<string, number>([['gateway', 60]]),
    /** Sends a 200 without `tokenized` even when asked for it (a misconfigured or older Kratos). */
    omitTokenized: false,
    /** Sends this `tokenized` when none was asked for (the gateway must ignore it). */
    strayTokenized: undefined as string | undefined,
    /** `Ory-Session-Cache-For` on a 200, as whoami caching sends it: never with tokenize_as. */
    cacheFor200: undefined as number | undefined,
    /** Tokenized JWTs issued. */
    tokenized: 0,
  };
  // The templates' signing key (Kratos's `jwks_url`); its public half is `jwks` below.
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  const jwks: JSONWebKeySet = { keys: [{ ...(await exportJWK(publicKey)), kid: 'kratos-template', alg: 'ES256', use: 'sig' }] };
  const tokenize = (s: ModernSession, template: string): Promise<string> => {
    const nowS = Math.floor(Date.now() / 1000);
    state.tokenized++;
    return new SignJWT({ sid: s.sessionId })
      .setProtectedHeader({ alg: 'ES256', kid: 'kratos-template', typ: 'JWT' })
      .setJti(randomUUID())
      .setIssuer(selfUrl)
      .setSubject(s.identityId)
      .setIssuedAt(nowS)
      .setNotBefore(nowS)
      .setExpirationTime(nowS + state.templates.get(template)!)
      .sign(privateKey);
  };
  let selfUrl = '';
  const send = (res: import('node:http').ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    assertToSessionAnswer(status, body);
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify(body));
  };
  const server = createServer((req, res) => {
    if (req.url === '/health/alive') return res.end('{"status":"ok"}');
    // v1 logout (updateLogoutFlow, with the session cookie) and API logout (performNativeLogout,
    // `{"session_token"}` body): the session ends, 204 as Kratos answers a JSON client.
    if (req.method === 'GET' && req.url?.startsWith('/self-service/logout?')) {
      const cookieToken = /ory_kratos_session=([^;]+)/.exec(req.headers.cookie ?? '')?.[1];
      if (cookieToken !== undefined) sessions.delete(cookieToken);
      res.writeHead(204);
      return res.end();
    }
    if (req.method === 'DELETE' && req.url === '/self-service/logout/api') {
      let raw = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => (raw += c));
      req.on('end', () => {
        const { session_token: bodyToken } = JSON.parse(raw) as { session_token?: string };
        const known = bodyToken !== undefined && sessions.delete(bodyToken);
        res.writeHead(known ? 204 : 403);
        res.end();
      });
      return;
    }
    if (!req.url?.startsWith('/sessions/whoami')) {
      res.writeHead(404);
      return res.end();
    }
    state.calls++;
    state.lastHeaders = req.headers;
    void (async () => {
      try {
        const search = new URL(req.url ?? '/', 'http://kratos').searchParams;
        state.lastSearch = search.size === 0 ? '' : `?${search}`;
        assertToSessionQuery(search);
        const template = search.get('tokenize_as') ?? undefined;
        const token =
          (req.headers['x-session-token'] as string | undefined) ?? /ory_kratos_session=([^;]+)/.exec(req.headers.cookie ?? '')?.[1];
        // `undecodable-…`: the fixture's stand-in for a cookie Kratos cannot decode, which it
        // treats as missing credentials (the 401 that carries Ory-Session-Cache-For).
        if (token === undefined || token.startsWith('undecodable-')) {
          const headers: Record<string, string> = {};
          if (state.cacheFor401 !== undefined) headers['ory-session-cache-for'] = String(state.cacheFor401);
          return send(
            res,
            401,
            {
              error: {
                code: 401,
                status: 'Unauthorized',
                id: 'session_inactive',
                reason: 'No valid session credentials found in the request.',
                message: 'The request could not be authorized',
              },
            },
            headers,
          );
        }
        const s = sessions.get(token);
        if (s === undefined) {
          return send(res, 401, {
            error: {
              code: 401,
              status: 'Unauthorized',
              id: 'session_inactive',
              reason: 'No active session was found in this request.',
              message: 'request does not have a valid authentication session',
            },
          });
        }
        if (s.aal === 'aal1') {
          const redirect = state.redirectOverride ?? `${state.redirectBase ?? selfUrl}/self-service/login/browser?aal=aal2`;
          return send(res, 403, aal2RequiredBody(redirect));
        }
        if (template !== undefined && !state.templates.has(template)) {
          return send(res, 400, {
            error: {
              code: 400,
              status: 'Bad Request',
              reason: `Unable to find token template "${template}"`,
              message: 'The request was malformed or contained invalid parameters',
            },
          });
        }
        const headers: Record<string, string> = { 'x-kratos-authenticated-identity-id': s.identityId };
        if (template === undefined && state.cacheFor200 !== undefined) headers['ory-session-cache-for'] = String(state.cacheFor200);
        const tokenized = template === undefined ? state.strayTokenized : state.omitTokenized ? undefined : await tokenize(s, template);
        return send(res, 200, fullSessionBody(s, Date.now(), tokenized), headers);
      } catch (err) {
        // A fixture that drifted from the spec: fail the request loudly rather than send it.
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end((err as Error).message);
      }
    })();
  });
  selfUrl = await listenOnFreePort(server);
  return {
    url: selfUrl,
    state,
    /** The public keys of the token templates, to verify `tokenized` JWTs with. */
    jwks,
    sessions,
    addSession(s: Partial<ModernSession> = {}): { token: string; session: ModernSession } {
      const token = randomUUID().replaceAll('-', '');
      const session: ModernSession = {
        identityId: randomUUID(),
        sessionId: randomUUID(),
        aal: 'aal2',
        traits: { email: 'a@example.com' },
        ...s,
      };
      sessions.set(token, session);
      return { token, session };
    },
    close: () => closeServer(server),
  };
}

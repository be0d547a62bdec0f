/** Shared setup for the identity-server integration tests: a server on port 0, a cookie-jar browser, spec validation. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule, { type FormatsPlugin } from 'ajv-formats';
import { request } from 'undici';
import { createLogger } from '../../../src/log.js';
import { SettableClock, startIdentityServer, type IdentityServer } from '../../../src/identity/index.js';

const here = dirname(fileURLToPath(import.meta.url));
export const SCHEMA_FILE = join(here, '../../../config/identity.schema.json');
export const UI = 'http://ui.test';

/** A kratos.yml (Kratos key names) for the embedded identity server under test; not the gateway's testConfig. */
export function kratosTestConfig(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const base = {
    selfservice: {
      default_browser_return_url: `${UI}/`,
      whitelisted_return_urls: [`${UI}/app`],
      flows: {
        error: { ui_url: `${UI}/error` },
        login: { ui_url: `${UI}/login`, lifespan: '10m' },
        registration: { ui_url: `${UI}/registration`, after: { password: { hooks: [{ hook: 'session' }] } } },
        settings: { ui_url: `${UI}/settings`, privileged_session_max_age: '15m' },
        recovery: { enabled: true, ui_url: `${UI}/recovery` },
        verification: { enabled: true, ui_url: `${UI}/verification` },
        logout: { after: { default_browser_return_url: `${UI}/bye` } },
      },
    },
    secrets: { cookie: ['test-secret-0123456789abcdef'] },
    identity: { default_schema_url: `file://${SCHEMA_FILE}` },
    // Small argon2 parameters keep the suite fast; production defaults are in config.ts.
    hashers: { argon2: { memory: '8MB', iterations: 1 } },
  };
  return deepMerge(base, overrides);
}

/** An identity schema whose traits are `properties` (the draft-07 layout Kratos reads). */
export function traitsSchema(properties: Record<string, unknown>, required: string[]): Record<string, unknown> {
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    type: 'object',
    properties: { traits: { type: 'object', properties, required, additionalProperties: false } },
  };
}

function deepMerge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const cur = out[k];
    out[k] =
      typeof v === 'object' && v !== null && !Array.isArray(v) && typeof cur === 'object' && cur !== null && !Array.isArray(cur)
        ? deepMerge(cur as Record<string, unknown>, v as Record<string, unknown>)
        : v;
  }
  return out;
}

export interface TestServer {
  server: IdentityServer;
  clock: SettableClock;
  publicUrl: string;
  adminUrl: string;
  logs: string[];
  close(): Promise<void>;
}

export async function startTestServer(
  opts: { config?: Record<string, unknown>; dsn?: string; clock?: SettableClock } = {},
): Promise<TestServer> {
  const clock = opts.clock ?? new SettableClock(new Date('2026-01-01T10:00:00.000Z'));
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      logs.push(chunk.toString());
      cb();
    },
  });
  const server = await startIdentityServer({
    config: opts.config ?? kratosTestConfig(),
    publicListen: { host: '127.0.0.1', port: 0 },
    adminListen: { host: '127.0.0.1', port: 0 },
    dsn: opts.dsn ?? 'memory',
    logger: createLogger('info', sink),
    clock,
  });
  return { server, clock, publicUrl: server.publicUrl, adminUrl: server.adminUrl, logs, close: () => server.close() };
}

// ---------- OpenAPI response-schema validation ----------

const addFormats: FormatsPlugin =
  (addFormatsModule as unknown as { default?: FormatsPlugin }).default ?? (addFormatsModule as unknown as FormatsPlugin);

/**
 * OpenAPI 3.0 `nullable` becomes a JSON-Schema union. Two places where Kratos v0.6 itself
 * answers null although the spec says string/array (BEHAVIOUR.md §2): a node's empty
 * `messages` and an unverified address's `verified_at`; they are patched to nullable here.
 */
function toJsonSchema(node: unknown): unknown {
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

interface Spec {
  paths: Record<string, Record<string, { responses?: Record<string, { $ref?: string; content?: Record<string, unknown> }> }>>;
  components: { schemas: Record<string, Record<string, unknown>>; responses: Record<string, { content?: Record<string, unknown> }> };
}

let state: { ajv: Ajv; spec: Spec; templates: Array<[RegExp, string]> } | undefined;

function load() {
  if (!state) {
    const spec = JSON.parse(readFileSync(join(here, 'fixtures/kratos-v0.6.3-api.json'), 'utf8')) as Spec;
    const schemas = spec.components.schemas;
    schemas.NullTime = { ...schemas.NullTime, nullable: true };
    const uiNode = schemas.uiNode as { properties: Record<string, unknown> };
    uiNode.properties.messages = { ...(uiNode.properties.messages as object), nullable: true };
    const ajv = new Ajv({ strict: false, allErrors: true });
    addFormats(ajv);
    ajv.addFormat('uuid4', /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i);
    ajv.addFormat('int64', { type: 'number', validate: (n: number) => Number.isInteger(n) });
    ajv.addSchema({ $id: 'kratos-spec', components: toJsonSchema(spec.components), paths: toJsonSchema(spec.paths) });
    // BEHAVIOUR.md §0: without the session hook, API registration answers {identity} only,
    // although the spec marks session_token as required.
    ajv.addSchema({
      $id: 'registration-without-session-hook',
      type: 'object',
      required: ['identity'],
      properties: { identity: { $ref: 'kratos-spec#/components/schemas/identity' } },
      additionalProperties: false,
    });
    const templates = Object.keys(spec.paths).map((p): [RegExp, string] => [new RegExp(`^${p.replace(/\{[^}]+\}/g, '[^/]+')}$`), p]);
    state = { ajv, spec, templates };
  }
  return state;
}

const pointerEscape = (s: string) => s.replace(/~/g, '~0').replace(/\//g, '~1');

/** A JSON pointer into the spec ("/components/…") or the id of an extra schema added in load(). */
function validatorAt(pointer: string): ValidateFunction {
  const v = load().ajv.getSchema(pointer.startsWith('/') ? `kratos-spec#${pointer}` : pointer);
  if (!v) throw new Error(`no schema at ${pointer}`);
  return v;
}

/** Asserts that a body matches `#/components/schemas/<name>` of the v0.6.3 spec. */
export function assertSchema(name: string, body: unknown): void {
  const v = validatorAt(`/components/schemas/${name}`);
  if (!v(body))
    assert.fail(`body does not match ${name}: ${JSON.stringify(v.errors?.slice(0, 5))}\n${JSON.stringify(body).slice(0, 1500)}`);
}

/** Identity lists are an inline array schema in the spec's responses. */
export function assertIdentityList(body: unknown): void {
  assert.ok(Array.isArray(body), 'identity list is an array');
  for (const i of body as unknown[]) assertSchema('identity', i);
}

/**
 * Bodies the v0.6.3 server really sends that the spec does not list (BEHAVIOUR.md §3, §4,
 * §7, §8): JSON browser submits answer with the session (login, registration) or the
 * identity (settings), and API recovery/verification submits answer 200 with the flow.
 */
const UNDOCUMENTED: Record<string, string[]> = {
  'post /self-service/login 200': ['/components/schemas/session'],
  'post /self-service/registration 200': ['/components/schemas/session', 'registration-without-session-hook'],
  'post /self-service/settings 200': ['/components/schemas/identity'],
  'post /self-service/recovery 200': ['/components/schemas/recoveryFlow'],
  'post /self-service/recovery/methods/link 200': ['/components/schemas/recoveryFlow'],
  'post /self-service/verification 200': ['/components/schemas/verificationFlow'],
  'post /self-service/verification/methods/link 200': ['/components/schemas/verificationFlow'],
};

/**
 * Validates a response body against what the spec documents for this operation and status.
 * Error bodies (`{error: …}`) may also be a jsonError: the v0.6 server answers with one for
 * statuses the spec documents with a flow (e.g. 400 "already logged in") or not at all.
 * Operations the spec does not have (GET /courier/messages) are not checked.
 */
export function assertResponse(method: string, url: string, status: number, body: unknown): void {
  const { spec, templates } = load();
  const pathname = new URL(url).pathname;
  const template = templates.find(([re]) => re.test(pathname))?.[1];
  const m = method.toLowerCase();
  const candidates: string[] = [];
  const op = template ? spec.paths[template]?.[m] : undefined;
  const documented = op?.responses?.[String(status)];
  if (template && documented) {
    const base = documented.$ref
      ? `/components/responses/${documented.$ref.split('/').pop() ?? ''}`
      : `/paths/${pointerEscape(template)}/${m}/responses/${status}`;
    const holder = documented.$ref ? spec.components.responses[documented.$ref.split('/').pop() ?? ''] : documented;
    if (holder?.content?.['application/json']) candidates.push(`${base}/content/application~1json/schema`);
  }
  candidates.push(...(UNDOCUMENTED[`${m} ${template} ${status}`] ?? []));
  if (status >= 400 && typeof body === 'object' && body !== null && 'error' in body) candidates.push('/components/schemas/jsonError');
  if (candidates.length === 0) {
    assert.ok(
      !template || status < 300 || body === undefined || status === 404,
      `${method} ${pathname} ${status}: the spec documents no JSON body for this status`,
    );
    return;
  }
  const failures: string[] = [];
  for (const c of candidates) {
    const v = validatorAt(c);
    if (v(body)) return;
    failures.push(`${c}: ${JSON.stringify(v.errors?.slice(0, 3))}`);
  }
  assert.fail(
    `${method} ${pathname} ${status} body matches none of the spec's schemas:\n${failures.join('\n')}\n${JSON.stringify(body).slice(0, 1500)}`,
  );
}

/** Makes a generated client validate every JSON body it receives, errors included. */
export function validating<T>(api: T): T {
  const axios = (api as unknown as { axios: AxiosInstanceLike }).axios;
  // After a followed redirect, the last request's method and path are what the body answers.
  const check = (res: AxiosResponseLike) => {
    if (res.data === '' || res.data === undefined) return;
    const url = new URL(res.request?.path ?? '', res.config.url).href;
    assertResponse(res.request?.method ?? res.config.method ?? 'get', url, res.status, res.data);
  };
  axios.interceptors.response.use(
    (res) => {
      check(res);
      return res;
    },
    (err: { response?: AxiosResponseLike }) => {
      if (err.response) check(err.response);
      return Promise.reject(err);
    },
  );
  return api;
}

interface AxiosResponseLike {
  status: number;
  data: unknown;
  config: { method?: string; url?: string };
  request?: { path?: string; method?: string };
}
interface AxiosInstanceLike {
  interceptors: {
    response: {
      use(ok: (r: AxiosResponseLike) => AxiosResponseLike, bad: (e: { response?: AxiosResponseLike }) => Promise<never>): number;
    };
  };
}

// ---------- a browser with a cookie jar ----------

export interface HttpResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  location: string | undefined;
  text: string;
  json: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- test convenience: bodies are asserted field by field
  setCookies: string[];
}

export class Browser {
  readonly jar = new Map<string, string>();

  /** Every JSON body is checked against the spec unless a test opts out. */
  constructor(private readonly validate = true) {}

  cookieHeader(): string | undefined {
    if (this.jar.size === 0) return undefined;
    return [...this.jar].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  private store(setCookies: string[]): void {
    for (const sc of setCookies) {
      const [pair, ...attrs] = sc.split(';');
      const eq = pair?.indexOf('=') ?? -1;
      if (!pair || eq < 0) continue;
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expired = attrs.some((a) => {
        const [k, v] = a.trim().split('=');
        if (k?.toLowerCase() === 'max-age') return Number(v) <= 0;
        // Deletions are written as the epoch; the server's clock may be set anywhere in tests.
        if (k?.toLowerCase() === 'expires') return Date.parse(v ?? '') < Date.parse('2000-01-01');
        return false;
      });
      if (expired || value === '') this.jar.delete(name);
      else this.jar.set(name, value);
    }
  }

  async send(method: string, url: string, opts: { body?: string; headers?: Record<string, string> } = {}): Promise<HttpResult> {
    const headers: Record<string, string> = { ...(opts.headers ?? {}) };
    const cookie = this.cookieHeader();
    if (cookie && headers.cookie === undefined) headers.cookie = cookie;
    const res = await request(url, { method: method as 'GET', headers, ...(opts.body !== undefined ? { body: opts.body } : {}) });
    const text = await res.body.text();
    const raw = res.headers['set-cookie'];
    const setCookies = raw === undefined ? [] : Array.isArray(raw) ? raw : [raw];
    this.store(setCookies);
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    if (json !== undefined && this.validate) assertResponse(method, url, res.statusCode, json);
    const loc = res.headers.location;
    return { status: res.statusCode, headers: res.headers, location: typeof loc === 'string' ? loc : undefined, text, json, setCookies };
  }

  get(url: string, headers: Record<string, string> = {}): Promise<HttpResult> {
    return this.send('GET', url, { headers });
  }

  getJson(url: string): Promise<HttpResult> {
    return this.send('GET', url, { headers: { accept: 'application/json' } });
  }

  postForm(url: string, form: Record<string, string>, headers: Record<string, string> = {}): Promise<HttpResult> {
    return this.send('POST', url, {
      body: new URLSearchParams(form).toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html', ...headers },
    });
  }

  postJson(url: string, body: unknown, headers: Record<string, string> = {}): Promise<HttpResult> {
    return this.send('POST', url, {
      body: JSON.stringify(body),
      headers: { 'content-type': 'application/json', accept: 'application/json', ...headers },
    });
  }
}

/** The `flow` query parameter of a redirect to a UI URL. */
export function flowIdFrom(location: string | undefined, expectedPrefix: string): string {
  assert.ok(location, 'expected a redirect');
  assert.ok(location.startsWith(`${expectedPrefix}?`), `redirect ${location} should go to ${expectedPrefix}`);
  const id = new URL(location).searchParams.get('flow');
  assert.ok(id, 'redirect carries ?flow=');
  return id;
}

export function csrfOf(flow: { ui: { nodes: Array<{ attributes: { name: string; value?: unknown } }> } }): string {
  const v = flow.ui.nodes.find((n) => n.attributes.name === 'csrf_token')?.attributes.value;
  assert.equal(typeof v, 'string');
  return v as string;
}

interface NodeLike {
  group?: string;
  attributes: { name: string; value?: unknown };
  messages: Array<{ id: number; text: string }> | null;
}

export function nodeOf(flow: { ui: { nodes: unknown[] } }, name: string): NodeLike {
  const n = (flow.ui.nodes as NodeLike[]).find((x) => x.attributes.name === name);
  assert.ok(n, `node ${name} exists`);
  return n;
}

export function messageIds(flow: { ui: { messages?: Array<{ id: number }> } }): number[] {
  return (flow.ui.messages ?? []).map((m) => m.id);
}

export async function courierMessages(
  adminUrl: string,
): Promise<Array<{ recipient: string; subject: string; body: string; type: string; status: string; template_type: string }>> {
  const res = await request(`${adminUrl}/courier/messages`);
  return (await res.body.json()) as Array<{
    recipient: string;
    subject: string;
    body: string;
    type: string;
    status: string;
    template_type: string;
  }>;
}

/** The last link emailed to an address. */
export async function lastLinkTo(adminUrl: string, recipient: string): Promise<string> {
  const msgs = (await courierMessages(adminUrl)).filter((m) => m.recipient === recipient);
  const body = msgs[msgs.length - 1]?.body ?? '';
  const m = /(http\S+token=\S+)/.exec(body);
  assert.ok(m?.[1], `an email with a link was sent to ${recipient}`);
  return m[1];
}

/** Registers through the browser flow, leaving the session cookie in the browser's jar. */
export async function registerBrowser(t: TestServer, b: Browser, email: string, password: string): Promise<void> {
  const init = await b.get(`${t.publicUrl}/self-service/registration/browser`);
  const flowId = flowIdFrom(init.location, `${UI}/registration`);
  const flow = (await b.getJson(`${t.publicUrl}/self-service/registration/flows?id=${flowId}`)).json;
  const res = await b.postForm(`${t.publicUrl}/self-service/registration?flow=${flowId}`, {
    method: 'password',
    csrf_token: csrfOf(flow),
    'traits.email': email,
    password,
  });
  assert.equal(res.status, 302, res.text);
}

export async function loginBrowser(t: TestServer, b: Browser, email: string, password: string, query = ''): Promise<HttpResult> {
  const init = await b.get(`${t.publicUrl}/self-service/login/browser${query}`);
  const flowId = flowIdFrom(init.location, `${UI}/login`);
  const flow = (await b.getJson(`${t.publicUrl}/self-service/login/flows?id=${flowId}`)).json;
  return b.postForm(`${t.publicUrl}/self-service/login?flow=${flowId}`, {
    method: 'password',
    csrf_token: csrfOf(flow),
    password_identifier: email,
    password,
  });
}

/**
 * Signs a new identity up through the API registration flow at `publicBase` (the identity server's
 * public URL, or the gateway's Kratos mount) and returns its session token.
 */
export async function registerWithApi(publicBase: string, email: string, password: string): Promise<string> {
  const init = await request(`${publicBase}/self-service/registration/api`);
  const flow = (await init.body.json()) as { id: string };
  const submit = await request(`${publicBase}/self-service/registration?flow=${flow.id}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify({ method: 'password', password, traits: { email } }),
  });
  const body = (await submit.body.json()) as { session_token: string };
  assert.equal(submit.statusCode, 200, JSON.stringify(body));
  return body.session_token;
}

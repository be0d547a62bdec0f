/**
 * A fake Kratos v26 public API for the self-service browser flows, for driving the UI the way
 * a production Kratos would. Every JSON body it sends is first validated with ajv against the
 * response schema the v26.2.0 OpenAPI spec (test/fixtures) gives that operation and status; a
 * body the spec rejects is not sent, the request answers 500 with the violation instead, and
 * `state.violations` records it, so a test that checks `violations` is empty cannot pass on a
 * drifted fixture. Query parameters the operation does not document are recorded in
 * `state.undocumentedQuery` (Kratos ignores them; the tests decide which they tolerate).
 *
 * What it models, from Kratos v1.x–v26 behaviour (see /work/shared/kratos/MODERN-KRATOS.md):
 * - browser init (`GET /self-service/<kind>/browser`) sets a CSRF cookie and answers 303 to
 *   `<ui>/<kind>?flow=<id>`; settings without a session goes to login init; login `?aal=aal2`
 *   needs a session and makes a second-factor flow (totp + lookup_secret);
 * - flow fetch (`GET /self-service/<kind>/flows?id=`): 200 with the v26 flow (`ui.nodes` with
 *   `node_type` attributes), 404 unknown, 410 `self_service_flow_expired`, 403
 *   `security_csrf_violation` without the flow's CSRF cookie, settings 401/403;
 * - form submits (`POST /self-service/<kind>?flow=`) as a browser makes them: 303 back to the UI
 *   with messages, to the error UI (`?id=`) on a CSRF violation, or on to `return_to`;
 * - `GET /self-service/errors?id=` (flowError), v1 logout (`/self-service/logout/browser` →
 *   `{logout_url, logout_token}`, then `/self-service/logout?token=`).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Ajv, type ValidateFunction } from 'ajv';
import { aal2RequiredBody, addFormats, MODERN_SPEC_FILE, toJsonSchema } from './modern-kratos.js';
import { closeServer, listenOnFreePort } from './servers.js';

interface Operation {
  operationId?: string;
  parameters?: Array<{ name: string; in: string }>;
  responses: Record<string, { content?: { 'application/json'?: { schema?: { $ref?: string } } } }>;
}

interface SpecIndex {
  ajv: Ajv;
  paths: Record<string, Record<string, Operation>>;
  compiled: Map<string, ValidateFunction>;
}

let index: SpecIndex | undefined;

function specIndex(): SpecIndex {
  if (index) return index;
  const spec = JSON.parse(readFileSync(MODERN_SPEC_FILE, 'utf8')) as {
    paths: Record<string, Record<string, Operation>>;
    components: { schemas: Record<string, Record<string, unknown>> };
  };
  // `genericError.details` is `additionalProperties: false` with no properties in the spec, yet
  // Kratos fills it: `redirect_browser_to` on session_aal2_required (session/handler.go), and
  // `redirect_to` + `return_to` on a 410 self_service_flow_expired of a browser flow (the
  // flow handlers' WithDetail calls). Exactly those keys are allowed, as strings; nothing else.
  const genericError = spec.components.schemas.genericError as { properties: Record<string, Record<string, unknown>> };
  genericError.properties.details = {
    ...genericError.properties.details,
    properties: { redirect_browser_to: { type: 'string' }, redirect_to: { type: 'string' }, return_to: { type: 'string' } },
  };
  const ajv = new Ajv({ strict: false, allErrors: true });
  addFormats(ajv);
  ajv.addFormat('uuid4', /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i);
  ajv.addFormat('int64', { type: 'number', validate: (n: number) => Number.isInteger(n) });
  ajv.addSchema({ $id: 'kratos-v26-flows', components: toJsonSchema(spec.components) });
  index = { ajv, paths: spec.paths, compiled: new Map() };
  return index;
}

function operation(method: string, path: string): Operation {
  const op = specIndex().paths[path]?.[method.toLowerCase()];
  if (!op) throw new Error(`the v26.2.0 spec has no ${method} ${path}`);
  return op;
}

/**
 * Throws unless `body` is what the spec documents for `method path` answering `status`
 * (its own entry, else `default`). A status the spec does not list, or a body where the spec
 * documents none, throws too.
 */
export function assertV26Answer(method: string, path: string, status: number, body: unknown): void {
  const op = operation(method, path);
  const key = op.responses[String(status)] ? String(status) : op.responses.default ? 'default' : undefined;
  if (key === undefined) throw new Error(`${op.operationId ?? path} documents no ${status}`);
  const ref = op.responses[key]!.content?.['application/json']?.schema?.$ref;
  if (ref === undefined) {
    if (body !== undefined) throw new Error(`${op.operationId ?? path} ${status} has no body in the spec`);
    return;
  }
  const idx = specIndex();
  const cacheKey = `${method} ${path} ${key}`;
  let v = idx.compiled.get(cacheKey);
  if (!v) {
    v = idx.ajv.compile({ $ref: `kratos-v26-flows${ref}` });
    idx.compiled.set(cacheKey, v);
  }
  if (!v(body)) throw new Error(`${op.operationId ?? path} ${status} body violates the v26.2.0 spec: ${JSON.stringify(v.errors)}`);
}

/** The query parameter names `method path` documents. */
function documentedQuery(method: string, path: string): Set<string> {
  return new Set((operation(method, path).parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name));
}

// ---------------------------------------------------------------------------------------------
// v26 ui nodes

type Kind = 'login' | 'registration' | 'settings' | 'recovery' | 'verification';
const KINDS: readonly Kind[] = ['login', 'registration', 'settings', 'recovery', 'verification'];

export interface V26Text {
  id: number;
  text: string;
  type: 'info' | 'error' | 'success';
  context?: Record<string, unknown>;
}

export interface V26Node {
  type: 'input' | 'text' | 'img' | 'a' | 'script' | 'div';
  group: string;
  attributes: Record<string, unknown>;
  messages: V26Text[];
  meta: { label?: V26Text };
}

const txt = (id: number, text: string, type: V26Text['type'] = 'info', context?: Record<string, unknown>): V26Text => ({
  id,
  text,
  type,
  ...(context && { context }),
});

function input(
  group: string,
  name: string,
  type: string,
  o: { value?: unknown; required?: boolean; label?: V26Text; autocomplete?: string; pattern?: string; maxlength?: number } & Record<
    string,
    unknown
  > = {},
): V26Node {
  const { label, ...attrs } = o;
  return {
    type: 'input',
    group,
    attributes: { name, type, disabled: false, node_type: 'input', ...attrs },
    messages: [],
    meta: label ? { label } : {},
  };
}

const csrfNode = (token: string) => input('default', 'csrf_token', 'hidden', { value: token, required: true });
const submit = (group: string, name: string, value: string, label: V26Text) => input(group, name, 'submit', { value, label });

function webauthnScript(publicBase: string): V26Node {
  return {
    type: 'script',
    group: 'webauthn',
    attributes: {
      src: `${publicBase}/.well-known/ory/webauthn.js`,
      async: true,
      referrerpolicy: 'no-referrer',
      crossorigin: 'anonymous',
      integrity: 'sha512-MDlhb3J5V2ViQXV0aG4=',
      type: 'text/javascript',
      id: 'webauthn_script',
      nonce: randomBytes(12).toString('base64'),
      node_type: 'script',
    },
    messages: [],
    meta: {},
  };
}

const TOTP_SECRET = 'JBSWY3DPEHPK3PXP';
/** A 1×1 PNG, as Kratos sends its QR code: a data URL. */
const QR_PNG = 'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==';
export const LOOKUP_CODES = ['7kq2m9xa', 'p4w8r1zt', 'b6n3c5vd'];
/** What the fake accepts as a TOTP, backup or recovery/verification code. */
export const GOOD_CODE = '123456';

// ---------------------------------------------------------------------------------------------

export interface V26Identity {
  id: string;
  email: string;
  password: string;
  first: string;
  totp: boolean;
}

interface V26Session {
  identityId: string;
  aal: 'aal1' | 'aal2';
}

interface StoredFlow {
  id: string;
  kind: Kind;
  csrf: string;
  issuedAt: Date;
  expiresAt: Date;
  requestUrl: string;
  returnTo: string | undefined;
  state: string;
  aal: 'aal1' | 'aal2';
  refresh: boolean;
  nodes: V26Node[];
  messages: V26Text[];
  identityId: string | undefined;
  /** Registration's first screen, kept for the second. */
  traits: Record<string, string> | undefined;
  /** The address a recovery/verification code was sent to. */
  email: string | undefined;
}

const CSRF_COOKIE = 'csrf_token_8a1e7f0c';

function cookieOf(req: IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  return new Promise((resolve, reject) => {
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => {
      raw += c;
      if (raw.length > 65_536) reject(new Error('form too large'));
    });
    req.on('end', () => resolve(new URLSearchParams(raw)));
    req.on('error', reject);
  });
}

export async function startModernKratosFlows() {
  const identities = new Map<string, V26Identity>();
  const sessions = new Map<string, V26Session>();
  const flows = new Map<string, StoredFlow>();
  const errors = new Map<string, Record<string, unknown>>();
  const state = {
    /** Browser-facing Kratos public URL (the gateway mount) and the UI base; set by `configure`. */
    publicBase: '',
    uiBase: '',
    defaultReturn: '',
    /** Spec violations the fixture caught in its own answers: must stay empty. */
    violations: [] as string[],
    /** `METHOD path?name` for every query parameter the operation does not document. */
    undocumentedQuery: [] as string[],
    /** Requests by `METHOD path`, for asserting which operations the UI used. */
    calls: [] as string[],
    /** Offer WebAuthn (a script node and JS-triggered buttons) in login and settings flows. */
    webauthn: false,
  };

  const flowLifespanMs = 60 * 60 * 1000;

  const identityByEmail = (email: string) => [...identities.values()].find((i) => i.email === email);
  const sessionOf = (req: IncomingMessage) => {
    const token = cookieOf(req, 'ory_kratos_session');
    const s = token === undefined ? undefined : sessions.get(token);
    return s && identities.has(s.identityId) ? { token: token!, ...s } : undefined;
  };
  const hasAal2 = (identityId: string) => identities.get(identityId)?.totp === true;

  function identityBody(i: V26Identity): Record<string, unknown> {
    const now = new Date().toISOString();
    return {
      id: i.id,
      schema_id: 'default',
      schema_url: `${state.publicBase}/schemas/ZGVmYXVsdA`,
      state: 'active',
      traits: { email: i.email, name: { first: i.first } },
      verifiable_addresses: [
        { id: randomUUID(), value: i.email, verified: false, via: 'email', status: 'pending', created_at: now, updated_at: now },
      ],
      recovery_addresses: [{ id: randomUUID(), value: i.email, via: 'email', created_at: now, updated_at: now }],
      metadata_public: null,
      organization_id: null,
      created_at: now,
      updated_at: now,
    };
  }

  // --- node sets, per flow and screen, as Kratos v26 builds them ---

  function loginNodes(f: StoredFlow, identifier = ''): V26Node[] {
    if (f.aal === 'aal2') {
      return [
        csrfNode(f.csrf),
        input('totp', 'totp_code', 'text', { required: true, autocomplete: 'one-time-code', label: txt(1010006, 'Authentication code') }),
        submit('totp', 'method', 'totp', txt(1010009, 'Use Authenticator')),
        input('lookup_secret', 'lookup_secret', 'text', { required: true, label: txt(1010010, 'Backup recovery code') }),
        submit('lookup_secret', 'method', 'lookup_secret', txt(1010010, 'Use backup recovery code')),
      ];
    }
    const nodes = [
      csrfNode(f.csrf),
      input('default', 'identifier', 'text', { value: identifier, required: true, label: txt(1070004, 'ID') }),
      input('password', 'password', 'password', { required: true, autocomplete: 'current-password', label: txt(1070001, 'Password') }),
      submit('password', 'method', 'password', txt(1010022, 'Sign in with password')),
      input('oidc', 'provider', 'submit', { value: 'github', label: txt(1010002, 'Sign in with GitHub', 'info', { provider: 'GitHub' }) }),
    ];
    if (state.webauthn) {
      nodes.push(
        input('webauthn', 'webauthn_login_trigger', 'button', {
          value: '',
          onclick: 'window.__oryWebAuthnLogin({"publicKey":{}})',
          onclickTrigger: 'oryWebAuthnLogin',
          label: txt(1010008, 'Sign in with hardware key'),
        }),
        input('webauthn', 'webauthn_login', 'hidden', { value: '' }),
        webauthnScript(state.publicBase),
      );
    }
    return nodes;
  }

  function registrationNodes(f: StoredFlow): V26Node[] {
    if (f.traits === undefined) {
      return [
        csrfNode(f.csrf),
        input('default', 'traits.email', 'email', {
          required: true,
          autocomplete: 'email',
          label: txt(1070002, 'E-Mail', 'info', { title: 'E-Mail' }),
        }),
        input('default', 'traits.name.first', 'text', { label: txt(1070002, 'First name', 'info', { title: 'First name' }) }),
        submit('profile', 'method', 'profile', txt(1040008, 'Continue')),
        input('oidc', 'provider', 'submit', {
          value: 'github',
          label: txt(1040002, 'Sign up with GitHub', 'info', { provider: 'GitHub' }),
        }),
      ];
    }
    return [
      csrfNode(f.csrf),
      input('profile', 'traits.email', 'hidden', { value: f.traits.email ?? '' }),
      input('profile', 'traits.name.first', 'hidden', { value: f.traits['name.first'] ?? '' }),
      input('password', 'password', 'password', { required: true, autocomplete: 'new-password', label: txt(1070001, 'Password') }),
      submit('password', 'method', 'password', txt(1040001, 'Sign up')),
      submit('profile', 'screen', 'credential-selection', txt(1040009, 'Back')),
    ];
  }

  function settingsNodes(f: StoredFlow): V26Node[] {
    const i = identities.get(f.identityId ?? '')!;
    const nodes = [
      csrfNode(f.csrf),
      input('profile', 'traits.email', 'email', { value: i.email, required: true, autocomplete: 'email', label: txt(1070002, 'E-Mail') }),
      input('profile', 'traits.name.first', 'text', { value: i.first, label: txt(1070002, 'First name') }),
      submit('profile', 'method', 'profile', txt(1070003, 'Save')),
      input('password', 'password', 'password', { required: true, autocomplete: 'new-password', label: txt(1070001, 'Password') }),
      submit('password', 'method', 'password', txt(1070003, 'Save')),
    ];
    if (i.totp) {
      nodes.push(submit('totp', 'totp_unlink', 'true', txt(1050003, 'Unlink TOTP Authenticator App')));
    } else {
      nodes.push(
        {
          type: 'img',
          group: 'totp',
          attributes: { src: QR_PNG, id: 'totp_qr', width: 256, height: 256, node_type: 'img' },
          messages: [],
          meta: { label: txt(1050005, 'Authenticator app QR code') },
        },
        {
          type: 'text',
          group: 'totp',
          attributes: { text: txt(1050006, TOTP_SECRET, 'info', { secret: TOTP_SECRET }), id: 'totp_secret_key', node_type: 'text' },
          messages: [],
          meta: { label: txt(1050017, 'This is your authenticator app secret. Use it if you can not scan the QR code.') },
        },
        input('totp', 'totp_code', 'text', { required: true, label: txt(1070006, 'Verify code') }),
        submit('totp', 'method', 'totp', txt(1070003, 'Save')),
      );
    }
    nodes.push(
      {
        type: 'text',
        group: 'lookup_secret',
        attributes: {
          text: txt(1050015, LOOKUP_CODES.join(', '), 'info', { secrets: LOOKUP_CODES.map((c) => txt(1050009, c)) }),
          id: 'lookup_secret_codes',
          node_type: 'text',
        },
        messages: [],
        meta: {},
      },
      submit('lookup_secret', 'lookup_secret_confirm', 'true', txt(1050011, 'Confirm backup recovery codes')),
      input('lookup_secret', 'method', 'hidden', { value: 'lookup_secret' }),
    );
    if (state.webauthn) {
      nodes.push(
        input('webauthn', 'webauthn_register_displayname', 'text', { value: '', label: txt(1050013, 'Name of the security key') }),
        input('webauthn', 'webauthn_register', 'hidden', { value: '' }),
        input('webauthn', 'webauthn_register_trigger', 'button', {
          value: '',
          onclick: 'window.__oryWebAuthnRegistration({"publicKey":{}})',
          onclickTrigger: 'oryWebAuthnRegistration',
          label: txt(1050012, 'Add security key'),
        }),
        webauthnScript(state.publicBase),
      );
    }
    return nodes;
  }

  function codeNodes(f: StoredFlow): V26Node[] {
    if (f.state === 'passed_challenge') {
      return [
        csrfNode(f.csrf),
        {
          type: 'a',
          group: 'code',
          attributes: { href: f.returnTo ?? state.defaultReturn, title: txt(1070009, 'Continue'), id: 'continue', node_type: 'a' },
          messages: [],
          meta: { label: txt(1070009, 'Continue') },
        },
      ];
    }
    if (f.state === 'sent_email') {
      return [
        csrfNode(f.csrf),
        input('code', 'code', 'text', {
          required: true,
          pattern: '[0-9]+',
          maxlength: 6,
          label: txt(f.kind === 'recovery' ? 1070010 : 1070011, f.kind === 'recovery' ? 'Recovery code' : 'Verification code'),
        }),
        input('code', 'method', 'hidden', { value: 'code' }),
        submit('code', 'method', 'code', txt(1070009, 'Continue')),
        submit('code', 'email', f.email ?? '', txt(1070008, 'Resend code')),
      ];
    }
    return [
      csrfNode(f.csrf),
      input('code', 'email', 'email', { required: true, autocomplete: 'email', label: txt(1070007, 'Email') }),
      submit('code', 'method', 'code', txt(1070005, 'Submit')),
    ];
  }

  function rebuild(f: StoredFlow, identifier?: string): void {
    f.nodes =
      f.kind === 'login'
        ? loginNodes(f, identifier)
        : f.kind === 'registration'
          ? registrationNodes(f)
          : f.kind === 'settings'
            ? settingsNodes(f)
            : codeNodes(f);
  }

  function flowBody(f: StoredFlow): Record<string, unknown> {
    const body: Record<string, unknown> = {
      id: f.id,
      type: 'browser',
      expires_at: f.expiresAt.toISOString(),
      issued_at: f.issuedAt.toISOString(),
      request_url: f.requestUrl,
      ...(f.returnTo !== undefined && { return_to: f.returnTo }),
      state: f.state,
      ui: { action: `${state.publicBase}/self-service/${f.kind}?flow=${f.id}`, method: 'POST', nodes: f.nodes, messages: f.messages },
    };
    if (f.kind === 'login') {
      Object.assign(body, {
        refresh: f.refresh,
        requested_aal: f.aal,
        organization_id: null,
        created_at: f.issuedAt.toISOString(),
        updated_at: new Date().toISOString(),
      });
    }
    if (f.kind === 'registration') body.organization_id = null;
    if (f.kind === 'settings') body.identity = identityBody(identities.get(f.identityId ?? '')!);
    if (f.kind === 'recovery' || f.kind === 'verification') body.active = 'code';
    return body;
  }

  function newFlow(kind: Kind, requestUrl: string, o: Partial<StoredFlow> = {}): StoredFlow {
    const now = new Date();
    const f: StoredFlow = {
      id: randomUUID(),
      kind,
      csrf: randomBytes(32).toString('base64'),
      issuedAt: now,
      expiresAt: new Date(now.getTime() + flowLifespanMs),
      requestUrl,
      returnTo: undefined,
      state: kind === 'recovery' || kind === 'verification' ? 'choose_method' : kind === 'settings' ? 'show_form' : 'choose_method',
      aal: 'aal1',
      refresh: false,
      nodes: [],
      messages: [],
      identityId: undefined,
      traits: undefined,
      email: undefined,
      ...o,
    };
    rebuild(f);
    flows.set(f.id, f);
    return f;
  }

  // --- responses ---

  const sendJson = (
    res: ServerResponse,
    method: string,
    path: string,
    status: number,
    body: unknown,
    headers: Record<string, string> = {},
  ) => {
    assertV26Answer(method, path, status, body);
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
    res.end(JSON.stringify(body));
  };
  const redirect = (res: ServerResponse, method: string, path: string, location: string, setCookie: string[] = []) => {
    assertV26Answer(method, path, 303, undefined);
    res.writeHead(303, { location, ...(setCookie.length > 0 && { 'set-cookie': setCookie }) });
    res.end();
  };
  const genericError = (code: number, status: string, message: string, extra: Record<string, unknown> = {}) => ({
    error: { code, status, message, ...extra },
  });
  /** 401 session_inactive: a GET that needs a session came without one. */
  const noSession = (res: ServerResponse, path: string) =>
    sendJson(
      res,
      'GET',
      path,
      401,
      genericError(401, 'Unauthorized', 'No valid session credentials found in the request.', {
        id: 'session_inactive',
        reason: 'No active session was found in this request.',
      }),
    );
  const sessionCookie = (token: string) => `ory_kratos_session=${token}; Path=/; HttpOnly; SameSite=Lax`;
  const uiUrl = (kind: string, id: string) => `${state.uiBase}/${kind}?flow=${id}`;

  function storeError(err: Record<string, unknown>): string {
    const id = randomUUID();
    errors.set(id, err);
    return id;
  }

  function startSession(identityId: string, aal: 'aal1' | 'aal2'): string {
    const token = randomBytes(24).toString('hex');
    sessions.set(token, { identityId, aal });
    return token;
  }

  async function handleInit(req: IncomingMessage, res: ServerResponse, kind: Kind, url: URL): Promise<void> {
    const path = url.pathname;
    const returnTo = url.searchParams.get('return_to') ?? undefined;
    const session = sessionOf(req);
    const csrfCookie = cookieOf(req, CSRF_COOKIE) ?? randomBytes(32).toString('base64url');
    const setCsrf = [`${CSRF_COOKIE}=${csrfCookie}; Path=/; HttpOnly; SameSite=Lax`];
    const requestUrl = `${state.publicBase}${path}${url.search}`;
    const back = returnTo ?? state.defaultReturn;
    if (kind === 'login') {
      const aal2 = url.searchParams.get('aal') === 'aal2';
      const refresh = url.searchParams.get('refresh') === 'true';
      if (aal2 && !session) {
        // Kratos: a second factor needs a first one.
        return sendJson(
          res,
          'GET',
          path,
          400,
          genericError(400, 'Bad Request', 'The request was malformed or contained invalid parameters', {
            id: 'session_aal1_required',
            reason: 'You can not requested a higher AAL (AAL2/AAL3) without an active session.',
          }),
        );
      }
      if (session && !refresh && !(aal2 && session.aal === 'aal1')) return redirect(res, 'GET', path, back);
      const f = newFlow('login', requestUrl, { returnTo, aal: aal2 ? 'aal2' : 'aal1', refresh, csrf: csrfCookie });
      if (aal2) f.messages = [txt(1010004, 'Please complete the second authentication challenge.')];
      rebuild(f);
      return redirect(res, 'GET', path, uiUrl('login', f.id), setCsrf);
    }
    if (kind === 'registration' && session) return redirect(res, 'GET', path, back);
    if (kind === 'settings') {
      const here = `${state.publicBase}${path}${url.search}`;
      if (!session)
        return redirect(res, 'GET', path, `${state.publicBase}/self-service/login/browser?${new URLSearchParams({ return_to: here })}`);
      if (session.aal === 'aal1' && hasAal2(session.identityId)) {
        return redirect(
          res,
          'GET',
          path,
          `${state.publicBase}/self-service/login/browser?${new URLSearchParams({ aal: 'aal2', return_to: here })}`,
        );
      }
      const f = newFlow('settings', requestUrl, { returnTo, identityId: session.identityId, state: 'show_form', csrf: csrfCookie });
      return redirect(res, 'GET', path, uiUrl('settings', f.id), setCsrf);
    }
    const f = newFlow(kind, requestUrl, { returnTo, csrf: csrfCookie });
    return redirect(res, 'GET', path, uiUrl(kind, f.id), setCsrf);
  }

  function handleFetch(req: IncomingMessage, res: ServerResponse, kind: Kind, url: URL): void {
    const path = url.pathname;
    const f = flows.get(url.searchParams.get('id') ?? '');
    if (!f || f.kind !== kind) {
      return sendJson(
        res,
        'GET',
        path,
        404,
        genericError(404, 'Not Found', 'Unable to locate the resource', { reason: 'Unable to locate the resource' }),
      );
    }
    if (f.expiresAt.getTime() <= Date.now() && kind !== 'verification') {
      const redirectTo = `${state.publicBase}/self-service/${kind}/browser${f.returnTo ? `?${new URLSearchParams({ return_to: f.returnTo })}` : ''}`;
      return sendJson(
        res,
        'GET',
        path,
        410,
        genericError(410, 'Gone', 'Flow expired', {
          id: 'self_service_flow_expired',
          reason: `The ${kind} flow has expired. Redirect the user to the ${kind} flow init endpoint to initialize a new ${kind} flow.`,
          details: { redirect_to: redirectTo, return_to: f.returnTo ?? '' },
        }),
      );
    }
    if (kind === 'settings') {
      const session = sessionOf(req);
      if (!session) {
        return noSession(res, path);
      }
      if (session.aal === 'aal1' && hasAal2(session.identityId)) {
        // `required_aal: highest_available` (session/handler.go's answer, as whoami sends it).
        const to = `${state.publicBase}/self-service/login/browser?aal=aal2`;
        return sendJson(res, 'GET', path, 403, aal2RequiredBody(to));
      }
      if (session.identityId !== f.identityId) {
        return sendJson(
          res,
          'GET',
          path,
          403,
          genericError(403, 'Forbidden', 'The requested action was forbidden', {
            id: 'security_identity_mismatch',
            reason: 'The flow was interrupted because the session does not belong to the flow.',
          }),
        );
      }
    } else if (kind !== 'recovery' && cookieOf(req, CSRF_COOKIE) !== f.csrf) {
      // Kratos checks a browser flow's CSRF token against the cookie on every fetch.
      return sendJson(
        res,
        'GET',
        path,
        403,
        genericError(403, 'Forbidden', 'the request was rejected to protect you from Cross-Site-Request-Forgery', {
          id: 'security_csrf_violation',
          reason:
            'Please retry the flow and optionally clear your cookies. The request was rejected to protect you from Cross-Site-Request-Forgery (CSRF) which could cause account takeover, leaking personal information, and other serious security issues.',
        }),
      );
    }
    return sendJson(res, 'GET', path, 200, flowBody(f));
  }

  async function handleSubmit(req: IncomingMessage, res: ServerResponse, kind: Kind, url: URL): Promise<void> {
    const path = url.pathname;
    const f = flows.get(url.searchParams.get('flow') ?? '');
    const form = await readForm(req);
    const back = () => redirect(res, 'POST', path, uiUrl(kind, f!.id));
    if (!f || f.kind !== kind) return redirect(res, 'POST', path, `${state.publicBase}/self-service/${kind}/browser`);
    if (form.get('csrf_token') !== f.csrf || cookieOf(req, CSRF_COOKIE) !== f.csrf) {
      const errorId = storeError({
        id: 'security_csrf_violation',
        code: 403,
        status: 'Forbidden',
        reason:
          'Please retry the flow and optionally clear your cookies. The request was rejected to protect you from Cross-Site-Request-Forgery (CSRF) which could cause account takeover, leaking personal information, and other serious security issues.',
        message: 'the request was rejected to protect you from Cross-Site-Request-Forgery',
      });
      return redirect(res, 'POST', path, `${state.uiBase}/error?id=${errorId}`);
    }
    const done = f.returnTo ?? state.defaultReturn;
    const method = form.getAll('method').at(-1) ?? '';
    f.messages = [];
    if (kind === 'login') {
      const session = sessionOf(req);
      if (method === 'password') {
        const i = identityByEmail(form.get('identifier') ?? '');
        if (!i || i.password !== form.get('password')) {
          rebuild(f, form.get('identifier') ?? '');
          f.messages = [
            txt(
              4000006,
              'The provided credentials are invalid, check for spelling mistakes in your password or username, email address, or phone number.',
              'error',
            ),
          ];
          return back();
        }
        const token = startSession(i.id, 'aal1');
        flows.delete(f.id);
        // `session.whoami.required_aal: highest_available`: on to the second factor.
        const next = i.totp
          ? `${state.publicBase}/self-service/login/browser?${new URLSearchParams({ aal: 'aal2', return_to: done })}`
          : done;
        return redirect(res, 'POST', path, next, [sessionCookie(token)]);
      }
      if ((method === 'totp' || method === 'lookup_secret') && session && f.aal === 'aal2') {
        const code = form.get(method === 'totp' ? 'totp_code' : 'lookup_secret') ?? '';
        const ok = method === 'totp' ? code === GOOD_CODE : LOOKUP_CODES.includes(code);
        if (!ok) {
          rebuild(f);
          const n = f.nodes.find((x) => x.attributes.name === (method === 'totp' ? 'totp_code' : 'lookup_secret'))!;
          n.messages = [txt(4000008, 'The provided authentication code is invalid, please try again.', 'error')];
          return back();
        }
        sessions.set(session.token, { identityId: session.identityId, aal: 'aal2' });
        flows.delete(f.id);
        return redirect(res, 'POST', path, done);
      }
      rebuild(f);
      f.messages = [txt(4010002, 'Could not find a strategy to log you in with. Did you fill out the form correctly?', 'error')];
      return back();
    }
    if (kind === 'registration') {
      if (form.get('screen') === 'credential-selection') {
        f.traits = undefined;
        rebuild(f);
        return back();
      }
      if (method === 'profile') {
        f.traits = { email: form.get('traits.email') ?? '', 'name.first': form.get('traits.name.first') ?? '' };
        rebuild(f);
        return back();
      }
      if (method === 'password' && f.traits) {
        const i: V26Identity = {
          id: randomUUID(),
          email: f.traits.email ?? '',
          password: form.get('password') ?? '',
          first: f.traits['name.first'] ?? '',
          totp: false,
        };
        identities.set(i.id, i);
        flows.delete(f.id);
        return redirect(res, 'POST', path, done, [sessionCookie(startSession(i.id, 'aal1'))]);
      }
      return back();
    }
    if (kind === 'settings') {
      const session = sessionOf(req);
      if (!session || session.identityId !== f.identityId)
        return redirect(res, 'POST', path, `${state.publicBase}/self-service/login/browser`);
      const i = identities.get(session.identityId)!;
      if (method === 'profile') {
        i.email = form.get('traits.email') ?? i.email;
        i.first = form.get('traits.name.first') ?? i.first;
      } else if (method === 'password') {
        i.password = form.get('password') ?? i.password;
      } else if (method === 'totp' && form.get('totp_code') === GOOD_CODE) {
        i.totp = true;
      }
      f.state = 'success';
      rebuild(f);
      f.messages = [txt(1050001, 'Your changes have been saved!', 'success')];
      return back();
    }
    // recovery / verification with the `code` method
    const code = form.get('code');
    if (f.state === 'sent_email' && code !== null && form.get('email') === null) {
      if (code !== GOOD_CODE) {
        rebuild(f);
        f.messages = [txt(4060006, `The ${kind} code is invalid or has already been used. Please try again.`, 'error')];
        return back();
      }
      if (kind === 'verification') {
        f.state = 'passed_challenge';
        rebuild(f);
        f.messages = [txt(1080002, 'You successfully verified your email address.', 'success')];
        return back();
      }
      const i = identityByEmail(f.email ?? '');
      flows.delete(f.id);
      if (!i) return redirect(res, 'POST', path, `${state.publicBase}/self-service/recovery/browser`);
      const token = startSession(i.id, 'aal1');
      const settings = newFlow('settings', `${state.publicBase}/self-service/settings/browser`, { identityId: i.id, csrf: f.csrf });
      settings.messages = [
        txt(
          1060001,
          'You successfully recovered your account. Please change your password or set up an alternative login method (e.g. social sign in) within the next 15.00 minutes.',
          'success',
        ),
      ];
      return redirect(res, 'POST', path, uiUrl('settings', settings.id), [sessionCookie(token)]);
    }
    f.email = form.get('email') ?? '';
    f.state = 'sent_email';
    rebuild(f);
    f.messages = [
      kind === 'recovery'
        ? txt(
            1060003,
            'An email containing a recovery code has been sent to the email address you provided. If you have not received an email, check the spelling of the address and make sure to use the address you registered with.',
          )
        : txt(
            1080003,
            'An email containing a verification code has been sent to the email address you provided. If you have not received an email, check the spelling of the address and make sure to use the address you registered with.',
          ),
    ];
    return back();
  }

  function handleError(res: ServerResponse, url: URL): void {
    const path = url.pathname;
    const id = url.searchParams.get('id') ?? '';
    const err = errors.get(id);
    if (!err) {
      return sendJson(
        res,
        'GET',
        path,
        404,
        genericError(404, 'Not Found', 'The requested resource could not be found', { reason: 'Unable to locate the resource' }),
      );
    }
    const at = new Date().toISOString();
    return sendJson(res, 'GET', path, 200, { id, error: err, created_at: at, updated_at: at });
  }

  function handleLogout(req: IncomingMessage, res: ServerResponse, url: URL): void {
    const path = url.pathname;
    const session = sessionOf(req);
    if (path === '/self-service/logout/browser') {
      if (!session) {
        return noSession(res, path);
      }
      const token = `ory_lo_${randomBytes(16).toString('hex')}`;
      logoutTokens.set(token, session.token);
      const q = new URLSearchParams({ token });
      const returnTo = url.searchParams.get('return_to');
      if (returnTo) q.set('return_to', returnTo);
      return sendJson(res, 'GET', path, 200, { logout_url: `${state.publicBase}/self-service/logout?${q}`, logout_token: token });
    }
    // updateLogoutFlow: the token must belong to this browser's session.
    const token = url.searchParams.get('token') ?? '';
    const sessionToken = logoutTokens.get(token);
    if (!session || sessionToken !== session.token) {
      const errorId = storeError({
        id: 'security_csrf_violation',
        code: 403,
        status: 'Forbidden',
        message: 'the request was rejected to protect you from Cross-Site-Request-Forgery',
        reason: 'Unable to log out because the logout token in the URL query does not match the session cookie.',
      });
      return redirect(res, 'GET', path, `${state.uiBase}/error?id=${errorId}`);
    }
    logoutTokens.delete(token);
    sessions.delete(session.token);
    return redirect(res, 'GET', path, url.searchParams.get('return_to') ?? state.defaultReturn, [
      'ory_kratos_session=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax',
    ]);
  }

  const logoutTokens = new Map<string, string>();

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://kratos.invalid');
    const method = req.method ?? 'GET';
    state.calls.push(`${method} ${url.pathname}`);
    void (async () => {
      try {
        if (url.pathname === '/health/alive') return res.end('{"status":"ok"}');
        if (specIndex().paths[url.pathname]?.[method.toLowerCase()]) {
          const documented = documentedQuery(method, url.pathname);
          for (const name of url.searchParams.keys())
            if (!documented.has(name)) state.undocumentedQuery.push(`${method} ${url.pathname}?${name}`);
        }
        const m = /^\/self-service\/([a-z]+)(\/browser|\/flows)?$/.exec(url.pathname);
        const kind = KINDS.find((k) => k === m?.[1]);
        if (kind && method === 'GET' && m?.[2] === '/browser') return await handleInit(req, res, kind, url);
        if (kind && method === 'GET' && m?.[2] === '/flows') return handleFetch(req, res, kind, url);
        if (kind && method === 'POST' && m?.[2] === undefined) return await handleSubmit(req, res, kind, url);
        if (method === 'GET' && url.pathname === '/self-service/errors') return handleError(res, url);
        if (method === 'GET' && (url.pathname === '/self-service/logout/browser' || url.pathname === '/self-service/logout'))
          return handleLogout(req, res, url);
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end('{"error":{"code":404,"status":"Not Found","message":"The requested resource could not be found"}}');
      } catch (err) {
        // A fixture that drifted from the spec: fail the request loudly rather than send it.
        const message = (err as Error).message;
        state.violations.push(message);
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(message);
      }
    })();
  });
  const url = await listenOnFreePort(server);
  return {
    url,
    state,
    identities,
    sessions,
    flows,
    /** Where browsers reach this Kratos (the gateway's mount) and the UI it sends them to. */
    configure(o: { publicBase: string; uiBase: string; defaultReturn: string }): void {
      Object.assign(state, o);
    },
    addIdentity(o: Partial<V26Identity> = {}): V26Identity {
      const i: V26Identity = {
        id: randomUUID(),
        email: `${randomUUID()}@example.com`,
        password: 'Correct-horse-9',
        first: 'Ada',
        totp: false,
        ...o,
      };
      identities.set(i.id, i);
      return i;
    },
    /** Moves a flow's expiry into the past (Kratos then answers its fetch with 410). */
    expire(flowId: string): void {
      const f = flows.get(flowId);
      if (f) f.expiresAt = new Date(Date.now() - 1000);
    },
    close: () => closeServer(server),
  };
}

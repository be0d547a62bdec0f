/**
 * Tracing end to end: a real OTLP/HTTP receiver (JSON encoding) in this process decodes what
 * the gateway exports; the echo upstream and the fake Kratos record the traceparent they got.
 * The tracing environment is passed through StartOptions.tracingEnv, so nothing here depends
 * on (or leaks into) process.env.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { gunzipSync } from 'node:zlib';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import WebSocket from 'ws';
import { request } from 'undici';
import { startGateway, type RunningGateway } from '../../../src/start-gateway.js';
import { closeServer, listenOnFreePort, memoryLogger, startEchoUpstream, startFakeKratos, testConfig } from '../../helpers/servers.js';

type Echo = Awaited<ReturnType<typeof startEchoUpstream>>;
type Kratos = Awaited<ReturnType<typeof startFakeKratos>>;
type Gateway = RunningGateway & { logLines: string[] };

/** OTLP JSON AnyValue: only the kinds the gateway emits. intValue may arrive as a string (int64). */
interface AnyValue {
  stringValue?: string;
  intValue?: number | string;
  boolValue?: boolean;
  doubleValue?: number;
}
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes?: Array<{ key: string; value: AnyValue }>;
  status?: { code?: number };
}
interface ExportTraceServiceRequest {
  resourceSpans: Array<{ resource?: { attributes?: Array<{ key: string; value: AnyValue }> }; scopeSpans: Array<{ spans: OtlpSpan[] }> }>;
}

const SPAN_KIND_SERVER = 2;
const SPAN_KIND_CLIENT = 3;

function attrs(list: Array<{ key: string; value: AnyValue }> | undefined): Record<string, string | number | boolean | undefined> {
  const out: Record<string, string | number | boolean | undefined> = {};
  for (const { key, value } of list ?? []) {
    out[key] = value.stringValue ?? (value.intValue !== undefined ? Number(value.intValue) : (value.boolValue ?? value.doubleValue));
  }
  return out;
}

/** An OTLP/HTTP receiver: keeps every decoded ExportTraceServiceRequest and the raw bodies. */
async function startOtlpReceiver() {
  const requests: ExportTraceServiceRequest[] = [];
  const raw: string[] = [];
  const contentTypes: string[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/v1/traces') {
        res.writeHead(404);
        return res.end();
      }
      let body = Buffer.concat(chunks);
      if (req.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
      const text = body.toString('utf8');
      raw.push(text);
      contentTypes.push(req.headers['content-type'] ?? '');
      requests.push(JSON.parse(text) as ExportTraceServiceRequest);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    });
  });
  const url = await listenOnFreePort(server);
  return {
    url,
    raw,
    contentTypes,
    spans(): Array<OtlpSpan & { attrs: ReturnType<typeof attrs>; resource: ReturnType<typeof attrs> }> {
      return requests.flatMap((r) =>
        r.resourceSpans.flatMap((rs) =>
          rs.scopeSpans.flatMap((ss) =>
            ss.spans.map((s) => ({ ...s, attrs: attrs(s.attributes), resource: attrs(rs.resource?.attributes) })),
          ),
        ),
      );
    },
    close: () => closeServer(server),
  };
}

async function startGatewayWith(kratos: Kratos, upstream: Echo, tracingEnv: Record<string, string>): Promise<Gateway> {
  const { logger, lines } = memoryLogger();
  const config = testConfig({
    kratos: { public_url: kratos.url },
    routes: [{ name: 'app', match: { path_prefix: '/' }, upstream: upstream.url, auth: 'required' }],
  });
  const gw = await startGateway(config, { logger, tracingEnv });
  return Object.assign(gw, { logLines: lines });
}

const hex = (bytes: number) => randomBytes(bytes).toString('hex');
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-(0[01])$/;

function parseTraceparent(value: string | string[] | undefined): { traceId: string; spanId: string; flags: string } {
  assert.equal(typeof value, 'string', 'a single traceparent header');
  const m = TRACEPARENT.exec(value as string);
  assert.ok(m, `a valid traceparent: ${String(value)}`);
  return { traceId: m[1]!, spanId: m[2]!, flags: m[3]! };
}

async function get(url: string, headers: Record<string, string>): Promise<number> {
  const res = await request(url, { headers });
  await res.body.dump();
  return res.statusCode;
}

/** The access line of the request that sent `X-Request-Id: reqId`. */
function accessLine(gw: Gateway, reqId: string): Record<string, unknown> {
  const line = gw.logLines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === 'request' && l.reqId === reqId);
  assert.ok(line, `an access line for request id ${reqId}`);
  return line;
}

describe('tracing on (OTEL_TRACES_EXPORTER=otlp)', () => {
  let receiver: Awaited<ReturnType<typeof startOtlpReceiver>>;
  let upstream: Echo;
  let kratos: Kratos;
  let gw: Gateway;
  const seen: {
    continued?: { traceId: string; clientSpanId: string; upstreamSpanId: string; whoamiSpanId: string };
    fresh?: string;
    unsampled?: string;
    coalesced?: string[];
    decision?: string;
    websocket?: { traceId: string; spanId: string };
    token?: string;
  } = {};

  before(async () => {
    receiver = await startOtlpReceiver();
    upstream = await startEchoUpstream();
    kratos = await startFakeKratos();
    gw = await startGatewayWith(kratos, upstream, {
      OTEL_TRACES_EXPORTER: 'otlp',
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_SERVICE_NAME: 'gateway-under-test',
      OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment=test,service.name=ignored',
      // Only the shutdown flush can deliver the spans: that flush is under test too.
      OTEL_BSP_SCHEDULE_DELAY: '600000',
    });
  });
  after(async () => {
    await gw.shutdown();
    await upstream.close();
    await kratos.close();
    await receiver.close();
  });

  test('a valid incoming traceparent is continued: upstream and Kratos get the same trace id under the gateway’s own span ids', async () => {
    const s = kratos.addSession();
    seen.token = s.token;
    const traceId = hex(16);
    const clientSpanId = hex(8);
    const status = await get(gw.proxyUrl + '/orders/1?api_key=query-secret-value', {
      'x-session-token': s.token,
      'x-request-id': 'continued',
      traceparent: `00-${traceId}-${clientSpanId}-01`,
      tracestate: 'vendor=opaque',
    });
    assert.equal(status, 200);

    const echoed = upstream.received.at(-1)!;
    const up = parseTraceparent(echoed.headers.traceparent);
    assert.equal(up.traceId, traceId, 'same trace');
    assert.notEqual(up.spanId, clientSpanId, 'the parent the upstream sees is the gateway’s span, not the client’s');
    assert.equal(up.flags, '01');
    assert.equal(echoed.headers.tracestate, 'vendor=opaque');

    const who = parseTraceparent(kratos.state.lastHeaders?.traceparent);
    assert.equal(who.traceId, traceId, 'Kratos continues the same trace');
    assert.notEqual(who.spanId, clientSpanId);
    assert.notEqual(who.spanId, up.spanId);

    assert.equal(accessLine(gw, 'continued').trace_id, traceId);
    seen.continued = { traceId, clientSpanId, upstreamSpanId: up.spanId, whoamiSpanId: who.spanId };
  });

  test('an invalid traceparent is replaced by a new trace, and its tracestate is dropped with it', async () => {
    const status = await get(gw.proxyUrl + '/again', {
      'x-session-token': seen.token!,
      'x-request-id': 'fresh',
      traceparent: '00-zz-not-a-trace-01',
      tracestate: 'forged=1',
    });
    assert.equal(status, 200);
    const echoed = upstream.received.at(-1)!;
    const up = parseTraceparent(echoed.headers.traceparent);
    assert.notEqual(up.traceId, seen.continued!.traceId);
    assert.equal(echoed.headers.tracestate, undefined);
    assert.equal(accessLine(gw, 'fresh').trace_id, up.traceId, 'the access line names the new trace');
    seen.fresh = up.traceId;
  });

  test('an unsampled caller trace is propagated unsampled (parentbased_always_on) and still logged', async () => {
    const traceId = hex(16);
    const clientSpanId = hex(8);
    const status = await get(gw.proxyUrl + '/quiet', {
      'x-session-token': seen.token!,
      'x-request-id': 'unsampled',
      traceparent: `00-${traceId}-${clientSpanId}-00`,
    });
    assert.equal(status, 200);
    const up = parseTraceparent(upstream.received.at(-1)!.headers.traceparent);
    assert.equal(up.traceId, traceId);
    assert.notEqual(up.spanId, clientSpanId, 'a non-recording span still gets its own id');
    assert.equal(up.flags, '00');
    assert.equal(accessLine(gw, 'unsampled').trace_id, traceId);
    seen.unsampled = traceId;
  });

  test('concurrent requests sharing one whoami call: one whoami span, in the first requester’s trace', async () => {
    const s = kratos.addSession();
    kratos.state.fault = { kind: 'delay', ms: 150 };
    const ids = [hex(16), hex(16)];
    const calls = kratos.state.calls;
    const statuses = await Promise.all(
      ids.map((id) => get(gw.proxyUrl + '/shared', { 'x-session-token': s.token, traceparent: `00-${id}-${hex(8)}-01` })),
    );
    kratos.state.fault = { kind: 'normal' };
    assert.deepEqual(statuses, [200, 200]);
    assert.equal(kratos.state.calls - calls, 1);
    seen.coalesced = ids;
  });

  test('the decision API gets a request span too', async () => {
    const traceId = hex(16);
    const res = await request(gw.adminUrl + '/decisions/orders/9', {
      headers: { 'x-session-token': seen.token!, 'x-request-id': 'decision', traceparent: `00-${traceId}-${hex(8)}-01` },
    });
    await res.body.dump();
    assert.equal(res.statusCode, 200);
    const line = accessLine(gw, 'decision');
    assert.equal(line.trace_id, traceId);
    assert.equal(line.decision, true);
    seen.decision = traceId;
  });

  test('a WebSocket handshake gets a request span, whose context the upstream receives', async () => {
    const traceId = hex(16);
    const ws = new WebSocket(gw.proxyUrl.replace('http', 'ws') + '/ws', {
      headers: { 'x-session-token': seen.token!, traceparent: `00-${traceId}-${hex(8)}-01` },
    });
    const [first] = (await once(ws, 'message')) as [Buffer];
    ws.close();
    const hello = JSON.parse(String(first)) as { headers: Record<string, string> };
    const sent = parseTraceparent(hello.headers.traceparent);
    assert.equal(sent.traceId, traceId);
    seen.websocket = { traceId, spanId: sent.spanId };
  });

  test('spans reach the OTLP receiver on shutdown, with the expected tree and attributes and no credentials', async () => {
    assert.equal(receiver.raw.length, 0, 'nothing exported before the batch delay or shutdown');
    await gw.shutdown();
    assert.ok(receiver.raw.length > 0, 'shutdown flushed the queued spans');
    assert.ok(receiver.contentTypes.every((t) => t.startsWith('application/json')));
    const spans = receiver.spans();
    const byTrace = (id: string) => spans.filter((s) => s.traceId === id);
    const one = (list: typeof spans, name: string) => {
      const found = list.filter((s) => s.name === name);
      assert.equal(found.length, 1, `one "${name}" span in ${JSON.stringify(list.map((s) => s.name))}`);
      return found[0]!;
    };

    for (const s of spans) {
      assert.equal(s.resource['service.name'], 'gateway-under-test');
      assert.equal(s.resource['deployment.environment'], 'test');
    }

    const c = seen.continued!;
    const first = byTrace(c.traceId);
    const req = one(first, 'HTTP GET app');
    assert.equal(req.kind, SPAN_KIND_SERVER);
    assert.equal(req.parentSpanId, c.clientSpanId, 'the request span continues the caller’s span');
    assert.equal(req.attrs['http.request.method'], 'GET');
    assert.equal(req.attrs['url.path'], '/orders/1');
    assert.equal(req.attrs['http.route'], 'app');
    assert.equal(req.attrs['kratos_gateway.route'], 'app');
    assert.equal(req.attrs['http.response.status_code'], 200);
    const lookup = one(first, 'session lookup');
    assert.equal(lookup.parentSpanId, req.spanId);
    assert.equal(lookup.attrs['kratos_gateway.cache'], 'miss');
    assert.equal(lookup.attrs['kratos_gateway.session'], 'authenticated');
    const whoami = one(first, 'kratos whoami');
    assert.equal(whoami.kind, SPAN_KIND_CLIENT);
    assert.equal(whoami.parentSpanId, lookup.spanId);
    assert.equal(whoami.spanId, c.whoamiSpanId, 'Kratos was told the whoami span’s id');
    assert.equal(whoami.attrs['kratos_gateway.whoami.result'], 'active');
    const up = one(first, 'upstream');
    assert.equal(up.kind, SPAN_KIND_CLIENT);
    assert.equal(up.parentSpanId, req.spanId);
    assert.equal(up.spanId, c.upstreamSpanId, 'the upstream was told the upstream span’s id');
    assert.equal(up.attrs['http.response.status_code'], 200);
    assert.equal(up.attrs['server.address'], '127.0.0.1');
    assert.equal(first.length, 4);

    const second = byTrace(seen.fresh!);
    assert.equal(one(second, 'session lookup').attrs['kratos_gateway.cache'], 'hit');
    assert.equal(second.filter((s) => s.name === 'kratos whoami').length, 0, 'a cache hit asks Kratos nothing');
    assert.equal(one(second, 'HTTP GET app').parentSpanId ?? '', '', 'a new trace has no parent');

    assert.equal(byTrace(seen.unsampled!).length, 0, 'an unsampled trace exports nothing');

    const [a, b] = seen.coalesced!.map(byTrace);
    const outcomes = [a!, b!].map((t) => one(t, 'session lookup').attrs['kratos_gateway.cache']).sort();
    assert.deepEqual(outcomes, ['coalesced', 'miss']);
    const whoamis = [...a!, ...b!].filter((s) => s.name === 'kratos whoami');
    assert.equal(whoamis.length, 1);
    const owner = [a!, b!].find((t) => one(t, 'session lookup').attrs['kratos_gateway.cache'] === 'miss')!;
    assert.equal(whoamis[0]!.parentSpanId, one(owner, 'session lookup').spanId);

    const decision = byTrace(seen.decision!);
    const decisionSpan = decision.find((s) => s.kind === SPAN_KIND_SERVER)!;
    assert.equal(decisionSpan.attrs['kratos_gateway.kind'], 'decision');
    assert.equal(decisionSpan.attrs['url.path'], '/orders/9');
    assert.equal(one(decision, 'session lookup').parentSpanId, decisionSpan.spanId);

    const ws = byTrace(seen.websocket!.traceId);
    const handshake = one(ws, 'HTTP GET app');
    assert.equal(handshake.spanId, seen.websocket!.spanId);
    assert.equal(handshake.attrs['kratos_gateway.kind'], 'websocket');
    assert.equal(handshake.attrs['http.response.status_code'], 101);
    assert.equal(one(ws, 'session lookup').parentSpanId, handshake.spanId);

    const everything = receiver.raw.join('\n');
    assert.ok(!everything.includes(seen.token!), 'no session token in any exported span');
    assert.ok(!everything.includes('query-secret-value'), 'no query string in any exported span');
  });
});

describe('tracing on: the Kratos public API mount', () => {
  test('requests through the mount carry the request span’s context to Kratos', async () => {
    const receiver = await startOtlpReceiver();
    // An echo server as "Kratos": it records the headers the mount forwards.
    const kratosEcho = await startEchoUpstream();
    const { logger } = memoryLogger();
    const gw = await startGateway(
      testConfig({
        kratos: { public_url: kratosEcho.url },
        routes: [{ name: 'app', match: { path_prefix: '/' }, upstream: kratosEcho.url, auth: 'anonymous' }],
      }),
      {
        logger,
        tracingEnv: { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: receiver.url + '/v1/traces' },
      },
    );
    try {
      const traceId = hex(16);
      const clientSpanId = hex(8);
      assert.equal(
        await get(gw.proxyUrl + '/.ory/kratos/public/self-service/login/api', { traceparent: `00-${traceId}-${clientSpanId}-01` }),
        200,
      );
      const forwarded = kratosEcho.received.at(-1)!;
      assert.equal(forwarded.url, '/self-service/login/api');
      const sent = parseTraceparent(forwarded.headers.traceparent);
      assert.equal(sent.traceId, traceId);
      assert.notEqual(sent.spanId, clientSpanId);
      await gw.shutdown();
      const span = receiver.spans().find((s) => s.traceId === traceId)!;
      assert.equal(span.spanId, sent.spanId, 'Kratos is told the request span’s id');
      assert.equal(span.name, 'HTTP GET control');
      assert.equal(span.parentSpanId, clientSpanId);
    } finally {
      await gw.shutdown();
      await kratosEcho.close();
      await receiver.close();
    }
  });
});

describe('tracing off (no OTEL_* settings)', () => {
  let upstream: Echo;
  let kratos: Kratos;
  let gw: Gateway;

  before(async () => {
    upstream = await startEchoUpstream();
    kratos = await startFakeKratos();
    gw = await startGatewayWith(kratos, upstream, {});
  });
  after(async () => {
    await gw.shutdown();
    await upstream.close();
    await kratos.close();
  });

  test('no trace context is added anywhere; the caller’s own traceparent passes through unchanged', async () => {
    assert.equal(gw.core.tracing, undefined);
    const s = kratos.addSession();
    assert.equal(await get(gw.proxyUrl + '/plain', { 'x-session-token': s.token, 'x-request-id': 'plain' }), 200);
    assert.equal(upstream.received.at(-1)!.headers.traceparent, undefined);
    assert.equal(kratos.state.lastHeaders?.traceparent, undefined);
    assert.equal(accessLine(gw, 'plain').trace_id, undefined);

    const theirs = `00-${hex(16)}-${hex(8)}-01`;
    assert.equal(
      await get(gw.proxyUrl + '/theirs', { 'x-session-token': s.token, 'x-request-id': 'theirs', traceparent: theirs, tracestate: 'a=b' }),
      200,
    );
    assert.equal(upstream.received.at(-1)!.headers.traceparent, theirs);
    assert.equal(upstream.received.at(-1)!.headers.tracestate, 'a=b');
    assert.equal(accessLine(gw, 'theirs').trace_id, undefined);
  });
});

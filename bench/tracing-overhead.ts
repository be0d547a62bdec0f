/**
 * `node --import tsx bench/tracing-overhead.ts`: the CPU the tracing hooks add to one proxied
 * request (cache hit: request span, session lookup, upstream span with traceparent injection,
 * access-line trace id), measured in one process without the network, so a busy machine moves
 * it far less than `bench:quick`'s whole-gateway figure. Spans are exported to a counting
 * OTLP/HTTP sink in this process; the export (batching, JSON encoding, HTTP) runs in this
 * process too and is included, as it would be in the gateway.
 *
 *   --requests 100000   --rate 10000   --sampler parentbased_always_on|parentbased_traceidratio  --ratio 0.01
 */
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { num, parseArgs } from './lib/args.js';
import { startOtlpSink } from './lib/otlp-sink.js';
import { createLogger } from '../src/log.js';
import { startTracing } from '../src/observability/tracing/index.js';

const args = parseArgs(process.argv.slice(2));
const requests = num(args, 'requests', 100_000);
const rate = num(args, 'rate', 10_000);
const sampler = args.get('sampler') ?? 'parentbased_always_on';
const sink = await startOtlpSink();
const tracing = (await startTracing(
  { OTEL_EXPORTER_OTLP_ENDPOINT: sink.url, OTEL_TRACES_SAMPLER: sampler, OTEL_TRACES_SAMPLER_ARG: args.get('ratio') ?? '1' },
  createLogger('warn'),
))!;
const upstream = new URL('http://127.0.0.1:8080');

function oneRequest(): string | undefined {
  // What the gateway holds at that point: a request with its (already lower-cased) headers.
  const headers: IncomingHttpHeaders = { host: 'app.example', accept: '*/*', 'x-session-token': 'token' };
  const req = { method: 'GET', headers } as unknown as IncomingMessage;
  const trace = tracing.startRequest(req, 'proxy');
  trace.setPath('/');
  const lookup = trace.startLookup();
  lookup.cache('hit');
  lookup.end('authenticated');
  const up = trace.startUpstream(headers, upstream, 'GET');
  up.end(200);
  const traceId = tracing.finishRequest(req, 'app', 200);
  return traceId === undefined ? undefined : `,"trace_id":"${traceId}"`;
}

// Warm-up: let V8 optimise, and let the exporter's connection open.
for (let i = 0; i < 20_000; i++) oneRequest();
await new Promise((r) => setTimeout(r, 6_000));

const spans0 = sink.spans;
const cpu0 = process.cpuUsage();
let done = 0;
// Paced at --rate requests per second (default 10,000: about what one gateway process serves
// here), in slices of 100 with the event loop free in between, so the batch processor's timer
// and the exporter's sockets run (and are counted) during the measurement. Unpaced, the span
// queue overflows and dropped spans would make tracing look cheaper than it is.
const sliceMs = (100 / rate) * 1000;
const start = performance.now();
while (done < requests) {
  for (let i = 0; i < 100; i++) oneRequest();
  done += 100;
  const wait = start + (done / 100) * sliceMs - performance.now();
  await new Promise((r) => (wait > 0 ? setTimeout(r, wait) : setImmediate(r)));
}
await tracing.shutdown();
const cpu = process.cpuUsage(cpu0);
const us = (cpu.user + cpu.system) / requests;
console.log(
  `tracing hooks, ${sampler}${sampler.includes('ratio') ? ' ' + (args.get('ratio') ?? '1') : ''}: ${us.toFixed(1)} µs CPU per request over ${requests} requests at ${rate}/s (export included); ${((sink.spans - spans0) / requests).toFixed(2)} spans exported per request`,
);
await sink.close();

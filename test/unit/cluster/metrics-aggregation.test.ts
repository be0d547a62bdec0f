/** /metrics with workers: counters and histograms add up, info gauges do not, retired workers keep their counts. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { aggregateMetrics, mergeRetired, retire } from '../../../src/cluster/metrics-aggregation.js';
import type { WorkerMetrics } from '../../../src/cluster/ipc-protocol.js';

async function processMetrics(requests: number, opts: { kratosUp?: number; hash?: string } = {}): Promise<WorkerMetrics> {
  const registry = new Registry();
  const registers = [registry];
  new Counter({ name: 'kratos_gateway_requests_total', help: 'h', labelNames: ['route'], registers }).labels('app').inc(requests);
  const h = new Histogram({ name: 'kratos_gateway_request_duration_seconds', help: 'h', buckets: [0.1, 1], registers });
  for (let i = 0; i < requests; i++) h.observe(0.05);
  new Gauge({ name: 'kratos_gateway_build_info', help: 'h', labelNames: ['version'], registers }).labels('1.0.0').set(1);
  new Gauge({ name: 'kratos_gateway_config_info', help: 'h', labelNames: ['hash'], registers }).labels(opts.hash ?? 'aaa').set(1);
  new Gauge({ name: 'kratos_gateway_kratos_up', help: 'h', registers }).set(opts.kratosUp ?? 0);
  new Gauge({ name: 'kratos_gateway_session_cache_entries', help: 'h', registers }).set(requests);
  return (await registry.getMetricsAsJSON()) as WorkerMetrics;
}

test('counters, histograms and cache sizes add up; build info stays 1; kratos_up is the primary’s', async () => {
  const text = await aggregateMetrics(await processMetrics(1, { kratosUp: 1 }), [
    await processMetrics(3),
    await processMetrics(5),
  ]).metrics();
  assert.match(text, /^kratos_gateway_requests_total\{route="app"\} 9$/m);
  assert.match(text, /^kratos_gateway_request_duration_seconds_count 9$/m);
  assert.match(text, /^kratos_gateway_request_duration_seconds_bucket\{le="0.1"\} 9$/m);
  assert.match(text, /^kratos_gateway_session_cache_entries 9$/m);
  assert.match(text, /^kratos_gateway_build_info\{version="1.0.0"\} 1$/m);
  assert.match(text, /^kratos_gateway_config_info\{hash="aaa"\} 1$/m);
  // The workers never check Kratos (their gauge reads 0): only the primary's answer counts.
  assert.match(text, /^kratos_gateway_kratos_up 1$/m);
});

test('while a reload spreads, both configuration hashes show, each 1', async () => {
  const text = await aggregateMetrics(await processMetrics(0, { hash: 'new' }), [
    await processMetrics(0, { hash: 'old' }),
    await processMetrics(0, { hash: 'new' }),
  ]).metrics();
  assert.match(text, /^kratos_gateway_config_info\{hash="new"\} 1$/m);
  assert.match(text, /^kratos_gateway_config_info\{hash="old"\} 1$/m);
});

test('a retired worker keeps its counters and histograms, not its gauges, and retirees merge into one entry', async () => {
  let retired = retire([], await processMetrics(4));
  retired = retire(retired, await processMetrics(6));
  const merged = await mergeRetired(retired);
  assert.equal(merged.length, 1);
  const text = await aggregateMetrics(await processMetrics(1, { kratosUp: 1 }), [...merged, await processMetrics(2)]).metrics();
  assert.match(text, /^kratos_gateway_requests_total\{route="app"\} 13$/m);
  assert.match(text, /^kratos_gateway_request_duration_seconds_count 13$/m);
  assert.match(text, /^kratos_gateway_session_cache_entries 3$/m);
});

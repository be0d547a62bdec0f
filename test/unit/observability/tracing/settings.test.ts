import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../../../src/config/errors.js';
import { tracingRequested, tracingSettings } from '../../../../src/observability/tracing/settings.js';
import { startTracing } from '../../../../src/observability/tracing/index.js';
import { memoryLogger } from '../../../helpers/servers.js';

test('tracing is off unless the environment asks for it', () => {
  assert.equal(tracingRequested({}), false, 'nothing set');
  assert.equal(tracingRequested({ OTEL_SERVICE_NAME: 'x', OTEL_TRACES_SAMPLER: 'always_on' }), false, 'settings without an exporter');
  assert.equal(tracingRequested({ OTEL_TRACES_EXPORTER: 'otlp' }), true);
  assert.equal(tracingRequested({ OTEL_TRACES_EXPORTER: 'console, OTLP' }), true);
  assert.equal(
    tracingRequested({ OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' }),
    false,
    'an explicit none wins over an endpoint',
  );
  assert.equal(tracingRequested({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' }), true);
  assert.equal(tracingRequested({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://c:4318/v1/traces' }), true);
  assert.equal(tracingRequested({ OTEL_EXPORTER_OTLP_ENDPOINT: '  ' }), false, 'blank is unset');
  assert.equal(tracingRequested({ OTEL_SDK_DISABLED: 'TRUE', OTEL_TRACES_EXPORTER: 'otlp' }), false);
  assert.equal(tracingRequested({ OTEL_SDK_DISABLED: 'false', OTEL_TRACES_EXPORTER: 'otlp' }), true);
});

test('defaults follow the specification: localhost:4318, parent-based always-on, batch 5 s / 2048 / 512', () => {
  const s = tracingSettings({ OTEL_TRACES_EXPORTER: 'otlp' })!;
  assert.equal(s.exporter.url, 'http://localhost:4318/v1/traces');
  assert.equal(s.exporter.timeoutMs, 10_000);
  assert.deepEqual(s.exporter.headers, {});
  assert.deepEqual(s.sampler, { kind: 'parentbased_always_on' });
  assert.equal(s.serviceName, 'kratos-gateway');
  assert.deepEqual(s.batch, { scheduledDelayMillis: 5_000, exportTimeoutMillis: 30_000, maxQueueSize: 2048, maxExportBatchSize: 512 });
  assert.deepEqual(s.warnings, []);
});

test('endpoints: the signal-specific one is used as is, the generic one gets /v1/traces', () => {
  assert.equal(
    tracingSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'https://c.example:4318/' })!.exporter.url,
    'https://c.example:4318/v1/traces',
  );
  assert.equal(
    tracingSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'https://c.example/otlp' })!.exporter.url,
    'https://c.example/otlp/v1/traces',
  );
  assert.equal(
    tracingSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a:4318', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://b:9999/custom' })!.exporter
      .url,
    'http://b:9999/custom',
  );
  assert.throws(() => tracingSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'ftp://c' }), ConfigError);
});

test('headers, resource attributes and service name are parsed as key=value lists, percent-decoded', () => {
  const s = tracingSettings({
    OTEL_TRACES_EXPORTER: 'otlp',
    OTEL_EXPORTER_OTLP_HEADERS: 'x-api-key=abc%3D%3D, x-team = core,broken',
    OTEL_RESOURCE_ATTRIBUTES: 'service.name=from-attrs,deployment.environment=prod%20eu',
  })!;
  assert.deepEqual(s.exporter.headers, { 'x-api-key': 'abc==', 'x-team': 'core' });
  assert.deepEqual(s.resourceAttributes, { 'service.name': 'from-attrs', 'deployment.environment': 'prod eu' });
  assert.equal(s.serviceName, 'from-attrs', 'service.name from the attributes when OTEL_SERVICE_NAME is unset');
  assert.equal(s.warnings.length, 1);
  assert.ok(!s.warnings[0]!.includes('abc'), 'a warning never quotes header values');
  assert.equal(
    tracingSettings({ OTEL_TRACES_EXPORTER: 'otlp', OTEL_SERVICE_NAME: 'svc', OTEL_RESOURCE_ATTRIBUTES: 'service.name=x' })!.serviceName,
    'svc',
  );
  assert.deepEqual(
    tracingSettings({ OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_HEADERS: 'a=1', OTEL_EXPORTER_OTLP_TRACES_HEADERS: 'b=2' })!.exporter
      .headers,
    { b: '2' },
  );
});

test('samplers: the six standard ones, ratio from OTEL_TRACES_SAMPLER_ARG, unknown falls back with a warning', () => {
  const sampler = (env: Record<string, string>) => tracingSettings({ OTEL_TRACES_EXPORTER: 'otlp', ...env })!;
  assert.deepEqual(sampler({ OTEL_TRACES_SAMPLER: 'always_off' }).sampler, { kind: 'always_off' });
  assert.deepEqual(sampler({ OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.25' }).sampler, {
    kind: 'parentbased_traceidratio',
    ratio: 0.25,
  });
  assert.deepEqual(sampler({ OTEL_TRACES_SAMPLER: 'traceidratio' }).sampler, { kind: 'traceidratio', ratio: 1 });
  const badRatio = sampler({ OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '2' });
  assert.deepEqual(badRatio.sampler, { kind: 'traceidratio', ratio: 1 });
  assert.equal(badRatio.warnings.length, 1);
  const unknown = sampler({ OTEL_TRACES_SAMPLER: 'jaeger_remote' });
  assert.deepEqual(unknown.sampler, { kind: 'parentbased_always_on' });
  assert.equal(unknown.warnings.length, 1);
});

test('protocols: http/json; http/protobuf is exported as JSON with a warning; grpc is refused', () => {
  assert.deepEqual(tracingSettings({ OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' })!.warnings, []);
  assert.equal(tracingSettings({ OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf' })!.warnings.length, 1);
  assert.throws(() => tracingSettings({ OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }), /grpc is not supported/);
  assert.throws(
    () =>
      tracingSettings({
        OTEL_TRACES_EXPORTER: 'otlp',
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
        OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'grpc',
      }),
    /grpc/,
  );
});

test('batch settings: positive integers, the batch never larger than the queue', () => {
  const s = tracingSettings({
    OTEL_TRACES_EXPORTER: 'otlp',
    OTEL_BSP_SCHEDULE_DELAY: '200',
    OTEL_BSP_MAX_QUEUE_SIZE: '100',
    OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '512',
    OTEL_BSP_EXPORT_TIMEOUT: '-1',
  })!;
  assert.deepEqual(s.batch, { scheduledDelayMillis: 200, exportTimeoutMillis: 30_000, maxQueueSize: 100, maxExportBatchSize: 100 });
  assert.equal(s.warnings.length, 1);
});

test('startTracing: off is undefined; on logs the endpoint without user info and never the headers', async () => {
  const { logger, lines } = memoryLogger();
  assert.equal(await startTracing({}, logger), undefined);
  assert.equal(lines.length, 0);
  const tracing = await startTracing(
    { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://user:pa55word@127.0.0.1:1', OTEL_EXPORTER_OTLP_HEADERS: 'authorization=Bearer%20s3cret' },
    logger,
  );
  assert.ok(tracing);
  await tracing.shutdown();
  const text = lines.join('\n');
  assert.match(text, /tracing on/);
  assert.match(text, /127\.0\.0\.1:1\/v1\/traces/);
  assert.ok(!text.includes('pa55word') && !text.includes('s3cret'));
});

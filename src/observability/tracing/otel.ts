/**
 * The OpenTelemetry side of tracing. Imported only by `startTracing`, and only when the
 * environment turns tracing on: a gateway without tracing never loads the SDK.
 *
 * Span names and attributes follow the HTTP semantic conventions where they fit. No header
 * value, cookie, token or query string is ever put on a span: only methods, canonical paths,
 * route names, host names, status codes and outcomes.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { RequestHead } from '../../http/request.js';
import {
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  defaultTextMapGetter,
  defaultTextMapSetter,
  trace,
  type Context,
  type Span,
  type Tracer,
} from '@opentelemetry/api';
import { ExportResultCode, W3CTraceContextPropagator, type ExportResult } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  TracerProvider,
  type ReadableSpan,
  type Sampler,
  type SpanExporter,
} from '@opentelemetry/sdk-trace';
import type { Logger } from '../../log.js';
import type { SamplerSetting, TracingSettings } from './settings.js';
import type { CacheOutcome, LookupTrace, RequestTrace, Tracing, UpstreamTrace, WhoamiTrace } from './types.js';

const propagator = new W3CTraceContextPropagator();

function sampler(s: SamplerSetting): Sampler {
  switch (s.kind) {
    case 'always_on':
      return new AlwaysOnSampler();
    case 'always_off':
      return new AlwaysOffSampler();
    case 'traceidratio':
      return new TraceIdRatioBasedSampler(s.ratio);
    case 'parentbased_always_on':
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
    case 'parentbased_always_off':
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(s.ratio) });
  }
}

/**
 * Export failures are otherwise reported only through the OTel diag logger, which is silent
 * unless set globally. One warning per minute at most: a collector that is down must not
 * flood the log.
 */
class ReportingExporter implements SpanExporter {
  private lastWarning = 0;

  constructor(
    private readonly inner: SpanExporter,
    private readonly logger: Logger,
  ) {}

  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    this.inner.export(spans, (result) => {
      if (result.code !== ExportResultCode.SUCCESS && Date.now() - this.lastWarning > 60_000) {
        this.lastWarning = Date.now();
        this.logger.warn(
          { err: { message: result.error?.message ?? 'unknown error' }, spans: spans.length },
          'tracing: span export failed',
        );
      }
      done(result);
    });
  }

  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }

  forceFlush(): Promise<void> {
    return this.inner.forceFlush?.() ?? Promise.resolve();
  }
}

function endWithStatus(span: Span, status: number, failure: string | undefined): void {
  if (status > 0) span.setAttribute('http.response.status_code', status);
  if (failure !== undefined) {
    span.setAttribute('error.type', failure);
    span.setStatus({ code: SpanStatusCode.ERROR });
  } else if (status >= 500) {
    span.setAttribute('error.type', String(status));
    span.setStatus({ code: SpanStatusCode.ERROR });
  }
  span.end();
}

/** Writes `span`'s context as `traceparent`/`tracestate`, replacing the caller's. */
function inject(span: Span, headers: Record<string, string | string[] | undefined>): void {
  delete headers.traceparent;
  delete headers.tracestate;
  propagator.inject(trace.setSpan(ROOT_CONTEXT, span), headers, defaultTextMapSetter);
}

class WhoamiSpan implements WhoamiTrace {
  readonly headers: Record<string, string> = {};

  constructor(private readonly span: Span) {
    inject(span, this.headers);
  }

  end(result: string, failed: boolean): void {
    this.span.setAttribute('kratos_gateway.whoami.result', result);
    if (failed) {
      this.span.setAttribute('error.type', result);
      this.span.setStatus({ code: SpanStatusCode.ERROR });
    }
    this.span.end();
  }
}

class LookupSpan implements LookupTrace {
  private readonly context: Context;

  constructor(
    private readonly tracer: Tracer,
    private readonly span: Span,
  ) {
    this.context = trace.setSpan(ROOT_CONTEXT, span);
  }

  cache(outcome: CacheOutcome): void {
    this.span.setAttribute('kratos_gateway.cache', outcome);
  }

  startWhoami(): WhoamiTrace {
    const span = this.tracer.startSpan(
      'kratos whoami',
      { kind: SpanKind.CLIENT, attributes: { 'http.request.method': 'GET', 'url.path': '/sessions/whoami' } },
      this.context,
    );
    return new WhoamiSpan(span);
  }

  end(resolution: 'authenticated' | 'unauthenticated' | 'unavailable' | 'step_up'): void {
    this.span.setAttribute('kratos_gateway.session', resolution);
    if (resolution === 'unavailable') this.span.setStatus({ code: SpanStatusCode.ERROR });
    this.span.end();
  }
}

class UpstreamSpan implements UpstreamTrace {
  constructor(private readonly span: Span) {}

  end(status: number, failure?: string): void {
    endWithStatus(this.span, status, failure);
  }
}

/**
 * Children of an unsampled request: nothing would be exported, so no span is created; the
 * upstream and Kratos get the request span's context (same trace id, flags 00).
 */
class UnsampledLookup implements LookupTrace {
  constructor(private readonly request: Span) {}

  cache(): void {}

  startWhoami(): WhoamiTrace {
    const headers: Record<string, string> = {};
    inject(this.request, headers);
    return { headers, end() {} };
  }

  end(): void {}
}

const NO_UPSTREAM_SPAN: UpstreamTrace = { end() {} };

class RequestSpan implements RequestTrace {
  private context: Context | undefined;

  constructor(
    private readonly tracer: Tracer,
    readonly span: Span,
    readonly method: string,
  ) {}

  private parent(): Context {
    return (this.context ??= trace.setSpan(ROOT_CONTEXT, this.span));
  }

  setPath(path: string): void {
    this.span.setAttribute('url.path', path);
  }

  startLookup(): LookupTrace {
    if (!this.span.isRecording()) return new UnsampledLookup(this.span);
    return new LookupSpan(this.tracer, this.tracer.startSpan('session lookup', { kind: SpanKind.INTERNAL }, this.parent()));
  }

  startUpstream(headers: IncomingHttpHeaders, origin: URL, method: string): UpstreamTrace {
    if (!this.span.isRecording()) {
      inject(this.span, headers);
      return NO_UPSTREAM_SPAN;
    }
    const port = origin.port === '' ? (origin.protocol === 'https:' ? 443 : 80) : Number(origin.port);
    const span = this.tracer.startSpan(
      'upstream',
      { kind: SpanKind.CLIENT, attributes: { 'http.request.method': method, 'server.address': origin.hostname, 'server.port': port } },
      this.parent(),
    );
    inject(span, headers);
    return new UpstreamSpan(span);
  }

  inject(headers: IncomingHttpHeaders): void {
    inject(this.span, headers);
  }
}

export class OtelTracing implements Tracing {
  private readonly provider: TracerProvider;
  private readonly tracer: Tracer;
  /** Request → its trace, so the single exit point of the pipeline (observe) can end the span without threading it through every call. */
  private readonly live = new WeakMap<RequestHead, RequestSpan>();
  private readonly shutdownBudgetMs: number;

  constructor(settings: TracingSettings, logger: Logger) {
    const exporter = new OTLPTraceExporter({
      url: settings.exporter.url,
      headers: settings.exporter.headers,
      timeoutMillis: settings.exporter.timeoutMs,
    });
    this.provider = new TracerProvider({
      resource: resourceFromAttributes({ ...settings.resourceAttributes, 'service.name': settings.serviceName }),
      sampler: sampler(settings.sampler),
      spanProcessors: [new BatchSpanProcessor({ exporter: new ReportingExporter(exporter, logger), ...settings.batch })],
    });
    this.tracer = this.provider.getTracer('kratos-gateway');
    this.shutdownBudgetMs = settings.exporter.timeoutMs + 1_000;
  }

  startRequest(req: RequestHead, kind: 'proxy' | 'decision' | 'websocket'): RequestTrace {
    const method = req.method ?? 'GET';
    const parent = propagator.extract(ROOT_CONTEXT, req.headers, defaultTextMapGetter);
    const span = this.tracer.startSpan(
      `HTTP ${method}`,
      { kind: SpanKind.SERVER, attributes: { 'http.request.method': method, 'kratos_gateway.kind': kind } },
      parent,
    );
    const t = new RequestSpan(this.tracer, span, method);
    this.live.set(req, t);
    return t;
  }

  finishRequest(req: RequestHead, route: string, status: number): string | undefined {
    const t = this.live.get(req);
    if (t === undefined) return undefined;
    this.live.delete(req);
    const span = t.span;
    if (route !== 'none' && span.isRecording()) {
      span.updateName(`HTTP ${t.method} ${route}`);
      span.setAttribute('http.route', route);
      span.setAttribute('kratos_gateway.route', route);
    }
    endWithStatus(span, status, undefined);
    return span.spanContext().traceId;
  }

  async shutdown(): Promise<void> {
    // A collector that does not answer must not hold the gateway's shutdown for the SDK's 30 s.
    let timer: NodeJS.Timeout | undefined;
    const budget = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.shutdownBudgetMs);
      timer.unref();
    });
    await Promise.race([this.provider.shutdown(), budget]);
    clearTimeout(timer);
  }
}

import { type Context, context, ROOT_CONTEXT, type Span, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { TraceSpan, Tracer } from '../core/ports/tracing.js';

/** A Tracer that exports spans, and the way to flush them when the server stops. */
export interface ExportingTracer extends Tracer {
  /** Exports what is buffered and stops exporting. */
  shutdown(): Promise<void>;
}

const KINDS = { server: SpanKind.SERVER, client: SpanKind.CLIENT, internal: SpanKind.INTERNAL } as const;

/** Spans buffered for export at most; more are dropped (BatchSpanProcessor's queue). */
const MAX_QUEUED_SPANS = 4096;

/**
 * The Tracer port over the OpenTelemetry SDK: spans are batched and exported over OTLP/HTTP (JSON)
 * to `endpoint` (a base URL such as http://collector:4318, as OTEL_EXPORTER_OTLP_ENDPOINT; the
 * traces path /v1/traces is added), with `service.name` `serviceName` and `node` as
 * `service.instance.id`. W3C trace context comes in and goes out as `traceparent`. The current
 * span follows asynchronous calls through AsyncLocalStorage (set process-wide on first use).
 */
export function otlpTracer(endpoint: string, serviceName: string, node: string): ExportingTracer {
  const exporter = new OTLPTraceExporter({ url: `${endpoint.replace(/\/+$/, '')}/v1/traces` });
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': serviceName, 'service.instance.id': node }),
    spanProcessors: [new BatchSpanProcessor(exporter, { maxQueueSize: MAX_QUEUED_SPANS, scheduledDelayMillis: 500 })],
  });
  if (!contextManagerSet) {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    contextManagerSet = true;
  }
  const propagator = new W3CTraceContextPropagator();
  const tracer = provider.getTracer('konsul');
  const spans = new WeakMap<TraceSpan, Span>();
  const traceparentOf = (span: Span): string | undefined => {
    const carrier: Record<string, string> = {};
    propagator.inject(trace.setSpan(ROOT_CONTEXT, span), carrier, {
      set: (c, k, v) => {
        c[k] = v;
      },
    });
    return carrier['traceparent'];
  };
  const wrap = (span: Span): TraceSpan => {
    let ended = false;
    const t: TraceSpan = {
      traceparent: () => traceparentOf(span),
      setAttribute: (name, value) => span.setAttribute(name, value),
      addEvent: (name, attributes) => span.addEvent(name, attributes),
      fail: (message) => span.setStatus({ code: SpanStatusCode.ERROR, message }),
      end: () => {
        if (ended) return;
        ended = true;
        span.end();
      },
    };
    spans.set(t, span);
    return t;
  };
  const parentContext = (parent: string | undefined): Context =>
    parent === undefined
      ? context.active()
      : propagator.extract(ROOT_CONTEXT, { traceparent: parent }, { get: (c, k) => c[k], keys: (c) => Object.keys(c) });
  return {
    enabled: true,
    startSpan: (name, kind, options = {}) =>
      wrap(
        tracer.startSpan(
          name,
          { kind: KINDS[kind], ...(options.attributes ? { attributes: { ...options.attributes } } : {}) },
          parentContext(options.parent),
        ),
      ),
    within: (span, fn) => {
      const s = spans.get(span);
      return s ? context.with(trace.setSpan(context.active(), s), fn) : fn();
    },
    current: () => {
      const span = trace.getSpan(context.active());
      return span ? traceparentOf(span) : undefined;
    },
    shutdown: () => provider.shutdown(),
  };
}

let contextManagerSet = false;

/**
 * Where core code opens trace spans. A server configured with an OTLP endpoint backs it with the
 * OpenTelemetry SDK (server/tracing.ts); otherwise NO_TRACER, which costs a property read per
 * request. Spans carry W3C trace context (`traceparent`) from process to process; attribute values
 * follow the metrics' rule: never a key, a raw path or a token.
 */

/** An open span. */
export interface TraceSpan {
  /** This span's W3C `traceparent`, for a child in another process (a forwarded request). */
  traceparent(): string | undefined;
  setAttribute(name: string, value: string | number | boolean): void;
  /** A point in time inside the span (a blocking query's wait, a commit). */
  addEvent(name: string, attributes?: Readonly<Record<string, string | number | boolean>>): void;
  /** Marks the span failed, with a message that holds no secret. */
  fail(message: string): void;
  /** Ends the span; later calls do nothing. */
  end(): void;
}

/** Opens spans. */
export interface Tracer {
  /** False for NO_TRACER: callers may skip building attributes. */
  readonly enabled: boolean;
  /**
   * Opens a span named `name`. Its parent is the `traceparent` given (a request's header), else
   * the span `within` made current on this asynchronous path, else none (a new trace).
   */
  startSpan(
    name: string,
    kind: 'server' | 'client' | 'internal',
    options?: {
      readonly parent?: string;
      readonly attributes?: Readonly<Record<string, string | number | boolean>>;
    },
  ): TraceSpan;
  /** Runs `fn` with `span` current: spans opened inside it (and its awaits) are its children. */
  within<T>(span: TraceSpan, fn: () => T): T;
  /**
   * The `traceparent` of the span current on this asynchronous path, undefined when there is none
   * (or not tracing): for a component that opens its spans later, on a loop of its own (Raft).
   */
  current(): string | undefined;
}

const NO_SPAN: TraceSpan = {
  traceparent: () => undefined,
  setAttribute: () => undefined,
  addEvent: () => undefined,
  fail: () => undefined,
  end: () => undefined,
};

/** A tracer that records nothing. */
export const NO_TRACER: Tracer = {
  enabled: false,
  startSpan: () => NO_SPAN,
  within: (_span, fn) => fn(),
  current: () => undefined,
};

// The tracing port: how the decision path reports spans without knowing who collects them.
// The core and the decision service take an optional TracerPort; with none (the default) they
// pay one branch per stage and build nothing. The OpenTelemetry adapter (src/telemetry/otel.ts)
// implements it and is imported only when tracing is configured.

export type SpanValue = string | number | boolean;
export type SpanAttributes = Record<string, SpanValue | undefined>;

export interface SpanPort {
  /** Adds attributes (undefined values are skipped). */
  set(attributes: SpanAttributes): void;
  /** The span's name once more is known (a model call is named after its model). */
  rename(name: string): void;
}

export interface SpanOptions {
  attributes?: SpanAttributes;
  /** `server` for a request received, `client` for a call made; `internal` by default. */
  kind?: 'server' | 'client' | 'internal';
}

/** Header names to values, as Node's IncomingHttpHeaders or a plain record. */
export type Carrier = Record<string, string | string[] | undefined>;

export interface TracerPort {
  /**
   * Runs `fn` inside a new span, a child of the span active where it is called, and ends the
   * span when `fn` returns or its promise settles. A throw or rejection marks it failed.
   */
  span<T>(name: string, options: SpanOptions, fn: (span: SpanPort) => T): T;
  /**
   * Like span, with the parent taken from a W3C `traceparent` (and `tracestate`) in
   * `carrier` where it holds a valid one: the caller's trace continues through Cordon.
   */
  spanFrom<T>(carrier: Carrier, name: string, options: SpanOptions, fn: (span: SpanPort) => T): T;
  /** The active span's `traceparent` (and `tracestate`), for a call Cordon makes onward. */
  inject(into: Record<string, string>): void;
  /** The span active here (to name it or add to it), if any. */
  active(): SpanPort | undefined;
}

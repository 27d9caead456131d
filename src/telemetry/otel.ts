// The OpenTelemetry adapter of the tracing port (src/core/tracer.ts): spans made with the
// official OTel JS SDK, batched and exported over OTLP/HTTP (JSON encoding). Imported only when
// tracing is configured (src/telemetry/config.ts): with tracing off, no OTel module is loaded.
//
// It sets nothing process-wide: no global tracer provider, propagator or context manager, so a
// host application's own OpenTelemetry setup is left alone. The active span is kept in an
// AsyncLocalStorage of its own, and W3C trace context is read and written with the SDK's
// propagator over the carriers Cordon hands it (HTTP headers, MCP `_meta`).

import { AsyncLocalStorage } from 'node:async_hooks';
import {
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  defaultTextMapGetter,
  defaultTextMapSetter,
  trace,
  type Attributes,
  type Context,
  type Tracer,
} from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  type SpanExporter,
} from '@opentelemetry/sdk-trace-base';
import type { Carrier, SpanAttributes, SpanOptions, SpanPort, TracerPort } from '../core/tracer.js';
import type { TelemetrySettings } from './config.js';

const KIND = { server: SpanKind.SERVER, client: SpanKind.CLIENT, internal: SpanKind.INTERNAL };

function clean(a: SpanAttributes | undefined): Attributes | undefined {
  if (!a) return undefined;
  const out: Attributes = {};
  for (const [k, v] of Object.entries(a)) if (v !== undefined) out[k] = v;
  return out;
}

const isThenable = (v: unknown): v is PromiseLike<unknown> =>
  typeof (v as { then?: unknown } | null)?.then === 'function';

export class OtelTracer implements TracerPort {
  /** The active span's context, and its port (for `active()`). */
  private readonly current = new AsyncLocalStorage<{ ctx: Context; port: SpanPort }>();
  private readonly propagator = new W3CTraceContextPropagator();

  constructor(private readonly tracer: Tracer) {}

  span<T>(name: string, options: SpanOptions, fn: (span: SpanPort) => T): T {
    return this.run(this.current.getStore()?.ctx ?? ROOT_CONTEXT, name, options, fn);
  }

  spanFrom<T>(carrier: Carrier, name: string, options: SpanOptions, fn: (span: SpanPort) => T): T {
    const remote = this.propagator.extract(ROOT_CONTEXT, carrier, defaultTextMapGetter);
    const valid = trace.getSpanContext(remote) !== undefined;
    const parent = valid ? remote : (this.current.getStore()?.ctx ?? ROOT_CONTEXT);
    return this.run(parent, name, options, fn);
  }

  inject(into: Record<string, string>): void {
    const ctx = this.current.getStore()?.ctx;
    if (ctx) this.propagator.inject(ctx, into, defaultTextMapSetter);
  }

  active(): SpanPort | undefined {
    return this.current.getStore()?.port;
  }

  private run<T>(parent: Context, name: string, options: SpanOptions, fn: (s: SpanPort) => T): T {
    const attributes = clean(options.attributes);
    const span = this.tracer.startSpan(
      name,
      { kind: KIND[options.kind ?? 'internal'], ...(attributes ? { attributes } : {}) },
      parent,
    );
    const port: SpanPort = {
      set: (a) => {
        const c = clean(a);
        if (c) span.setAttributes(c);
      },
      rename: (n) => void span.updateName(n),
    };
    const fail = (e: unknown) => {
      const err = e instanceof Error ? e : new Error(String(e));
      span.recordException(err);
      span.setStatus({ code: SpanStatusCode.ERROR, message: err.message });
      span.end();
    };
    let out: T;
    try {
      out = this.current.run({ ctx: trace.setSpan(parent, span), port }, fn, port);
    } catch (e) {
      fail(e);
      throw e;
    }
    if (!isThenable(out)) {
      span.end();
      return out;
    }
    return out.then(
      (v) => {
        span.end();
        return v;
      },
      (e: unknown) => {
        fail(e);
        throw e;
      },
    ) as T;
  }
}

export interface Telemetry {
  tracer: TracerPort;
  /** Exports what is buffered (tests, and before exit). */
  flush(): Promise<void>;
  /** Flushes and stops exporting. */
  shutdown(): Promise<void>;
}

/**
 * A tracer exporting over OTLP/HTTP. `endpoint` is the OTLP base URL (spans go to
 * `<endpoint>/v1/traces`); without one the exporter reads the standard OTEL_EXPORTER_OTLP_*
 * variables. `exporter` replaces the OTLP exporter (tests).
 */
export function startTelemetry(settings: TelemetrySettings, exporter?: SpanExporter): Telemetry {
  const otlp =
    exporter ??
    new OTLPTraceExporter({
      ...(settings.endpoint ? { url: `${settings.endpoint.replace(/\/+$/, '')}/v1/traces` } : {}),
      ...(settings.headers ? { headers: settings.headers } : {}),
    });
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': settings.serviceName }),
    // The caller's sampling decision holds; a new trace is kept with the configured ratio.
    sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(settings.sampleRatio) }),
    spanProcessors: [new BatchSpanProcessor(otlp)],
  });
  return {
    tracer: new OtelTracer(provider.getTracer('cordon')),
    flush: () => provider.forceFlush(),
    // An unreachable collector loses spans; it never fails Cordon's own shutdown.
    shutdown: () => provider.shutdown().catch(() => {}),
  };
}

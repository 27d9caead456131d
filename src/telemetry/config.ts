// Whether Cordon traces, and where spans go: cordon.yaml `telemetry`, or the standard
// OTEL_EXPORTER_OTLP_ENDPOINT variables. Off by default. This module imports no OpenTelemetry
// code: the SDK is loaded (src/telemetry/otel.ts) only once tracing is on.

import { z } from 'zod';
import type { Telemetry } from './otel.js';

export const telemetryConfigSchema = z
  .strictObject({
    /** Where spans go over OTLP/HTTP; without it, OTEL_EXPORTER_OTLP_ENDPOINT may say. */
    otlp: z
      .strictObject({
        /** The OTLP base URL (`http://collector:4318`): spans go to `<endpoint>/v1/traces`. */
        endpoint: z.url({ protocol: /^https?$/ }),
        /** Sent with every export (an API key of a tracing backend). */
        headers: z.record(z.string(), z.string()).optional(),
      })
      .optional(),
    serviceName: z.string().min(1).default('cordon'),
    /** The share of new traces kept (a caller's sampled traceparent is always followed). */
    sampleRatio: z.number().min(0).max(1).default(1),
  })
  .default({ serviceName: 'cordon', sampleRatio: 1 });

export type TelemetryConfig = z.infer<typeof telemetryConfigSchema>;

export interface TelemetrySettings {
  /** Absent: the exporter reads OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT and _HEADERS itself. */
  endpoint?: string;
  headers?: Record<string, string>;
  serviceName: string;
  sampleRatio: number;
}

const set = (v: string | undefined) => v !== undefined && v.trim() !== '';

/**
 * The settings when tracing is on, else undefined: on with `telemetry.otlp` in cordon.yaml, or
 * with OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT set. The standard
 * OTEL_SDK_DISABLED=true and OTEL_TRACES_EXPORTER=none turn it off either way.
 */
export function telemetrySettings(
  config: TelemetryConfig,
  env: NodeJS.ProcessEnv = process.env,
): TelemetrySettings | undefined {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return undefined;
  if (env.OTEL_TRACES_EXPORTER?.trim().toLowerCase() === 'none') return undefined;
  const base = {
    serviceName: set(env.OTEL_SERVICE_NAME) ? env.OTEL_SERVICE_NAME!.trim() : config.serviceName,
    sampleRatio: config.sampleRatio,
  };
  if (config.otlp)
    return {
      ...base,
      endpoint: config.otlp.endpoint,
      ...(config.otlp.headers ? { headers: config.otlp.headers } : {}),
    };
  if (set(env.OTEL_EXPORTER_OTLP_ENDPOINT) || set(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT))
    return base;
  return undefined;
}

/** Starts exporting: the OpenTelemetry SDK is imported here, and only here. */
export async function startTelemetry(settings: TelemetrySettings): Promise<Telemetry> {
  const otel = await import('./otel.js');
  return otel.startTelemetry(settings);
}

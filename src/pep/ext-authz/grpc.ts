// envoy.service.auth.v3.Authorization/Check over gRPC (Envoy's ext_authz grpc_service). The
// CheckRequest's AttributeContext (protobufjs messages) becomes a CheckedHttp for the mapping;
// the verdict becomes a
// CheckResponse: OK with an OkHttpResponse (header mutations), or a non-OK status with a
// DeniedHttpResponse. Every call is answered with a CheckResponse, a denial when anything is
// wrong: a gRPC error would let an Envoy with failure_mode_allow through.

import { readFile } from 'node:fs/promises';
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { CREDENTIAL_HEADER, type ExtAuthzChecker } from './check.js';
import type { CheckedHttp } from './mapping.js';
import { authorizationServerDefinition, Undecodable } from './protos.js';
import { refusal, type Verdict } from './verdict.js';

/** google.protobuf.Value as a protobufjs message: `kind` names the field that is set. */
interface ProtoValue {
  kind?: string;
  [k: string]: unknown;
}

/** A google.protobuf.Struct as plain JSON (jwt_authn's payload in metadata). */
export function structToJson(s: unknown, depth = 0): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const fields = (s as { fields?: Record<string, ProtoValue> } | null)?.fields ?? {};
  for (const [k, v] of Object.entries(fields)) out[k] = valueToJson(v, depth + 1);
  return out;
}

function valueToJson(v: ProtoValue | undefined, depth: number): unknown {
  if (!v || depth > 32) return null;
  switch (v.kind) {
    case 'stringValue':
    case 'boolValue':
    case 'numberValue':
      return v[v.kind];
    case 'structValue':
      return structToJson(v.structValue, depth);
    case 'listValue':
      return ((v.listValue as { values?: ProtoValue[] } | null)?.values ?? []).map((x) =>
        valueToJson(x, depth + 1),
      );
    default:
      return null;
  }
}

interface HeaderMapEntry {
  key?: string;
  value?: string;
  raw_value?: Buffer;
}

/** The request's HTTP attributes, or the reason the CheckRequest cannot be checked. */
export function checkedHttpOf(req: unknown): CheckedHttp | string {
  const attrs = (req as { attributes?: Record<string, unknown> } | null)?.attributes;
  if (!attrs) return 'the CheckRequest has no attributes';
  const http = (attrs.request as { http?: Record<string, unknown> } | undefined)?.http;
  if (!http) return 'the CheckRequest has no request.http attributes';
  const method = typeof http.method === 'string' ? http.method : '';
  const path = typeof http.path === 'string' ? http.path : '';
  if (!method) return 'the CheckRequest has no request.http.method';
  if (!path) return 'the CheckRequest has no request.http.path';
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries((http.headers as Record<string, string>) ?? {}))
    headers[k.toLowerCase()] = v;
  // With encode_raw_headers, Envoy sends header_map (raw bytes) instead of the headers map.
  const map = (http.header_map as { headers?: HeaderMapEntry[] } | undefined)?.headers ?? [];
  for (const h of map) {
    if (!h.key) continue;
    const key = h.key.toLowerCase();
    const value = h.raw_value?.length ? h.raw_value.toString('utf8') : (h.value ?? '');
    headers[key] = headers[key] === undefined ? value : `${headers[key]},${value}`;
  }
  const host =
    (typeof http.host === 'string' && http.host) || headers[':authority'] || headers.host || '';
  const source = attrs.source as { principal?: string } | undefined;
  const filterMetadata = (attrs.metadata_context as { filter_metadata?: Record<string, unknown> })
    ?.filter_metadata;
  const metadata: Record<string, unknown> = {};
  for (const [ns, struct] of Object.entries(filterMetadata ?? {}))
    metadata[ns] = structToJson(struct);
  return {
    method,
    path,
    host,
    ...(typeof http.scheme === 'string' && http.scheme ? { scheme: http.scheme } : {}),
    headers,
    // Always set over gRPC (possibly ""): the peer is Envoy's to state, never a header's.
    sourcePrincipal: source?.principal ?? '',
    metadata,
  };
}

// Overwrite, never append: a client must not be able to add a second value of these. (The
// deprecated `append` is left unset: in ext_authz responses it defaults to false, overwrite.)
const OVERWRITE_IF_EXISTS_OR_ADD = 2; // envoy.config.core.v3.HeaderValueOption.HeaderAppendAction

const option = (key: string, value: string) => ({
  header: { key, value },
  append_action: OVERWRITE_IF_EXISTS_OR_ADD,
});

/** The CheckResponse enforcing `v`, as a plain object protobufjs encodes (enums as numbers). */
export function checkResponseOf(v: Verdict): Record<string, unknown> {
  if (v.allowed)
    return {
      status: { code: v.grpcCode },
      ok_response: {
        headers: Object.entries(v.upstreamHeaders).map(([k, val]) => option(k, val)),
        headers_to_remove: v.removeHeaders,
        response_headers_to_add: Object.entries(v.clientHeaders).map(([k, val]) => option(k, val)),
      },
    };
  return {
    status: { code: v.grpcCode, message: v.message },
    denied_response: {
      status: { code: v.status },
      headers: Object.entries(v.clientHeaders).map(([k, val]) => option(k, val)),
      body: v.body ?? '',
    },
  };
}

export interface GrpcListen {
  host: string;
  port: number;
  tls?: { cert: string; key: string } | undefined;
}

export interface RunningGrpc {
  port: number;
  close(): Promise<void>;
}

export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}

export async function startGrpcServer(
  checker: ExtAuthzChecker,
  where: GrpcListen,
  log: Logger,
): Promise<RunningGrpc> {
  const service = authorizationServerDefinition();
  const loopback = isLoopbackHost(where.host);
  const server = new grpc.Server();
  server.addService(service, {
    Check(
      call: grpc.ServerUnaryCall<unknown, unknown>,
      callback: grpc.sendUnaryData<Record<string, unknown>>,
    ) {
      const credential = call.metadata.get(CREDENTIAL_HEADER)[0];
      const caller = checker.authenticate(
        typeof credential === 'string' ? credential : undefined,
        loopback,
      );
      if (!caller.ok) {
        log.warn({ peer: call.getPeer() }, `ext_authz caller refused: ${caller.message}`);
        callback(null, checkResponseOf(refusal(403, caller.message)));
        return;
      }
      if (call.request instanceof Undecodable) {
        const why = `the CheckRequest could not be decoded: ${call.request.message}`;
        callback(null, checkResponseOf(refusal(400, why)));
        return;
      }
      const http = checkedHttpOf(call.request);
      if (typeof http === 'string') {
        callback(null, checkResponseOf(refusal(400, http)));
        return;
      }
      checker.checkHttp(http).then(
        (v) => callback(null, checkResponseOf(v)),
        (e: unknown) => {
          log.error({ err: e }, 'ext_authz check failed; denying');
          callback(null, checkResponseOf(refusal(503, 'the check failed')));
        },
      );
    },
  });
  const credentials = where.tls
    ? grpc.ServerCredentials.createSsl(
        null,
        [
          {
            cert_chain: await readFile(where.tls.cert),
            private_key: await readFile(where.tls.key),
          },
        ],
        false,
      )
    : grpc.ServerCredentials.createInsecure();
  const address = where.host.includes(':')
    ? `[${where.host}]:${where.port}`
    : `${where.host}:${where.port}`;
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(address, credentials, (err, p) => (err ? reject(err) : resolve(p))),
  );
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.tryShutdown(() => resolve());
        // Calls in flight get a moment; then the server goes regardless.
        setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, 2000).unref();
      }),
  };
}

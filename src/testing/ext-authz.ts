// Test and bench helpers for ext_authz: a gRPC client generated from the same vendored protos
// the server loads, and CheckRequests shaped as Envoy's ext_authz filter sends them (pseudo-
// headers in the headers map, the path with its query, source.principal from the peer
// certificate's URI SAN, jwt_authn's payload under metadata_context.filter_metadata).

import * as grpc from '@grpc/grpc-js';
import { authorizationService } from '../pep/ext-authz/protos.js';

export interface EnvoyRequest {
  method: string;
  /** Path and query, as the request line has it. */
  path: string;
  host?: string;
  headers?: Record<string, string>;
  /** The downstream certificate's URI SAN (Envoy: source.principal). */
  principal?: string;
  /** jwt_authn's payload_in_metadata: namespace envoy.filters.http.jwt_authn, this key. */
  jwtPayload?: { key: string; claims: Record<string, unknown> };
}

/** A JSON value as a google.protobuf.Value object for proto-loader. */
function protoValue(v: unknown): Record<string, unknown> {
  if (typeof v === 'string') return { stringValue: v };
  if (typeof v === 'number') return { numberValue: v };
  if (typeof v === 'boolean') return { boolValue: v };
  if (Array.isArray(v)) return { listValue: { values: v.map(protoValue) } };
  if (v && typeof v === 'object') return { structValue: protoStruct(v as Record<string, unknown>) };
  return { nullValue: 'NULL_VALUE' };
}

export function protoStruct(o: Record<string, unknown>): Record<string, unknown> {
  return { fields: Object.fromEntries(Object.entries(o).map(([k, v]) => [k, protoValue(v)])) };
}

/** A CheckRequest as Envoy's HTTP ext_authz filter builds it. */
export function envoyCheckRequest(r: EnvoyRequest): Record<string, unknown> {
  const host = r.host ?? 'api.example.com';
  return {
    attributes: {
      source: {
        address: { socket_address: { address: '10.1.2.3', port_value: 51234 } },
        ...(r.principal ? { principal: r.principal } : {}),
      },
      destination: {
        address: { socket_address: { address: '10.1.2.4', port_value: 8443 } },
        principal: 'spiffe://example.org/ns/default/sa/api',
      },
      request: {
        time: { seconds: String(Math.floor(Date.now() / 1000)), nanos: 0 },
        http: {
          id: '13427306171958370421',
          method: r.method,
          headers: {
            ':authority': host,
            ':method': r.method,
            ':path': r.path,
            ':scheme': 'https',
            'user-agent': 'agent/1.0',
            'x-forwarded-proto': 'https',
            'x-request-id': '5b1f3c0e-8a0e-4a55-9a0a-3f1c2d4e5f60',
            ...r.headers,
          },
          path: r.path,
          host,
          scheme: 'https',
          protocol: 'HTTP/1.1',
        },
      },
      ...(r.jwtPayload
        ? {
            metadata_context: {
              filter_metadata: {
                'envoy.filters.http.jwt_authn': protoStruct({
                  [r.jwtPayload.key]: r.jwtPayload.claims,
                }),
              },
            },
          }
        : {}),
    },
  };
}

export interface CheckResponse {
  status?: { code?: number; message?: string };
  http_response?: 'ok_response' | 'denied_response' | 'error_response';
  ok_response?: {
    headers?: { header: { key: string; value: string } }[];
    headers_to_remove?: string[];
    response_headers_to_add?: { header: { key: string; value: string } }[];
  };
  denied_response?: {
    status?: { code?: string | number };
    headers?: { header: { key: string; value: string } }[];
    body?: string;
  };
}

export interface AuthzClient {
  check(request: unknown, metadata?: Record<string, string>): Promise<CheckResponse>;
  close(): void;
}

/** A client of envoy.service.auth.v3.Authorization at 127.0.0.1:`port`. */
export function authzClient(port: number): AuthzClient {
  const Authorization = authorizationService();
  const client = new Authorization(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  return {
    check(request, metadata = {}) {
      const md = new grpc.Metadata();
      for (const [k, v] of Object.entries(metadata)) md.set(k, v);
      return new Promise((resolve, reject) => {
        (
          client as unknown as {
            Check(
              r: unknown,
              m: grpc.Metadata,
              cb: (e: grpc.ServiceError | null, res: CheckResponse) => void,
            ): void;
          }
        ).Check(request, md, (e, res) => (e ? reject(e) : resolve(res)));
      });
    },
    close: () => client.close(),
  };
}

/** The headers of a HeaderValueOption list as a record. */
export function headerRecord(
  list: { header: { key: string; value: string } }[] | undefined,
): Record<string, string> {
  return Object.fromEntries((list ?? []).map((h) => [h.header.key, h.header.value]));
}

/**
 * Sends bytes as a CheckRequest to 127.0.0.1:`port` (malformed input; the bench's pre-encoded
 * request) and gives back the answer's bytes.
 */
export function rawAuthzClient(port: number) {
  const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  const method = authorizationService().service.Check!;
  return {
    encode: (request: unknown) => method.requestSerialize(request),
    decode: (answer: Buffer) => method.responseDeserialize(answer) as CheckResponse,
    send: (bytes: Buffer) =>
      new Promise<Buffer>((resolve, reject) =>
        client.makeUnaryRequest<Buffer, Buffer>(
          method.path,
          (b) => b,
          (b) => b,
          bytes,
          (e, res) => (e || !res ? reject(e ?? new Error('no answer')) : resolve(res)),
        ),
      ),
    close: () => client.close(),
  };
}

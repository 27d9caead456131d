// Envoy's external authorization protocol, loaded from the .proto files vendored in ./proto
// (README there: where each came from). Loaded once per process; nothing is fetched.
//
// Two codecs over the same files. The client (tests, bench) uses @grpc/proto-loader's plain
// objects. The server decodes to protobufjs messages and encodes plain objects directly,
// skipping proto-loader's object conversion both ways (about half the protocol cost of a
// check, docs/perf.md); and a request that does not decode becomes an Undecodable value the
// handler denies, instead of an RPC error.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
// Importing proto-loader also registers google/protobuf/descriptor.proto with protobufjs,
// which the Envoy files import (for their annotations).
import * as protoLoader from '@grpc/proto-loader';
import protobuf from 'protobufjs';

/**
 * The proto root. Three levels up is the package root from both src/pep/ext-authz and
 * dist/pep/ext-authz, so this works from the sources and the build (package.json ships it).
 */
export const PROTO_ROOT = fileURLToPath(
  new URL('../../../src/pep/ext-authz/proto', import.meta.url),
);

/** keepCase: the objects carry the proto field names (header_map, ok_response) as Envoy's docs. */
export const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: false,
  oneofs: true,
  includeDirs: [PROTO_ROOT],
};

let loaded: grpc.ServiceClientConstructor | undefined;

/** envoy.service.auth.v3.Authorization: `.service` for a server, `new` it for a client. */
export function authorizationService(): grpc.ServiceClientConstructor {
  if (loaded) return loaded;
  const def = protoLoader.loadSync('envoy/service/auth/v3/external_auth.proto', LOADER_OPTIONS);
  const pkg = grpc.loadPackageDefinition(def) as unknown as {
    envoy: { service: { auth: { v3: { Authorization: grpc.ServiceClientConstructor } } } };
  };
  loaded = pkg.envoy.service.auth.v3.Authorization;
  return loaded;
}

/** A CheckRequest whose bytes are not one: answered with a denial. */
export class Undecodable {
  constructor(readonly message: string) {}
}

let root: protobuf.Root | undefined;

/** The vendored files as a protobufjs root (loaded once). */
function envoyRoot(): protobuf.Root {
  if (root) return root;
  const r = new protobuf.Root();
  r.resolvePath = (_origin, target) => {
    if (target.startsWith('google/protobuf/')) return target; // bundled with protobufjs
    const file = join(PROTO_ROOT, target);
    return existsSync(file) ? file : target;
  };
  r.loadSync('envoy/service/auth/v3/external_auth.proto', { keepCase: true });
  r.resolveAll();
  root = r;
  return r;
}

let serverDef: grpc.ServiceDefinition | undefined;

/**
 * The Authorization service for the server: requests decode to protobufjs messages (fields by
 * their proto names; unset messages are null), responses are plain objects with numeric enums.
 */
export function authorizationServerDefinition(): grpc.ServiceDefinition {
  if (serverDef) return serverDef;
  const Req = envoyRoot().lookupType('envoy.service.auth.v3.CheckRequest');
  const Res = envoyRoot().lookupType('envoy.service.auth.v3.CheckResponse');
  const check: grpc.MethodDefinition<unknown, Record<string, unknown>> = {
    path: '/envoy.service.auth.v3.Authorization/Check',
    requestStream: false,
    responseStream: false,
    requestSerialize: (m) => Buffer.from(Req.encode(m as protobuf.Message).finish()),
    requestDeserialize: (b) => {
      try {
        return Req.decode(b);
      } catch (e) {
        return new Undecodable((e as Error).message);
      }
    },
    responseSerialize: (o) => Buffer.from(Res.encode(o).finish()),
    responseDeserialize: (b) => Res.toObject(Res.decode(b)),
  };
  serverDef = { Check: check };
  return serverDef;
}

/** Why `response` is not a valid CheckResponse, or null (tests). */
export function verifyCheckResponse(response: Record<string, unknown>): string | null {
  return envoyRoot().lookupType('envoy.service.auth.v3.CheckResponse').verify(response);
}

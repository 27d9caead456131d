// Envoy's external authorization protocol, loaded from the .proto files vendored in ./proto
// (README there: where each came from). Loaded once per process; nothing is fetched. The same
// definitions give the server its service and the tests and the bench their client.

import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

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

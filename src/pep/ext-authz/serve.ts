// Starts what `extAuthz` in cordon.yaml asks for: the gRPC Authorization service, the HTTP
// listener (http_service and the Kubernetes webhook), both deciding through the PDP's
// decision service and recorded with pep "ext_authz".

import type { Logger } from 'pino';
import type { DecisionService } from '../../decision/service.js';
import type { HttpLimits } from '../http/http-limits.js';
import { ExtAuthzChecker, type CheckCallers } from './check.js';
import { parseListen, type ExtAuthzConfig } from './config.js';
import { startGrpcServer } from './grpc.js';
import { startHttpServer } from './http.js';
import { KubernetesMapping } from './kubernetes.js';
import { HttpMapping } from './mapping.js';

export interface RunningExtAuthz {
  /** Bound ports (useful with port 0). */
  grpcPort?: number;
  httpPort?: number;
  close(): Promise<void>;
}

export async function startExtAuthz(
  config: ExtAuthzConfig,
  decisions: DecisionService,
  callers: CheckCallers,
  log: Logger,
  limits?: HttpLimits,
): Promise<RunningExtAuthz> {
  const checker = new ExtAuthzChecker(decisions, new HttpMapping(config), callers, log);
  const closers: (() => Promise<void>)[] = [];
  const out: RunningExtAuthz = {
    async close() {
      await Promise.allSettled(closers.map((c) => c()));
    },
  };
  try {
    if (config.grpc) {
      const g = await startGrpcServer(
        checker,
        { ...parseListen(config.grpc.listen), tls: config.grpc.tls },
        log,
      );
      closers.push(g.close);
      out.grpcPort = g.port;
    }
    if (config.http) {
      const k8s = config.kubernetes ? new KubernetesMapping(config.kubernetes) : undefined;
      const h = await startHttpServer(
        checker,
        k8s,
        {
          ...parseListen(config.http.listen),
          tls: config.http.tls,
          pathPrefix: config.http.pathPrefix,
          bodyLimit: config.http.bodyLimit,
        },
        log,
        limits,
      );
      closers.push(h.close);
      out.httpPort = h.port;
    }
  } catch (e) {
    await out.close();
    throw e;
  }
  log.info(
    { grpcPort: out.grpcPort, httpPort: out.httpPort, routes: config.routes.length },
    'ext_authz serving',
  );
  return out;
}

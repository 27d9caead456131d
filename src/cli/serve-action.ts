// `cordon serve`: the configuration file under the flags, then the server until a signal.

import { loadConfig, parseConfig } from '../config/config.js';
import type { EngineKind } from '../core/compiled/index.js';
import { startServer } from '../runtime/start.js';

export interface ServeFlags {
  config?: string;
  policies?: string;
  port?: number;
  host?: string;
  data?: string;
  engine?: EngineKind;
}

export async function serve(o: ServeFlags, exit: (code: number) => void): Promise<void> {
  const config = await loadConfig(o.config);
  const merged = parseConfig(
    {
      ...config,
      ...(o.policies ? { policies: o.policies } : {}),
      ...(o.port !== undefined ? { port: o.port } : {}),
      ...(o.host ? { host: o.host } : {}),
      ...(o.data ? { data: o.data } : {}),
      ...(o.engine ? { engine: o.engine } : {}),
    },
    o.config ? `${o.config} with the command line` : 'the command line',
  );
  const server = await startServer(merged);
  const stop = async () => {
    await server.close();
    exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
  process.on('SIGHUP', () => void server.policies.reload());
}

// What `cordon compile` and `cordon run` use, in one module so that kernel-commands.ts can
// load it when one of them runs rather than when the command tree is built.

export { pino } from 'pino';
export { default as YAML } from 'yaml';
export { parseConfig } from '../config/config.js';
export { formatLocated } from '../core/source-location.js';
export { loadPolicyDir } from '../policy/load.js';
export { openPdp } from '../server/pdp.js';
export { compileKernelPlan, KERNEL_ACTIONS } from '../kernel/compiler.js';
export { enforcementOf } from '../kernel/enforcement.js';
export { toCilium, toKubeArmor, toTetragon } from '../kernel/export/exports.js';
export { buildLaunch } from '../kernel/launch.js';
export { formatReport } from '../kernel/report.js';
export { runSandboxed } from '../kernel/run.js';
export { combinedSource, serviceSource } from '../sandbox/isolation.js';

import type { IsolationSource } from '../sandbox/isolation.js';
import type { IsolationState } from '../store/ports.js';
import { callApi, type ApiTarget } from './api-client.js';

/**
 * `cordon run --follow`: the agent's isolation states as the PDP at `target.url` holds them
 * (GET /v1/isolation, decided as `readIsolation` for the caller). A server that cannot be
 * reached fails the read: the launch is refused, a running sandbox keeps the last states.
 */
export function followSource(target: ApiTarget, agent: string): IsolationSource {
  const path = `/v1/isolation?${new URLSearchParams({ agent })}`;
  return {
    store: {
      active: async () =>
        ((await callApi(target, path)) as { isolations: IsolationState[] }).isolations,
    },
  };
}

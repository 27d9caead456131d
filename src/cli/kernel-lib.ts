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
export { callApi } from './api-client.js';

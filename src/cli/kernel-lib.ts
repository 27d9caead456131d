// What `cordon compile` and `cordon run` use, in one module so that kernel-commands.ts can
// load it when one of them runs rather than when the command tree is built.

export { pino } from 'pino';
export { default as YAML } from 'yaml';
export { parseConfig } from '../config/config.js';
export { formatLocated } from '../core/source-location.js';
export { loadPolicyDir } from '../policy/load.js';
export { openPdp } from '../runtime/pdp.js';
export { compileKernelPlan, KERNEL_ACTIONS } from '../kernel/compiler.js';
export { enforcementOf } from '../kernel/enforcement.js';
export { toCilium, toKubeArmor, toTetragon } from '../kernel/export/exports.js';
export { buildLaunch } from '../kernel/launch.js';
export { formatReport } from '../kernel/report.js';
export { runSandboxed } from '../kernel/run.js';
export { combinedSource, serviceSource } from '../sandbox/isolation.js';

import type { IsolationSource } from '../sandbox/isolation.js';
import type { IsolationState } from '../store/ports.js';
import type { BaselineSummary } from '../risk/baseline-service.js';
import type { Pdp } from '../runtime/pdp.js';
import { callApi, type ApiTarget } from './api-client.js';

/**
 * `cordon run --follow`: the agent's isolation states as the PDP at `target.url` holds them.
 * A long poll (GET /v1/isolation?wait=20&since=TAG, decided as `readIsolation`) answers as soon
 * as they change, so a change is heard at once with one request per 20 s at rest. A server that
 * cannot be reached fails the read: the launch is refused, a running sandbox keeps the last
 * states (and the poll retries every second).
 */
export function followSource(target: ApiTarget, agent: string, waitSeconds = 20): IsolationSource {
  let latest: IsolationState[] | undefined;
  let tag: string | undefined;
  let error: Error | undefined;
  const fetchOnce = async (wait: number, signal?: AbortSignal) => {
    const q = new URLSearchParams({ agent });
    if (wait > 0 && tag !== undefined) {
      q.set('wait', String(wait));
      q.set('since', tag);
    }
    const body = (await callApi(target, `/v1/isolation?${q}`, signal ? { signal } : {})) as {
      isolations: IsolationState[];
      tag?: string;
    };
    latest = body.isolations;
    tag = body.tag;
    error = undefined;
  };
  const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
  return {
    store: {
      active: async () => {
        if (latest === undefined || error) await fetchOnce(0);
        return latest!;
      },
    },
    subscribe: (changed) => {
      const abort = new AbortController();
      void (async () => {
        while (!abort.signal.aborted) {
          const before = tag;
          try {
            await fetchOnce(waitSeconds, abort.signal);
            if (tag !== before) changed();
            // An older server answers at once: do not spin.
            else await pause(250);
          } catch (e) {
            if (abort.signal.aborted) return;
            error = e as Error;
            changed();
            await pause(1000);
          }
        }
      })();
      return () => abort.abort();
    },
  };
}

/** The destinations a baseline holds; undefined where it does not compare (learn mode, empty). */
const heldDestinations = (s: BaselineSummary) =>
  s.mode.mode === 'learn' || s.observations <= 0
    ? undefined
    : (s.dimensions.destination ?? []).map((d) => d.item);

/** For egress "baseline": the agent's baseline as the followed PDP holds it. */
export const followBaseline = (target: ApiTarget, agent: string) => async () =>
  heldDestinations(
    (await callApi(target, `/v1/baselines/${encodeURIComponent(agent)}`)) as BaselineSummary,
  );

/** For egress "baseline": the agent's baseline as `cordon run`'s own PDP holds it. */
export function ownBaseline(pdp: Pdp, agent: string) {
  const baselines = pdp.baselines;
  if (!baselines) return undefined;
  return async () => {
    const entity = pdp.policies.current().store.get('Agent', agent);
    const classes = (entity?.parents ?? []).filter((p) => p.type === 'AgentClass').map((p) => p.id);
    return heldDestinations(await baselines.summary(agent, classes));
  };
}

// What a request shows of an agent's behaviour, as baseline items per dimension: from what the
// enforcement points already send (the action, the resource, the tool's arguments, the paths it
// touches), plus the classifications of the data read. Identifiers and shapes only: a tool's
// arguments become the hash of their shape, a file path its directory prefix.

import { inputDestinations } from '../core/destination.js';
import { derivedAttrs } from '../core/engine.js';
import type { ActionRequest } from '../core/types.js';
import { argumentShape, pathPrefix, type Observation } from './baseline.js';

export interface ObserveOptions {
  /** Directory components kept of a file path (`/workspace/src/app` at 3). */
  pathDepth: number;
}

const NETWORK_ACTIONS = new Set(['connectNetwork', 'httpRequest', 'sendExternal']);

/** `host:port` as the egress proxy connects (normalized host), or undefined if not a destination. */
export function destinationOf(id: string): string | undefined {
  if (destinations.has(id)) return destinations.get(id);
  let out: string | undefined;
  try {
    const a = derivedAttrs('NetworkDestination', id);
    out = a.port === undefined ? String(a.host) : `${String(a.host)}:${String(a.port)}`;
  } catch {
    out = undefined;
  }
  if (destinations.size >= 10_000) destinations.clear();
  destinations.set(id, out);
  return out;
}

/** The destinations a tool call's arguments name, as `host:port` (or `host`) items. */
export function toolDestinations(input: unknown): string[] {
  const out = new Set<string>();
  for (const d of inputDestinations(input)) {
    const id =
      d.port === undefined ? d.host : `${d.host.includes(':') ? `[${d.host}]` : d.host}:${d.port}`;
    const n = destinationOf(id);
    if (n !== undefined) out.add(n);
  }
  return [...out];
}

/** Destination id → normalized: agents reach the same few hosts again and again. */
const destinations = new Map<string, string | undefined>();

/**
 * The items `request` touches. `labels`: the classifications of the resource (from entities.json
 * or the trusted PEP), which join the dataset dimension as `label:<classification>`.
 */
export function observe(
  request: ActionRequest,
  labels: readonly string[],
  opts: ObserveOptions,
): Observation {
  const { action, resource } = request;
  const obs: Observation = {};
  switch (resource.type) {
    case 'Tool':
      if (action === 'invokeTool') {
        obs.tool = [`${resource.id}#${argumentShape(request.input)}`];
        // A tool that posts to a URL reaches that host: learned as a destination, so a host
        // the agent never sent to is novel whichever tool (or connect) it goes through.
        const ds = toolDestinations(request.input);
        if (ds.length) obs.destination = ds;
      }
      break;
    case 'Model':
      obs.model = [resource.id];
      break;
    case 'NetworkDestination': {
      const d = destinationOf(resource.id);
      if (d !== undefined) obs.destination = [d];
      break;
    }
    case 'FilePath':
      obs.path = [`${action} ${pathPrefix(resource.id, opts.pathDepth)}`];
      break;
    case 'Field':
    case 'Dataset':
      obs.dataset = [`${resource.type}::${resource.id}`];
      break;
    case 'Agent':
      if (action === 'delegate') obs.delegate = [resource.id];
      break;
    default:
      if (NETWORK_ACTIONS.has(action)) {
        const d = destinationOf(resource.id);
        if (d !== undefined) obs.destination = [d];
      }
  }
  if (request.paths?.length) {
    const prefixes = new Set(
      request.paths.map((p) => `${action} ${pathPrefix(p, opts.pathDepth)}`),
    );
    obs.path = [...(obs.path ?? []), ...prefixes];
  }
  if (labels.length) obs.dataset = [...(obs.dataset ?? []), ...labels.map((l) => `label:${l}`)];
  return obs;
}

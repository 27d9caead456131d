// Isolation as the decision sees it (docs/risk-and-baselines.md, "Isolation"): the states in
// force for a request's agent, user and session merged into one set of facts (context.isolation),
// and the rule that refuses an action falling under one of its measures. Pure: the states come
// from a lookup port (src/isolation/ keeps them), so replay, which pins the recorded facts,
// refuses exactly what was refused.

import type { IsolationMeasures, IsolationState } from '../store/ports.js';
import type { Reason } from './types.js';

/** context.isolation: what is taken away from this request's principal, and why. */
export interface IsolationFacts {
  active: boolean;
  /** Every action is refused. */
  full: boolean;
  /** Only tools marked readOnly; no writeFile, no exec. */
  readOnly: boolean;
  /** "" (egress unchanged), "none" or "baseline" (only destinations the baseline holds). */
  egress: string;
  /** egress is "none" (or full): connectNetwork, httpRequest and sendExternal are refused. */
  noEgress: boolean;
  /** No delegate, no mintToken: token exchange is refused. */
  noDelegation: boolean;
  /** Tool ids (`server/tool`) or patterns with `*` whose invocation is refused. */
  revokedTools: string[];
  /** Why, from every state that applies ("; "-joined). */
  reason: string;
  /** Who applied them: a person, `policy:<id>` or `risk:<level>` (", "-joined). */
  by: string;
}

export const NOT_ISOLATED: IsolationFacts = Object.freeze({
  active: false,
  full: false,
  readOnly: false,
  egress: '',
  noEgress: false,
  noDelegation: false,
  revokedTools: [],
  reason: '',
  by: '',
}) as IsolationFacts;

/** Where the isolation stage looks states up: in memory, cheap (src/isolation/service.ts). */
export interface IsolationLookup {
  /** The states in force at `now` that cover this agent (and this user or session, if given). */
  statesFor(
    agent: string,
    user: string | undefined,
    session: string | undefined,
    now: Date,
  ): IsolationState[];
}

/** One set of facts from every state that applies: the union of what they take away. */
export function mergeIsolation(states: IsolationState[]): IsolationFacts | undefined {
  if (states.length === 0) return undefined;
  const m: IsolationMeasures = {};
  const tools = new Set<string>();
  for (const s of states) {
    const x = s.measures;
    for (const t of x.revokedTools ?? []) tools.add(t);
    if (x.full) m.full = true;
    if (x.readOnly) m.readOnly = true;
    if (x.noDelegation) m.noDelegation = true;
    // "none" is stricter than "baseline".
    if (x.egress === 'none' || (x.egress === 'baseline' && m.egress !== 'none'))
      m.egress = x.egress;
  }
  const full = m.full === true;
  const egress = full ? 'none' : (m.egress ?? '');
  return {
    active: true,
    full,
    readOnly: full || m.readOnly === true,
    egress,
    noEgress: egress === 'none',
    noDelegation: full || m.noDelegation === true,
    revokedTools: [...tools].sort(),
    reason: [...new Set(states.map((s) => s.reason))].join('; '),
    by: [...new Set(states.map((s) => s.by))].join(', '),
  };
}

/**
 * Whether a tool is covered by a revocation entry: its id exactly, a pattern where `*` is any
 * run (`github/*`: a whole server), or `ToolSet::<id>` for every tool in that set.
 */
export function toolRevoked(
  entries: readonly string[],
  tool: string,
  parents: readonly { type: string; id: string }[] = [],
): boolean {
  return entries.some((e) => {
    const set = /^ToolSet::"?([^"]*)"?$/.exec(e);
    if (set) return parents.some((p) => p.type === 'ToolSet' && p.id === set[1]);
    if (!e.includes('*')) return e === tool;
    const re = new RegExp(`^${e.split('*').map(escapeRegExp).join('.*')}$`, 's');
    return re.test(tool);
  });
}

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

const EGRESS_ACTIONS = new Set(['connectNetwork', 'httpRequest', 'sendExternal']);
const WRITE_ACTIONS = new Set(['writeFile', 'exec']);
const DELEGATION_ACTIONS = new Set(['delegate', 'mintToken']);
/** The actions about a tool: listing it, calling it, and reading what a call returned. */
const TOOL_ACTIONS = new Set(['listTools', 'invokeTool', 'readToolResult']);
/** Under read-only, a tool not marked read-only is neither listed nor called. */
const TOOL_USE = new Set(['listTools', 'invokeTool']);

export interface IsolatedResource {
  type: string;
  id: string;
  attrs: Record<string, unknown>;
  /** Its sets (the ancestor closure), for `ToolSet::<id>` revocations. */
  parents?: readonly { type: string; id: string }[];
}

/**
 * Which measure refuses this action, or undefined when the isolation leaves it alone.
 * `novelDestination`: whether the baseline has never seen the destination (egress "baseline");
 * unknown (no baseline facts) counts as novel, so the measure fails closed.
 * `reachesNetwork`: a tool call whose arguments name a destination (a `url`, `host`…): a post
 * through a tool is egress as much as a connect is.
 */
export function isolationMeasureFor(
  iso: IsolationFacts,
  action: string,
  resource: IsolatedResource,
  novelDestination?: boolean,
  reachesNetwork = false,
): string | undefined {
  if (!iso.active) return undefined;
  if (iso.full) return 'full isolation: every action is refused';
  const isTool = resource.type === 'Tool' && TOOL_ACTIONS.has(action);
  if (isTool && toolRevoked(iso.revokedTools, resource.id, resource.parents))
    return `tool ${resource.id} is revoked`;
  if (EGRESS_ACTIONS.has(action) || (action === 'invokeTool' && reachesNetwork)) {
    if (iso.egress === 'none') return 'network egress is cut';
    if (iso.egress === 'baseline' && novelDestination !== false)
      return `network egress is limited to the agent's baseline, which does not hold ${resource.id}`;
  }
  if (iso.readOnly) {
    if (WRITE_ACTIONS.has(action)) return `read-only: ${action} is refused`;
    if (TOOL_USE.has(action) && resource.type === 'Tool' && resource.attrs.readOnly !== true)
      return `read-only: tool ${resource.id} is not marked read-only`;
  }
  if (iso.noDelegation && DELEGATION_ACTIONS.has(action)) return 'delegation is refused';
  return undefined;
}

/** The reason a refused decision carries: which isolation, what it refuses, and why it was applied. */
export function isolationReason(iso: IsolationFacts, measure: string, subject: string): Reason {
  return {
    policy: 'cordon/isolation',
    effect: 'forbid',
    annotations: { by: iso.by },
    message: `${subject} is isolated (${measure}); applied by ${iso.by}: ${iso.reason}`,
  };
}

// The kernel compiler: from the Cedar policies, what one agent may do that the kernel can see
// (files read, written and executed; network destinations), as sets the kernel mechanisms can
// hold, with a report of which policy went where and where the kernel rule is approximate.
//
// Cedar's partial evaluation does the work Cedar should do: with the principal and action
// known and the resource unknown, it decides every scope and principal condition and leaves a
// residual over the resource. The residuals are then read as sets (pred.ts, sets.ts). No I/O.

import { cedar } from '../core/cedar.js';
import type { PolicyJson } from '../core/cedar.js';
import type { SlicedEntity } from '../core/entities.js';
import type { CompiledPolicySet, PolicyMeta } from '../core/policy-set.js';
import { scopeMatches } from '../core/scope.js';
import {
  ConditionTooLarge,
  dnf,
  MAX_CASES,
  patternText,
  policyPred,
  type Atom,
  type Conjunction,
} from './pred.js';
import {
  destDomain,
  pathDomain,
  setOps,
  type DestItem,
  type ItemSet,
  type PathItem,
  type SetOps,
  type Want,
} from './sets.js';

export const KERNEL_ACTIONS = ['readFile', 'writeFile', 'exec', 'connectNetwork'] as const;
export type KernelAction = (typeof KERNEL_ACTIONS)[number];

/**
 * exact: the kernel allows exactly what the policies allow (for what the kernel sees);
 * over: it allows more (the rest stays at the gateway); under: it refuses some of what the
 * policies allow (fail closed).
 */
export type Precision = 'exact' | 'over' | 'under' | 'over+under';

export interface ActionPlan<I> {
  action: KernelAction;
  allowed: ItemSet<I>;
  precision: Precision;
  notes: string[];
}

export type Layer = 'kernel' | 'kernel (approximate)' | 'gateway';

export interface PolicyReport {
  id: string;
  effect: 'permit' | 'forbid';
  file: string;
  layer: Layer;
  actions: KernelAction[];
  /** What it compiled to, or why it stays at the gateway. */
  notes: string[];
}

export interface KernelPlan {
  agent: string;
  policyVersion: string;
  readFile: ActionPlan<PathItem>;
  writeFile: ActionPlan<PathItem>;
  exec: ActionPlan<PathItem>;
  connectNetwork: ActionPlan<DestItem>;
  /** Every policy that applies to this agent, and where it is enforced. */
  policies: PolicyReport[];
}

export class KernelCompileError extends Error {}

interface DomainSpec<I> {
  type: string;
  ops: SetOps<I>;
  /** An atom as a set, or undefined when it is opaque in this domain. */
  atom(a: Atom, want: Want, notes: string[]): ItemSet<I> | undefined;
}

function fileSpec(set: CompiledPolicySet): DomainSpec<PathItem> {
  const ops = setOps(pathDomain);
  return {
    type: 'FilePath',
    ops,
    atom(a, want, notes) {
      switch (a.kind) {
        case 'is':
          return a.type === 'FilePath' ? ops.all : ops.none;
        case 'pathEq':
          return ops.of([{ kind: 'exact', s: a.path }]);
        case 'pathLike': {
          const p = a.pattern;
          const first = p.findIndex((e) => e === 'Wildcard');
          const lit = (els: typeof p) =>
            els.map((e) => (e === 'Wildcard' ? '' : e.Literal)).join('');
          if (first < 0) return ops.of([{ kind: 'exact', s: lit(p) }]);
          if (first === p.length - 1) return ops.of([{ kind: 'prefix', s: lit(p.slice(0, -1)) }]);
          notes.push(
            `path pattern "${patternText(p)}" has a wildcard before its end: the kernel holds ` +
              (want === 'upper' ? `everything under "${lit(p.slice(0, first))}"` : 'none of it'),
          );
          ops.inexact = true;
          return want === 'upper'
            ? ops.of([{ kind: 'prefix', s: lit(p.slice(0, first)) }])
            : ops.none;
        }
        case 'eq':
        case 'inSet': {
          const items = entityItems(set, 'FilePath', a, (e) =>
            typeof e.attrs.path === 'string'
              ? ({ kind: 'exact', s: e.attrs.path } as PathItem)
              : undefined,
          );
          return items && ops.of(items);
        }
        default:
          return undefined;
      }
    },
  };
}

function netSpec(set: CompiledPolicySet): DomainSpec<DestItem> {
  const ops = setOps(destDomain);
  return {
    type: 'NetworkDestination',
    ops,
    atom(a) {
      switch (a.kind) {
        case 'is':
          return a.type === 'NetworkDestination' ? ops.all : ops.none;
        case 'hostEq':
          return ops.of([{ host: a.host }]);
        case 'portEq':
          return ops.of([{ port: a.port }]);
        case 'hasPort':
          return ops.all; // every connection the kernel or the proxy sees has a port
        case 'inRange':
          return ops.of([{ cidr: a.cidr }]);
        case 'hasIp': // the host is an address: every address of either family
          return ops.of([{ cidr: '0.0.0.0/0' }, { cidr: '::/0' }]);
        case 'eq':
        case 'inSet': {
          const items = entityItems(set, 'NetworkDestination', a, (e) =>
            typeof e.attrs.host === 'string'
              ? {
                  host: e.attrs.host,
                  ...(typeof e.attrs.port === 'number' ? { port: e.attrs.port } : {}),
                }
              : undefined,
          );
          return items && ops.of(items);
        }
        default:
          return undefined;
      }
    },
  };
}

/** The listed entities of `type` that are (or are in) the atom's entity. */
function entityItems<I>(
  set: CompiledPolicySet,
  type: string,
  a: { kind: 'eq' | 'inSet'; type: string; id: string },
  item: (e: SlicedEntity) => I | undefined,
): I[] | undefined {
  const out: I[] = [];
  for (const ref of set.store.ofType(type)) {
    const e = set.store.get(ref.type, ref.id);
    if (!e) continue;
    const self = e.uid.type === a.type && e.uid.id === a.id;
    const inside = a.kind === 'inSet' && e.parents.some((p) => p.type === a.type && p.id === a.id);
    if (!self && !inside) continue;
    const i = item(e);
    if (i === undefined) return undefined;
    out.push(i);
  }
  return out;
}

interface Bounds<I> {
  lower: ItemSet<I>;
  upper: ItemSet<I>;
  /** Why lower and upper may differ (opaque conditions, patterns). */
  notes: string[];
}

function conjunctionBounds<I>(spec: DomainSpec<I>, conj: Conjunction): Bounds<I> {
  const { ops } = spec;
  let lower = ops.all;
  let upper = ops.all;
  const notes: string[] = [];
  for (const lit of conj) {
    let lo: ItemSet<I> | undefined;
    let hi: ItemSet<I> | undefined;
    if (lit.atom.kind === 'opaque') {
      notes.push(`reads ${lit.atom.why}`);
    } else {
      lo = spec.atom(lit.atom, 'lower', notes);
      hi = spec.atom(lit.atom, 'upper', []);
      if (lo === undefined || hi === undefined)
        notes.push(`tests ${describeAtom(lit.atom)}, which a ${spec.type} does not have`);
    }
    if (lo === undefined || hi === undefined) {
      lo = ops.none;
      hi = ops.all;
    }
    if (lit.negated) [lo, hi] = [ops.not(hi), ops.not(lo)];
    lower = ops.meet(lower, lo, 'lower');
    upper = ops.meet(upper, hi, 'upper');
  }
  return { lower, upper, notes };
}

function describeAtom(a: Atom): string {
  switch (a.kind) {
    case 'pathEq':
    case 'pathLike':
      return 'resource.path';
    case 'hostEq':
      return 'resource.host';
    case 'inRange':
    case 'hasIp':
      return 'resource.ip';
    case 'portEq':
    case 'hasPort':
      return 'resource.port';
    default:
      return a.kind;
  }
}

function sameSet<I>(a: ItemSet<I>, b: ItemSet<I>, key: (i: I) => string): boolean {
  return (
    a.co === b.co &&
    a.items.length === b.items.length &&
    a.items.every((x, i) => key(x) === key(b.items[i]!))
  );
}

function principalSlice(set: CompiledPolicySet, agent: string): SlicedEntity[] {
  const me = set.store.get('Agent', agent);
  if (!me) throw new KernelCompileError(`unknown agent "${agent}": not listed in entities.json`);
  const out: SlicedEntity[] = [me];
  for (const p of me.parents) {
    const e = set.store.get(p.type, p.id);
    if (e) out.push(e);
  }
  return out;
}

interface Residuals {
  decision: 'allow' | 'deny' | null;
  /** Policy id → residual (true for satisfied policies). */
  residuals: Map<string, PolicyJson | true>;
  errored: string[];
}

function partial(set: CompiledPolicySet, agent: string, action: string): Residuals {
  const staticPolicies: Record<string, string> = {};
  for (const p of set.policiesFor(action)) staticPolicies[p.id] = p.text;
  const r = cedar.isAuthorizedPartial({
    principal: { type: 'Agent', id: agent },
    action: { type: 'Action', id: action },
    resource: null,
    context: {},
    policies: { staticPolicies },
    entities: principalSlice(set, agent) as never,
  });
  if (r.type !== 'residuals') {
    throw new KernelCompileError(
      `partial evaluation of ${action} failed: ${r.errors.map((e) => e.message).join('; ')}`,
    );
  }
  const res = r.response;
  const residuals = new Map<string, PolicyJson | true>();
  for (const id of res.satisfied) residuals.set(id, true);
  for (const id of res.nontrivialResiduals) {
    const j = res.residuals[id];
    if (j) residuals.set(id, j);
  }
  return { decision: res.decision, residuals, errored: res.errored };
}

function contextReads(p: PolicyMeta): string {
  return p.contextKeys === 'all'
    ? 'context'
    : [...p.contextKeys].map((k) => `context.${k}`).join(', ') || 'its conditions';
}

function compileAction<I>(
  set: CompiledPolicySet,
  agent: string,
  action: KernelAction,
  spec: DomainSpec<I>,
  key: (i: I) => string,
  reports: Map<string, PolicyReport>,
): ActionPlan<I> {
  const { ops } = spec;
  const r = partial(set, agent, action);
  const notes: string[] = [];
  const report = (p: PolicyMeta, layer: Layer, note: string) => {
    let rep = reports.get(p.id);
    if (!rep) {
      rep = { id: p.id, effect: p.effect, file: p.file, layer, actions: [], notes: [] };
      reports.set(p.id, rep);
    }
    if (!rep.actions.includes(action)) rep.actions.push(action);
    const rank = { kernel: 0, 'kernel (approximate)': 1, gateway: 2 };
    if (rank[layer] > rank[rep.layer]) rep.layer = layer;
    rep.notes.push(`${action}: ${note}`);
  };
  let permitLo = ops.none;
  let permitHi = ops.none;
  let forbidLo = ops.none;
  let forbidHi = ops.none;

  /** A policy the kernel cannot analyze: the gateway keeps it, and the kernel fails closed. */
  const gatewayOnly = (p: PolicyMeta, why: string) => {
    if (p.effect === 'forbid') {
      forbidHi = ops.all;
      report(p, 'gateway', `${why}: the kernel cannot apply it`);
    } else {
      permitHi = ops.all;
      report(p, 'gateway', `${why}: not granted by the kernel (fail closed)`);
    }
  };

  for (const id of r.errored) {
    const p = set.policies.get(id);
    // Cordon denies when a forbid errors; with an empty context that means it reads context.
    if (p)
      gatewayOnly(
        p,
        `reads ${contextReads(p)}${p.effect === 'forbid' ? ', which only the gateway knows' : ''}`,
      );
  }

  for (const [id, residual] of r.residuals) {
    const p = set.policies.get(id);
    if (!p) continue;
    let conjs: Conjunction[];
    try {
      conjs = residual === true ? [[]] : dnf(policyPred(residual));
    } catch (e) {
      if (!(e instanceof ConditionTooLarge)) throw e;
      gatewayOnly(p, `its condition is too large to analyze (more than ${MAX_CASES} cases)`);
      continue;
    }
    let lo = ops.none;
    let hi = ops.none;
    const why: string[] = [];
    ops.inexact = false;
    for (const c of conjs) {
      const b = conjunctionBounds(spec, c);
      lo = ops.union(lo, b.lower, 'lower');
      hi = ops.union(hi, b.upper, 'upper');
      why.push(...b.notes);
    }
    const exact = !ops.inexact && sameSet(lo, hi, key);
    const describe = (s: ItemSet<I>) => describeSet(s, key);
    if (exact) {
      report(
        p,
        'kernel',
        p.effect === 'permit' ? `allows ${describe(lo)}` : `refuses ${describe(lo)}`,
      );
    } else if (sameSet(lo, ops.none, key) && why.length > 0) {
      report(
        p,
        'gateway',
        `${unique(why).join('; ')}: ` +
          (p.effect === 'permit'
            ? 'the kernel does not grant what it allows (fail closed)'
            : 'the kernel cannot refuse what it forbids; the gateway and the egress proxy do'),
      );
    } else {
      report(
        p,
        'kernel (approximate)',
        `${p.effect === 'permit' ? 'allows' : 'refuses'} ${describe(lo)} in the kernel` +
          (why.length ? `; ${unique(why).join('; ')}` : ''),
      );
    }
    if (p.effect === 'permit') {
      permitLo = ops.union(permitLo, lo, 'lower');
      permitHi = ops.union(permitHi, hi, 'upper');
    } else {
      forbidLo = ops.union(forbidLo, lo, 'lower');
      forbidHi = ops.union(forbidHi, hi, 'upper');
    }
  }

  if (r.decision === 'deny' && r.residuals.size === 0 && r.errored.length === 0) {
    notes.push('no policy permits it for this agent');
  }
  ops.inexact = false;
  // The kernel grants what a permit surely allows minus what a forbid surely refuses.
  const allowed = ops.minus(permitLo, forbidLo, 'upper');
  const carved = ops.inexact;
  const under = !sameSet(permitLo, permitHi, key);
  const over = carved || !sameSet(forbidLo, forbidHi, key);
  if (carved)
    notes.push(
      'a forbid removes part of an allowed path or destination range, which the kernel cannot ' +
        'carve out: the kernel allows the whole of it and the gateway enforces the exception',
    );
  if (under) notes.push('some permits depend on what only the gateway knows: not granted here');
  if (!sameSet(forbidLo, forbidHi, key))
    notes.push('some forbids depend on what only the gateway knows: enforced there, not here');
  return {
    action,
    allowed,
    precision: over && under ? 'over+under' : over ? 'over' : under ? 'under' : 'exact',
    notes,
  };
}

const unique = (xs: string[]) => [...new Set(xs)];

export function describeSet<I>(s: ItemSet<I>, key: (i: I) => string): string {
  if (s.co && s.items.length === 0) return 'everything';
  if (!s.co && s.items.length === 0) return 'nothing';
  const list = s.items.map(key).join(', ');
  return s.co ? `everything except ${list}` : list;
}

/** Compiles the policies that apply to one agent into kernel sets and a report. */
export function compileKernelPlan(set: CompiledPolicySet, agent: string): KernelPlan {
  const reports = new Map<string, PolicyReport>();
  const files = fileSpec(set);
  const net = netSpec(set);
  const pk = pathDomain.key;
  const plan: KernelPlan = {
    agent,
    policyVersion: set.version,
    readFile: compileAction(set, agent, 'readFile', files, pk, reports),
    writeFile: compileAction(set, agent, 'writeFile', files, pk, reports),
    exec: compileAction(set, agent, 'exec', files, pk, reports),
    connectNetwork: compileAction(set, agent, 'connectNetwork', net, destDomain.key, reports),
    policies: [],
  };
  // Policies for this agent whose actions the kernel never sees stay at the gateway.
  const me = principalSlice(set, agent)[0]!;
  for (const p of set.policies.values()) {
    if (reports.has(p.id) || !scopeMatches(p.json.principal, me)) continue;
    const acts = actionIds(p.json);
    if (acts === 'all' || acts.some((a) => (KERNEL_ACTIONS as readonly string[]).includes(a)))
      continue; // a kernel action whose residual was trivially false: not applicable
    reports.set(p.id, {
      id: p.id,
      effect: p.effect,
      file: p.file,
      layer: 'gateway',
      actions: [],
      notes: [`${acts.join(', ')}: only the gateway sees this action`],
    });
  }
  plan.policies = [...reports.values()].sort((a, b) =>
    a.layer === b.layer ? a.id.localeCompare(b.id) : a.layer.localeCompare(b.layer),
  );
  return plan;
}

function actionIds(json: PolicyJson): 'all' | string[] {
  const a = json.action as { op: string; entity?: unknown; entities?: unknown[] };
  if (a.op === 'All') return 'all';
  const id = (r: unknown) =>
    ((r as { __entity?: { id: string } }).__entity ?? (r as { id: string })).id;
  if (a.entities) return a.entities.map(id);
  return a.entity ? [id(a.entity)] : [];
}

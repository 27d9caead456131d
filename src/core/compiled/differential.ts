// Differential testing of the compiled evaluator against cedar-wasm: fast-check generates
// Cedar policy *text* (turned into JSON by cedar-wasm's policyToJson, as real policies are),
// entity stores and requests; both engines must agree on the decision, the determining
// policies and the erroring policies. Shared by the unit test and `npm run fuzz:cedar`.

import fc from 'fast-check';
import { cedar } from '../cedar.js';
import type { PolicyJson } from '../cedar.js';
import { EntityStore, type CedarEntity, type SlicedEntity } from '../entities.js';
import type { EntityRef } from '../types.js';
import { authorizeCompiled, compiledPolicy, Unsupported } from './index.js';
import type { PolicyMeta } from '../policy-set.js';

const USERS = ['alice', 'bob', 'carol'];
const GROUPS = ['g0', 'g1', 'g2'];
const DOCS = ['d0', 'd1', 'd2'];
const FOLDERS = ['f0', 'f1'];
const ACTIONS = ['read', 'write', 'admin'];
const ATTRS = ['n', 's', 'b', 'e', 'tags', 'rec', 'ip', 'dec', 'big', 'missing'];
const KEYS = ['n', 's', 'b', 'e', 'set', 'rec', 'ip', 'dec', 'when', 'dur', 'big', 'absent'];

const pick = <T>(xs: readonly T[]) => fc.constantFrom(...xs);
const q = (s: string) => JSON.stringify(s);

// ---- expressions, as Cedar text ----

const entityLit = fc.oneof(
  pick(USERS).map((u) => `User::${q(u)}`),
  pick(GROUPS).map((g) => `Group::${q(g)}`),
  pick(DOCS).map((d) => `Doc::${q(d)}`),
  pick(FOLDERS).map((f) => `Folder::${q(f)}`),
  fc.constant('User::"nobody"'),
  pick(ACTIONS).map((a) => `Action::${q(a)}`),
);
// Literals beyond 2^53 lose precision in policyToJson's JSON, so such a policy goes to
// cedar-wasm: rare here; overflow is reached through arithmetic on exact values instead.
const longLit = fc.oneof(
  { arbitrary: fc.integer({ min: -3, max: 5 }).map(String), weight: 12 },
  { arbitrary: pick(['9007199254740991', '3037000500', '-9007199254740991']), weight: 3 },
  { arbitrary: pick(['9223372036854775807', '-9223372036854775808']), weight: 1 },
);
const strLit = pick(['""', '"a"', '"abc"', '"a*c"', '"ok"', '"é"']);
const ipStr = pick([
  '"10.0.0.1"',
  '"10.0.0.0/8"',
  '"127.0.0.1"',
  '"224.1.2.3"',
  '"::1"',
  '"ff02::1"',
  '"2001:db8::/32"',
  '"192.168.1.300"',
  '"01.2.3.4"',
  '"1.2.3.4/33"',
  '"::ffff:1.2.3.4"',
  '"fe80::1/10"',
]);
const decStr = pick([
  '"1.0"',
  '"-2.5"',
  '"0.0001"',
  '"1.23456"',
  '"922337203685477.5807"',
  '"922337203685477.5808"',
  '"x"',
  '"3"',
]);
const dtStr = pick([
  '"2024-01-01"',
  '"2024-02-29T12:00:00Z"',
  '"2023-02-29"',
  '"2024-06-01T08:30:00.250+0200"',
  '"1969-12-31T23:59:59Z"',
  '"2024-01-01T24:00:00Z"',
  '"bad"',
]);
const durStr = pick([
  '"1h"',
  '"-1d2h"',
  '"30m"',
  '"1500ms"',
  '"2d3h4m5s6ms"',
  '"1m1h"',
  '""',
  '"9999999999999999d"',
]);

const likePat = pick(['"a*"', '"*c"', '"a\\*c"', '"*"', '""', '"*b*"', '"é"']);

type Gen = fc.Arbitrary<string>;

const exprs = fc.letrec<{
  bool: string;
  long: string;
  str: string;
  ent: string;
  set: string;
  rec: string;
  ext: string;
  any: string;
}>((tie) => {
  const any = tie('any') as Gen;
  const bool = tie('bool') as Gen;
  const long = tie('long') as Gen;
  const str = tie('str') as Gen;
  const ent = tie('ent') as Gen;
  const set = tie('set') as Gen;
  const rec = tie('rec') as Gen;
  const ext = tie('ext') as Gen;
  const attr = pick(ATTRS);
  const key = pick(KEYS);
  return {
    any: fc.oneof({ depthSize: 'small' }, bool, long, str, ent, set, rec, ext),
    bool: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      pick(['true', 'false']),
      pick(['context.b', 'principal.b', 'resource.b']),
      fc.tuple(any, any).map(([a, b]) => `(${a} == ${b})`),
      fc.tuple(any, any).map(([a, b]) => `(${a} != ${b})`),
      fc.tuple(bool, bool, pick(['&&', '||'])).map(([a, b, o]) => `(${a} ${o} ${b})`),
      fc.tuple(any, any, pick(['&&', '||'])).map(([a, b, o]) => `(${a} ${o} ${b})`),
      bool.map((a) => `!${a}`),
      fc.tuple(long, long, pick(['<', '<=', '>', '>='])).map(([a, b, o]) => `(${a} ${o} ${b})`),
      fc.tuple(ext, ext, pick(['<', '<=', '>', '>='])).map(([a, b, o]) => `(${a} ${o} ${b})`),
      fc.tuple(ent, fc.oneof(ent, set)).map(([a, b]) => `(${a} in ${b})`),
      fc
        .tuple(ent, pick(['User', 'Group', 'Doc', 'Folder', 'Action']))
        .map(([a, t]) => `(${a} is ${t})`),
      fc.tuple(ent, pick(['User', 'Doc']), ent).map(([a, t, b]) => `(${a} is ${t} in ${b})`),
      fc.tuple(fc.oneof(ent, rec, pick(['context'])), attr).map(([a, k]) => `(${a} has ${k})`),
      fc
        .tuple(pick(['context', 'principal', 'resource']), key, key)
        .map(([a, k, l]) => `(${a} has ${k}.${l})`),
      fc.tuple(str, likePat).map(([a, p]) => `(${a} like ${p})`),
      fc.tuple(set, any).map(([s, v]) => `${s}.contains(${v})`),
      fc
        .tuple(set, set, pick(['containsAll', 'containsAny']))
        .map(([a, b, m]) => `${a}.${m}(${b})`),
      set.map((s) => `${s}.isEmpty()`),
      fc.tuple(ent, str).map(([e, t]) => `${e}.hasTag(${t})`),
      fc
        .tuple(ext, pick(['isIpv4', 'isIpv6', 'isLoopback', 'isMulticast']))
        .map(([e, m]) => `${e}.${m}()`),
      fc.tuple(ext, ext).map(([a, b]) => `${a}.isInRange(${b})`),
      fc
        .tuple(ext, ext, pick(['lessThan', 'lessThanOrEqual', 'greaterThan', 'greaterThanOrEqual']))
        .map(([a, b, m]) => `${a}.${m}(${b})`),
      fc.tuple(bool, bool, bool).map(([c, a, b]) => `(if ${c} then ${a} else ${b})`),
    ),
    long: fc.oneof(
      { depthSize: 'small' },
      longLit,
      pick(['context.n', 'principal.n', 'resource.n', 'context.big', 'resource.big']),
      fc.tuple(long, long, pick(['+', '-', '*'])).map(([a, b, o]) => `(${a} ${o} ${b})`),
      long.map((a) => `(-${a})`),
      fc.tuple(ent, str).map(([e, t]) => `${e}.getTag(${t})`),
      fc
        .tuple(ext, pick(['toMilliseconds', 'toSeconds', 'toMinutes', 'toHours', 'toDays']))
        .map(([e, m]) => `${e}.${m}()`),
      fc.tuple(bool, long, long).map(([c, a, b]) => `(if ${c} then ${a} else ${b})`),
    ),
    str: fc.oneof(
      { depthSize: 'small' },
      strLit,
      pick(['context.s', 'principal.s', 'resource.s']),
      fc.tuple(ent, str).map(([e, t]) => `${e}.getTag(${t})`),
    ),
    ent: fc.oneof(
      { depthSize: 'small' },
      pick(['principal', 'resource', 'action']),
      entityLit,
      pick(['context.e', 'principal.e', 'resource.e', 'principal.e.e']),
    ),
    set: fc.oneof(
      { depthSize: 'small' },
      fc.array(any, { maxLength: 3 }).map((xs) => `[${xs.join(', ')}]`),
      fc.array(entityLit, { maxLength: 3 }).map((xs) => `[${xs.join(', ')}]`),
      pick(['context.set', 'principal.tags', 'resource.tags']),
    ),
    rec: fc.oneof(
      { depthSize: 'small' },
      fc
        .array(fc.tuple(pick(['a', 'b', 'n']), any), { maxLength: 3 })
        .map((kv) => `{${[...new Map(kv)].map(([k, v]) => `${k}: ${v}`).join(', ')}}`),
      pick(['context.rec', 'principal.rec', 'resource.rec', 'context']),
      fc.tuple(rec, pick(['a', 'b', 'n'])).map(([r, k]) => `${r}.${k}`),
    ),
    ext: fc.oneof(
      { depthSize: 'small' },
      ipStr.map((s) => `ip(${s})`),
      decStr.map((s) => `decimal(${s})`),
      dtStr.map((s) => `datetime(${s})`),
      durStr.map((s) => `duration(${s})`),
      pick([
        'context.ip',
        'context.dec',
        'context.when',
        'context.dur',
        'resource.ip',
        'principal.dec',
      ]),
      fc.tuple(ext, ext).map(([a, b]) => `${a}.offset(${b})`),
      fc.tuple(ext, ext).map(([a, b]) => `${a}.durationSince(${b})`),
      fc.tuple(ext, pick(['toDate', 'toTime'])).map(([e, m]) => `${e}.${m}()`),
      pick(['ip(context.s)', 'decimal(context.s)', 'datetime(context.s)', 'duration(context.s)']),
    ),
  };
});

const scopeEntity = (v: 'principal' | 'resource') =>
  v === 'principal'
    ? fc.oneof(
        pick(USERS).map((u) => `User::${q(u)}`),
        pick(GROUPS).map((g) => `Group::${q(g)}`),
        entityLit,
      )
    : fc.oneof(
        pick(DOCS).map((d) => `Doc::${q(d)}`),
        pick(FOLDERS).map((f) => `Folder::${q(f)}`),
        entityLit,
      );
const scope = (v: 'principal' | 'resource') =>
  fc.oneof(
    fc.constant(v),
    scopeEntity(v).map((e) => `${v} == ${e}`),
    scopeEntity(v).map((e) => `${v} in ${e}`),
    pick(v === 'principal' ? ['User', 'Group'] : ['Doc', 'Folder']).map((t) => `${v} is ${t}`),
    fc
      .tuple(pick(v === 'principal' ? ['User'] : ['Doc']), scopeEntity(v))
      .map(([t, e]) => `${v} is ${t} in ${e}`),
  );
const actionScope = fc.oneof(
  fc.constant('action'),
  pick(ACTIONS).map((a) => `action == Action::${q(a)}`),
  pick(ACTIONS).map((a) => `action in Action::${q(a)}`),
  fc
    .subarray(ACTIONS, { minLength: 1 })
    .map((as) => `action in [${as.map((a) => `Action::${q(a)}`).join(', ')}]`),
);

export const policyText = fc
  .tuple(
    pick(['permit', 'forbid']),
    scope('principal'),
    actionScope,
    scope('resource'),
    fc.array(fc.tuple(pick(['when', 'unless']), fc.oneof(exprs.bool, exprs.bool, exprs.any)), {
      maxLength: 2,
    }),
  )
  .map(
    ([effect, p, a, r, conds]) =>
      `${effect}(${p}, ${a}, ${r})${conds.map(([k, c]) => ` ${k} { ${c} }`).join('')};`,
  );

// ---- data ----

const extJson = fc.oneof(
  pick(['10.1.2.3', '127.0.0.1', '::1', '10.0.0.0/8', 'ff00::1']).map((a) => ({
    __extn: { fn: 'ip', arg: a },
  })),
  pick(['1.5', '-0.25', '100.0']).map((a) => ({ __extn: { fn: 'decimal', arg: a } })),
  pick(['2024-01-01', '2024-05-05T10:00:00Z']).map((a) => ({ __extn: { fn: 'datetime', arg: a } })),
  pick(['1h', '-30m', '1d']).map((a) => ({ __extn: { fn: 'duration', arg: a } })),
);
const uidJson = fc.oneof(
  pick(USERS).map((id) => ({ __entity: { type: 'User', id } })),
  pick(GROUPS).map((id) => ({ __entity: { type: 'Group', id } })),
  pick(DOCS).map((id) => ({ __entity: { type: 'Doc', id } })),
  fc.constant({ __entity: { type: 'User', id: 'nobody' } }),
);
const scalarJson = fc.oneof(
  fc.integer({ min: -3, max: 5 }),
  pick(['', 'a', 'abc', 'a*c', 'ok', '10.0.0.1', '1.5', '2024-01-01', '1h']),
  fc.boolean(),
);
// Kept shallow: cedar-wasm parses it on every call.
const anyJson: fc.Arbitrary<unknown> = fc.oneof(
  scalarJson,
  uidJson,
  fc.array(scalarJson, { maxLength: 2 }),
  fc.dictionary(
    pick(['a', 'b', 'n']),
    fc.oneof(
      scalarJson,
      uidJson,
      fc.array(fc.oneof(scalarJson, uidJson), { maxLength: 2 }),
      fc.dictionary(pick(['a', 'n']), scalarJson, { maxKeys: 2 }),
    ),
    { maxKeys: 3 },
  ),
);

/**
 * cedar-wasm parses every extension value of every entity and context on each call (tens of
 * µs each), so they are present now and then, not always: the budget buys more cases.
 */
const rare = <T>(arb: fc.Arbitrary<T>) =>
  fc.oneof({ arbitrary: fc.constant(undefined), weight: 3 }, { arbitrary: arb, weight: 1 });

const attrs = fc.record(
  {
    n: fc.integer({ min: -3, max: 5 }),
    s: scalarJson,
    b: fc.oneof(fc.boolean(), scalarJson),
    e: uidJson,
    tags: fc.array(fc.oneof(scalarJson, uidJson), { maxLength: 3 }),
    rec: anyJson,
    ip: rare(extJson),
    dec: rare(extJson),
    big: pick([2 ** 52, -(2 ** 52), 3037000500, 9007199254740991]),
  },
  { requiredKeys: [] },
);
const tags = fc.option(fc.dictionary(pick(['a', 'abc', 'ok', '']), scalarJson, { maxKeys: 3 }), {
  nil: undefined,
});

const ids = (type: string, pool: string[]) =>
  fc
    .subarray(pool, { maxLength: Math.min(2, pool.length) })
    .map((xs) => xs.map((id) => ({ type, id })));

export interface World {
  policies: string[];
  entities: CedarEntity[];
  requests: {
    principal: EntityRef;
    action: EntityRef;
    resource: EntityRef;
    context: Record<string, unknown>;
    extra: number[];
    omit: 'none' | 'principal' | 'resource';
  }[];
}

const entity = (type: string, id: string, parents: fc.Arbitrary<EntityRef[]>) =>
  fc.record({ attrs, parents, tags }).map(({ attrs: a, parents: p, tags: t }) => {
    const e: CedarEntity = { uid: { type, id }, attrs: a, parents: p };
    if (t) e.tags = t;
    return e;
  });

/** Cedar parses every attribute of every entity on each call: parents carry only a Long. */
const plainEntity = (type: string, id: string, parents: fc.Arbitrary<EntityRef[]>) =>
  fc
    .record({ n: fc.option(fc.integer({ min: -3, max: 5 }), { nil: undefined }), parents, tags })
    .map(({ n, parents: p, tags: t }) => {
      const e: CedarEntity = { uid: { type, id }, attrs: n === undefined ? {} : { n }, parents: p };
      if (t) e.tags = t;
      return e;
    });

export const world: fc.Arbitrary<World> = fc.record({
  policies: fc.array(policyText, { minLength: 1, maxLength: 6 }),
  entities: fc
    .tuple(
      fc.tuple(...USERS.map((u) => entity('User', u, ids('Group', GROUPS)))),
      // No cycles: a group's parents are later groups.
      fc.tuple(...GROUPS.map((g, i) => plainEntity('Group', g, ids('Group', GROUPS.slice(i + 1))))),
      fc.tuple(...DOCS.map((d) => entity('Doc', d, ids('Folder', FOLDERS)))),
      fc.tuple(...FOLDERS.map((f) => plainEntity('Folder', f, fc.constant([])))),
      fc.constant([
        {
          uid: { type: 'Action', id: 'read' },
          attrs: {},
          parents: [{ type: 'Action', id: 'admin' }],
        },
        {
          uid: { type: 'Action', id: 'write' },
          attrs: {},
          parents: [{ type: 'Action', id: 'admin' }],
        },
      ] as CedarEntity[]),
    )
    .map((groups) => groups.flat()),
  requests: fc.array(
    fc.record({
      principal: fc.oneof(
        pick(USERS).map((id) => ({ type: 'User', id })),
        fc.constant({ type: 'User', id: 'nobody' }),
        pick(GROUPS).map((id) => ({ type: 'Group', id })),
      ),
      action: pick(ACTIONS).map((id) => ({ type: 'Action', id })),
      resource: fc.oneof(
        pick(DOCS).map((id) => ({ type: 'Doc', id })),
        pick(FOLDERS).map((id) => ({ type: 'Folder', id })),
        fc.constant({ type: 'Doc', id: 'ghost' }),
      ),
      context: fc.record(
        {
          n: fc.integer({ min: -3, max: 5 }),
          s: scalarJson,
          b: fc.oneof(fc.boolean(), scalarJson),
          e: uidJson,
          set: fc.array(fc.oneof(scalarJson, uidJson), { maxLength: 3 }),
          rec: anyJson,
          ip: rare(extJson),
          dec: rare(extJson),
          when: rare(extJson),
          dur: rare(extJson),
          big: pick([2 ** 52, 9007199254740991, 3037000500, -(2 ** 53) + 1]),
        },
        { requiredKeys: [] },
      ),
      // The slice, as Cordon builds it: principal, resource, action, and a few others; now and
      // then the principal or resource is left out (so it is "not found").
      extra: fc.subarray([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], { maxLength: 3 }),
      omit: fc.oneof(
        { arbitrary: fc.constant('none' as const), weight: 6 },
        { arbitrary: pick(['principal', 'resource'] as const), weight: 1 },
      ),
    }),
    // Many requests per world: the policies and entities are parsed once for all of them.
    { minLength: 8, maxLength: 40 },
  ),
});

// ---- running one world through both engines ----

export interface Coverage {
  cases: number;
  worlds: number;
  policies: number;
  notCompilable: number;
  requestFallbacks: number;
  allow: number;
  deny: number;
  withErrors: number;
  erroringPolicies: number;
  determiningForbid: number;
  features: Record<string, number>;
}

export const newCoverage = (): Coverage => ({
  cases: 0,
  worlds: 0,
  policies: 0,
  notCompilable: 0,
  requestFallbacks: 0,
  allow: 0,
  deny: 0,
  withErrors: 0,
  erroringPolicies: 0,
  determiningForbid: 0,
  features: {},
});

/** Features by policy: `head` ones are read from the scope, the rest from the conditions. */
const FEATURES: [string, RegExp, 'head'?][] = [
  ['scope ==', /(principal|resource) ==/, 'head'],
  ['scope in', /(principal|resource) in /, 'head'],
  ['scope is', /(principal|resource) is \w+[,)]/, 'head'],
  ['scope is-in', /(principal|resource) is \w+ in/, 'head'],
  ['action ==', /action ==/, 'head'],
  ['action in [..]', /action in \[/, 'head'],
  ['when', /when \{/],
  ['unless', /unless \{/],
  ['==', / == /],
  ['!=', / != /],
  ['in', / in /],
  ['is', / is \w+\)/],
  ['is ... in', / is \w+ in /],
  ['has', / has \w+\)/],
  ['has a.b', / has \w+\.\w+/],
  ['like', / like /],
  ['if-then-else', /\(if .* then/],
  ['&&', / && /],
  ['||', / \|\| /],
  ['!', /!(?!=)/],
  ['negation', /\(-[a-z(]/],
  ['+', / \+ /],
  ['-', / - /],
  ['*', / \* /],
  ['< <= > >=', / (<|<=|>|>=) /],
  ['set literal', /\[/],
  ['record literal', /\{\w+: /],
  ['contains', /\.contains\(/],
  ['containsAll', /\.containsAll\(/],
  ['containsAny', /\.containsAny\(/],
  ['isEmpty', /\.isEmpty\(/],
  ['hasTag', /\.hasTag\(/],
  ['getTag', /\.getTag\(/],
  ['ip', /ip\(/],
  ['isIpv4/isIpv6', /\.isIpv[46]\(/],
  ['isLoopback', /\.isLoopback\(/],
  ['isMulticast', /\.isMulticast\(/],
  ['isInRange', /\.isInRange\(/],
  ['decimal', /decimal\(/],
  ['decimal lessThan etc.', /\.(lessThan|greaterThan)/],
  ['datetime', /datetime\(/],
  ['duration', /duration\(/],
  ['offset/durationSince', /\.(offset|durationSince)\(/],
  ['toDate/toTime', /\.to(Date|Time)\(/],
  ['duration toX()', /\.to(Milliseconds|Seconds|Minutes|Hours|Days)\(/],
  ['extension from data', /(context|principal|resource)\.(ip|dec|when|dur)/],
  ['constructor on data', /\((context\.s)\)/],
  ['i64 edge literal', /9223372036854775807|9223372036854775808/],
  ['big Long data', /\.big/],
  ['missing entity literal', /nobody/],
  ['entity attr of attr', /principal\.e\.e/],
];

export interface Mismatch {
  policies: string[];
  request: World['requests'][number];
  entities: SlicedEntity[];
  wasm: unknown;
  compiled: unknown;
}

let worldSeq = 0;

/** Runs every request of a world through both engines; returns the first disagreement. */
export function checkWorld(w: World, cov: Coverage): Mismatch | undefined {
  const metas: PolicyMeta[] = [];
  const staticPolicies: Record<string, string> = {};
  w.policies.forEach((text, i) => {
    const j = cedar.policyToJson(text);
    if (j.type !== 'success') throw new Error(`generator wrote an unparsable policy: ${text}`);
    const id = `p${i}`;
    staticPolicies[id] = text;
    metas.push({
      id,
      file: 'gen',
      effect: j.json.effect,
      annotations: {},
      text,
      json: j.json as PolicyJson,
      contextKeys: 'all',
    });
  });
  const compiled = metas.map((m) => compiledPolicy(m));
  cov.worlds++;
  cov.policies += metas.length;
  cov.notCompilable += compiled.filter((c) => !c.ok).length;
  for (const t of w.policies) {
    const cut = t.indexOf(')');
    for (const [name, re, where] of FEATURES)
      if (re.test(where === 'head' ? t.slice(0, cut) : t.slice(cut)))
        cov.features[name] = (cov.features[name] ?? 0) + 1;
  }

  const setId = `diff-${++worldSeq}`;
  const pre = cedar.preparsePolicySet(setId, { staticPolicies });
  if (pre.type !== 'success') throw new Error(`preparse failed: ${JSON.stringify(pre.errors)}`);
  try {
    const store = new EntityStore(w.entities);
    const all = w.entities.map((e) => store.get(e.uid.type, e.uid.id)!);
    for (const r of w.requests) {
      const extra = new Set(r.extra);
      const slice = all.filter((e, i) => {
        const is = (u: EntityRef) => e.uid.type === u.type && e.uid.id === u.id;
        if (is(r.principal)) return r.omit !== 'principal';
        if (is(r.resource)) return r.omit !== 'resource';
        return is(r.action) || extra.has(i);
      });
      const answer = cedar.statefulIsAuthorized({
        principal: r.principal,
        action: r.action,
        resource: r.resource,
        context: r.context as never,
        entities: slice as never,
        preparsedPolicySetId: setId,
      });
      cov.cases++;
      const wasm =
        answer.type === 'failure'
          ? { failure: true }
          : {
              allowed: answer.response.decision === 'allow',
              determining: [...answer.response.diagnostics.reason].sort(),
              errors: answer.response.diagnostics.errors.map((e) => e.policyId).sort(),
            };
      if ('failure' in wasm || compiled.some((c) => !c.ok)) {
        // Cedar rejected the request, or a policy is not compilable: Cordon asks cedar-wasm.
        cov.requestFallbacks++;
        continue;
      }
      let ours: unknown;
      try {
        const a = authorizeCompiled(
          compiled.map((c) => (c.ok ? c.policy : undefined)!),
          { ...r, entities: slice },
        );
        ours = {
          allowed: a.allowed,
          determining: a.determining,
          errors: a.errors.map((e) => e.policy),
        };
      } catch (e) {
        if (e instanceof Unsupported) {
          cov.requestFallbacks++;
          continue;
        }
        ours = { threw: String(e) };
      }
      if (JSON.stringify(ours) !== JSON.stringify(wasm))
        return { policies: w.policies, request: r, entities: slice, wasm, compiled: ours };
      if (wasm.allowed) cov.allow++;
      else cov.deny++;
      if (wasm.errors.length > 0) cov.withErrors++;
      cov.erroringPolicies += wasm.errors.length;
      if (wasm.determining.some((id) => metas.find((m) => m.id === id)?.effect === 'forbid'))
        cov.determiningForbid++;
    }
  } finally {
    cedar.preparsePolicySet(setId, { staticPolicies: {} });
  }
  return undefined;
}

/** Prints the coverage summary the fuzz script and the test report. */
export function formatCoverage(c: Coverage): string {
  const lines = [
    `cases ${c.cases} (worlds ${c.worlds}, policies ${c.policies})`,
    `compared ${c.allow + c.deny}: allow ${c.allow}, deny ${c.deny}, forbid-determined ${c.determiningForbid}`,
    `with erroring policies ${c.withErrors} (${c.erroringPolicies} policy errors)`,
    `left to cedar-wasm: ${c.notCompilable} policies not compilable, ${c.requestFallbacks} requests`,
    'policies exercising each feature:',
    ...Object.entries(c.features)
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => `  ${k.padEnd(28)} ${v}`),
  ];
  return lines.join('\n');
}

export interface RunResult {
  cov: Coverage;
  /** The shrunk counterexample, when the engines disagreed. */
  failure?: { seed: number; mismatch: Mismatch | undefined; message: string };
  ms: number;
}

/**
 * Runs worlds until `cases` requests were compared (or a disagreement is found and shrunk).
 * Seeds are `seed`, `seed + 1`, … per batch, so a run is reproducible.
 */
export function runDifferential(cases: number, seed: number, batch = 200): RunResult {
  const cov = newCoverage();
  const t0 = Date.now();
  for (let i = 0; cov.cases < cases; i++) {
    let last: Mismatch | undefined;
    const details = fc.check(
      fc.property(world, (w) => {
        const m = checkWorld(w, cov);
        if (m) last = m;
        return m === undefined;
      }),
      { numRuns: batch, seed: seed + i },
    );
    if (details.failed) {
      return {
        cov,
        failure: {
          seed: seed + i,
          mismatch: last,
          message: details.errorInstance ? String(details.errorInstance) : 'property failed',
        },
        ms: Date.now() - t0,
      };
    }
  }
  return { cov, ms: Date.now() - t0 };
}

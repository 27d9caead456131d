// `cordon baseline suggest AGENT`: least-privilege Cedar policies from what the agent was
// observed doing (its tools, models, destinations, file path prefixes per action, data read,
// delegation targets), validated against the serving schema, and a what-if over the agent's
// recorded decisions: how many the suggested set would flip if it replaced the permits that
// now apply to the agent. Text for a person to review and commit; nothing is applied.

import { reevaluate } from '../audit/replay.js';
import type { AuditRecord } from '../audit/record.js';
import { compilePolicySet, type PolicySources } from '../core/compile.js';
import type { CompiledPolicySet } from '../core/policy-set.js';
import type { Outcome } from '../core/types.js';
import type { Baseline, Dimension } from './baseline.js';

const NETWORK_ACTIONS = ['connectNetwork', 'httpRequest', 'sendExternal'];

/** A Cedar string literal. */
export function cedarString(s: string): string {
  let out = '"';
  for (const ch of s) {
    const code = ch.codePointAt(0)!;
    if (ch === '"' || ch === '\\') out += `\\${ch}`;
    else if (code < 0x20 || code === 0x7f) out += `\\u{${code.toString(16)}}`;
    else out += ch;
  }
  return `${out}"`;
}

/** A `like` pattern matching everything under `prefix` (a `*` in the prefix is literal). */
function under(prefix: string): string {
  const base = prefix.endsWith('/') ? prefix : `${prefix}/`;
  return `${cedarString(base).slice(0, -1).replace(/\*/g, '\\*')}*"`;
}

const ref = (type: string, id: string) => `${type}::${cedarString(id)}`;
const fmtCount = (n: number) => (n >= 10 ? n.toFixed(0) : n.toFixed(2));

interface Item {
  item: string;
  count: number;
}

function itemsOf(b: Baseline, dim: Dimension, now: number): Item[] {
  const m = b.items.get(dim);
  if (!m) return [];
  return [...m.keys()]
    .map((item) => ({ item, count: b.count(dim, item, now) }))
    .filter((i) => i.count > 0)
    .sort((x, y) => x.item.localeCompare(y.item));
}

/** Sums the counts of items that map to the same key (a tool called with several shapes). */
function grouped(items: Item[], key: (item: string) => string | undefined): Map<string, number> {
  const out = new Map<string, number>();
  for (const i of items) {
    const k = key(i.item);
    if (k !== undefined) out.set(k, (out.get(k) ?? 0) + i.count);
  }
  return out;
}

function policy(
  id: string,
  comment: string[],
  counted: Map<string, number>,
  head: string,
  describe: (k: string) => string,
  tail = ';',
): string {
  const lines = [...comment.map((c) => `// ${c}`)];
  for (const [k, n] of counted) lines.push(`//   ${describe(k)}  (${fmtCount(n)} decayed uses)`);
  lines.push(`@id(${cedarString(id)})`, head + tail);
  return lines.join('\n');
}

export interface Suggestion {
  text: string;
  policies: number;
}

/** The policies; `agent` is the Agent entity id. */
export function suggestPolicies(agent: string, b: Baseline, now: number): Suggestion {
  const who = `principal == ${ref('Agent', agent)}`;
  const out: string[] = [
    [
      `// Least-privilege policies suggested for Agent ${cedarString(agent)} from its baseline`,
      `// (${fmtCount(b.observations(now))} decayed allowed actions${b.empty ? '' : ` since ${new Date(b.first).toISOString()}`}).`,
      '// Review before committing: each permits only what the agent was observed doing.',
    ].join('\n'),
  ];
  const list = (type: string, keys: Iterable<string>) =>
    `[${[...keys].map((k) => ref(type, k)).join(', ')}]`;
  const entityPermit = (
    name: string,
    what: string,
    action: string,
    type: string,
    counted: Map<string, number>,
  ) => {
    if (counted.size === 0) return;
    out.push(
      policy(
        `baseline-${agent}-${name}`,
        [`${what} it used:`],
        counted,
        `permit (\n  ${who},\n  ${action},\n  resource is ${type}\n)\nwhen { resource in ${list(type, counted.keys())} }`,
        (k) => k,
      ),
    );
  };

  // Tools: the shapes are hashes (never arguments), so the permit names the tools.
  entityPermit(
    'tools',
    'Tools',
    'action == Action::"invokeTool"',
    'Tool',
    grouped(itemsOf(b, 'tool', now), (i) => i.slice(0, i.lastIndexOf('#'))),
  );
  entityPermit(
    'models',
    'Models',
    'action == Action::"callModel"',
    'Model',
    grouped(itemsOf(b, 'model', now), (i) => i),
  );
  entityPermit(
    'destinations',
    'Destinations (host:port)',
    `action in [${NETWORK_ACTIONS.map((a) => ref('Action', a)).join(', ')}]`,
    'NetworkDestination',
    grouped(itemsOf(b, 'destination', now), (i) => i),
  );
  // Data read: fields and datasets by id (classification labels are not resources).
  for (const [name, what, type] of [
    ['data', 'Data fields', 'Field'],
    ['datasets', 'Datasets', 'Dataset'],
  ] as const) {
    const prefix = `${type}::`;
    entityPermit(
      name,
      what,
      'action == Action::"readData"',
      type,
      grouped(itemsOf(b, 'dataset', now), (i) =>
        i.startsWith(prefix) ? i.slice(prefix.length) : undefined,
      ),
    );
  }
  entityPermit(
    'delegation',
    'Agents it delegated to',
    'action == Action::"delegate"',
    'Agent',
    grouped(itemsOf(b, 'delegate', now), (i) => i),
  );

  // Files: one policy per action, the directory prefixes it used.
  const byAction = new Map<string, Map<string, number>>();
  for (const { item, count } of itemsOf(b, 'path', now)) {
    const space = item.indexOf(' ');
    const action = item.slice(0, space);
    if (!['readFile', 'writeFile', 'exec'].includes(action)) continue; // tools' paths: the tool permit
    const m = byAction.get(action) ?? new Map<string, number>();
    m.set(item.slice(space + 1), (m.get(item.slice(space + 1)) ?? 0) + count);
    byAction.set(action, m);
  }
  for (const [action, prefixes] of byAction) {
    const conditions = [...prefixes.keys()].map((p) => `resource.path like ${under(p)}`);
    out.push(
      policy(
        `baseline-${agent}-${action}`,
        [`Directories it used with ${action}:`],
        prefixes,
        `permit (\n  ${who},\n  action == ${ref('Action', action)},\n  resource is FilePath\n)\nwhen { ${conditions.join(' || ')} }`,
        (k) => k,
      ),
    );
  }
  return { text: `${out.join('\n\n')}\n`, policies: out.length - 1 };
}

export interface Validation {
  valid: boolean;
  errors: string[];
}

/** Compiles the suggestion with the serving schema and entities (strict validation). */
export function validateSuggestion(text: string, serving: PolicySources): Validation {
  const r = compilePolicySet({
    ...withoutPolicies(serving),
    policies: [{ file: 'suggested.cedar', text }],
  });
  return r.ok
    ? { valid: true, errors: [] }
    : { valid: false, errors: r.errors.map((e) => `${e.file}:${e.line}:${e.col} ${e.message}`) };
}

const withoutPolicies = (s: PolicySources): Omit<PolicySources, 'policies'> => ({
  ...(s.schema ? { schema: s.schema } : {}),
  ...(s.entities ? { entities: s.entities } : {}),
});

/**
 * The serving set with the suggestion in place of every permit for the agent: each serving
 * permit gets `unless { principal == Agent::"…" }` (so it still applies to everyone else, the
 * users the agent acts for included), the forbids stay as they are.
 */
export function candidateSet(
  agent: string,
  serving: CompiledPolicySet,
  suggestion: string,
): CompiledPolicySet {
  const texts: string[] = [];
  for (const p of serving.policies.values()) {
    if (p.effect === 'forbid') texts.push(p.text);
    else
      texts.push(`${p.text.replace(/;\s*$/, '')}\nunless { principal == ${ref('Agent', agent)} };`);
  }
  const r = compilePolicySet({
    ...withoutPolicies(serving.sources),
    policies: [
      { file: 'serving.cedar', text: texts.join('\n\n') },
      { file: 'suggested.cedar', text: suggestion },
    ],
  });
  if (!r.ok)
    throw new Error(
      `the candidate set does not compile: ${r.errors.map((e) => `${e.file}:${e.line}:${e.col} ${e.message}`).join('; ')}`,
    );
  return r.set;
}

export interface SuggestWhatIf {
  /** The agent's recorded decisions replayed. */
  total: number;
  /** Those whose outcome the candidate changes. */
  flipped: number;
  /** "allow → deny": count, and a few examples. */
  transitions: Record<string, { count: number; examples: string[] }>;
}

/** Replays the agent's recorded decisions (events and other principals' left out). */
export async function whatIfSuggestion(
  agent: string,
  records: AsyncIterable<AuditRecord> | Iterable<AuditRecord>,
  candidate: CompiledPolicySet,
): Promise<SuggestWhatIf> {
  const report: SuggestWhatIf = { total: 0, flipped: 0, transitions: {} };
  for await (const rec of records) {
    if (rec.kind || rec.agent !== agent || rec.pep === 'control') continue;
    const r = await reevaluate(rec, candidate);
    report.total++;
    const before: Outcome = r.policiesGave;
    if (r.decision === before) continue;
    report.flipped++;
    const key = `${before} → ${r.decision}`;
    const t = (report.transitions[key] ??= { count: 0, examples: [] });
    t.count++;
    if (t.examples.length < 5)
      t.examples.push(
        `${rec.id} ${rec.action} ${rec.resource.type}::${cedarString(rec.resource.id)}`,
      );
  }
  return report;
}

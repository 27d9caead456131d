// The MCP gateway's default content hook: every tool result is inspected before the agent sees
// it. Field-level first: each classified field (a `Field` entity named like the JSON key) of a
// JSON result is decided as `readData` for the session's agent and user, and redacted when
// refused. Then, when some policy names `readToolResult`, the result's text is decided with
// its content findings in context.content: a refusal replaces the result, an allow applies
// the decision's redaction obligations. Any failure withholds the result (fail closed).

import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { ActionRequest, Decision } from '../core/types.js';
import { parseJsonText, redactFields } from '../inspect/fields.js';
import { redactionPlan } from '../inspect/obligations.js';
import { redactText } from '../inspect/redact.js';
import type { DecisionService } from '../server/decisions.js';
import type { ContentHook, ToolCallContext } from './gateway.js';

export const RESULT_ACTION = 'readToolResult';

function blocked(c: ToolCallContext, why: string, d?: Decision): CallToolResult {
  return {
    isError: true,
    content: [
      { type: 'text', text: `Cordon withheld the result of ${c.server}/${c.tool}: ${why}` },
    ],
    ...(d
      ? {
          _meta: {
            'cordon/decision': { id: d.decisionId, decision: d.decision, reasons: d.reasons },
          },
        }
      : {}),
  };
}

/** The identity and session of the call, for the decisions made about its result. */
function about(c: ToolCallContext, action: string, resource: ActionRequest['resource']) {
  const { agent, user, token, session, input } = c.request;
  return {
    ...(agent ? { agent } : {}),
    ...(user ? { user } : {}),
    ...(token ? { token } : {}),
    ...(session ? { session } : {}),
    ...(action === RESULT_ACTION && input !== undefined ? { input } : {}),
    action,
    resource,
    pep: 'mcp',
    parent: c.decision.decisionId,
  } satisfies ActionRequest;
}

async function fieldLevel(
  c: ToolCallContext,
  decisions: DecisionService,
  result: CallToolResult,
): Promise<CallToolResult> {
  const store = decisions.engine.policies.store;
  if (!store.hasType('Field')) return result;
  const policed = (k: string) => store.get('Field', k) !== undefined;
  // One decision per field per result, however many parts carry it.
  const asked = new Map<string, Promise<boolean>>();
  const mayRead = (field: string) => {
    let p = asked.get(field);
    if (!p) {
      p = decisions
        .decide(about(c, 'readData', { type: 'Field', id: field }))
        .then((d) => d.decision === 'allow');
      asked.set(field, p);
    }
    return p;
  };
  /** JSON text with refused fields redacted, or undefined when nothing changed. */
  const redactJsonText = async (text: string): Promise<string | undefined> => {
    const json = parseJsonText(text);
    if (!json) return undefined;
    const r = await redactFields(json, policed, mayRead);
    return r.redacted.length === 0
      ? undefined
      : JSON.stringify(r.value, null, text.includes('\n') ? 2 : 0);
  };
  // Text parts and embedded text resources alike: JSON is policed wherever it travels.
  const content = [...result.content];
  await Promise.all(
    contentTexts(content).map(async (slot) => {
      const text = await redactJsonText(slot.text);
      if (text !== undefined) slot.set(text);
    }),
  );
  const out: CallToolResult = { ...result, content };
  if (result.structuredContent) {
    const r = await redactFields(result.structuredContent, policed, mayRead);
    out.structuredContent = r.value as Record<string, unknown>;
  }
  return out;
}

/** The texts of a result Cordon inspects, and how to put redacted versions back. */
interface TextSlot {
  text: string;
  set(redacted: string): void;
}

/** Each text a result's content carries (text parts, embedded text resources), in `content`. */
function contentTexts(content: CallToolResult['content']): TextSlot[] {
  const slots: TextSlot[] = [];
  content.forEach((part, i) => {
    if (part.type === 'text')
      slots.push({ text: part.text, set: (t) => (content[i] = { ...part, text: t }) });
    else if (part.type === 'resource' && 'text' in part.resource) {
      const res = part.resource;
      slots.push({
        text: res.text,
        set: (t) => (content[i] = { ...part, resource: { ...res, text: t } }),
      });
    }
  });
  return slots;
}

/** Every text of a result, structured content included; `result` must own its content array. */
function textSlots(result: CallToolResult): TextSlot[] {
  const slots = contentTexts(result.content);
  const walk = (v: unknown, put: (x: unknown) => void) => {
    if (typeof v === 'string') slots.push({ text: v, set: put });
    // A card or phone number stored as a JSON number is still inspected (and becomes a string
    // only if it is redacted).
    else if (typeof v === 'number') slots.push({ text: String(v), set: put });
    else if (Array.isArray(v)) v.forEach((x, i) => walk(x, (y) => (v[i] = y)));
    else if (v && typeof v === 'object')
      for (const [k, x] of Object.entries(v))
        walk(x, (y) => ((v as Record<string, unknown>)[k] = y));
  };
  if (result.structuredContent) {
    result.structuredContent = structuredClone(result.structuredContent);
    walk(result.structuredContent, (x) => (result.structuredContent = x as never));
  }
  return slots;
}

async function contentLevel(
  c: ToolCallContext,
  decisions: DecisionService,
  input: CallToolResult,
  salt: string | undefined,
): Promise<CallToolResult> {
  if (!decisions.engine.policies.namesAction(RESULT_ACTION)) return input;
  const result: CallToolResult = { ...input, content: [...input.content] };
  const slots = textSlots(result);
  const sep = '\n';
  const text = slots.map((s) => s.text).join(sep);
  const d = await decisions.decide({
    ...about(c, RESULT_ACTION, c.request.resource),
    content: text,
  });
  if (d.decision !== 'allow') {
    const why = [...new Set(d.reasons.map((r) => r.policy))].join(', ');
    return blocked(
      c,
      `${d.decision === 'require_approval' ? 'it needs an approval' : 'denied'} (decision ${d.decisionId}): ${why}`,
      d,
    );
  }
  const plan = redactionPlan(d.obligations);
  if (plan.spans.length === 0) return input;
  let at = 0;
  for (const slot of slots) {
    const end = at + slot.text.length;
    const local = plan.spans
      .filter((s) => s.start < end && s.end > at)
      .map((s) => ({ ...s, start: Math.max(s.start, at) - at, end: Math.min(s.end, end) - at }));
    if (local.length > 0)
      slot.set(
        redactText(slot.text, local, { operator: plan.operator, ...(salt ? { salt } : {}) }),
      );
    at = end + sep.length;
  }
  return result;
}

export interface ResultInspectionOptions {
  /** The key of salted-hash redaction (default: random, one per process). */
  salt?: string;
}

export function inspectToolResults(
  decisions: DecisionService,
  o: ResultInspectionOptions = {},
): ContentHook {
  const salt = o.salt;
  return async (c) => {
    try {
      return await contentLevel(c, decisions, await fieldLevel(c, decisions, c.result), salt);
    } catch (e) {
      return blocked(c, `it could not be inspected (${(e as Error).message})`);
    }
  };
}

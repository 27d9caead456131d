// What MCP servers send the agent is inspected before the agent sees it: tool results, prompts
// (prompts/get), resource contents (resources/read) and notifications (logging, progress,
// resource updates). Every text of the payload is read (payload-texts.ts: every block type,
// `_meta`, structured content keys and values, decoded base64 text).
// Field-level first: each classified field (a `Field` entity, matched by name in any case or
// separator style, or by an alias; fields.ts) anywhere in the payload or in JSON inside its
// texts is decided as `readData` for the session's agent and user, and redacted when refused.
// Then, when some policy names `readToolResult`, the payload's texts, normalized for detection
// (detection-view.ts: unescaped, zero-width characters removed, NFKC, adjacent texts joined),
// are decided with their findings in context.content: a refusal withholds the payload, an
// allow applies the decision's redaction obligations to the original texts. Any failure
// withholds the payload (fail closed).

import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { ActionRequest, Decision } from '../../core/types.js';
import { detectionView, originalSpans } from '../../inspect/detection-view.js';
import {
  fieldMatcher,
  redactFields,
  redactFieldsInText,
  type FieldMatcher,
} from '../../inspect/fields.js';
import { redactionPlan } from '../../inspect/obligations.js';
import { redactText, type Span } from '../../inspect/redact.js';
import type { DecisionService } from '../../decision/service.js';
import type { ContentHook, ToolCallContext } from './gateway.js';
import { payloadTexts } from './payload-texts.js';
import { RESULT_ACTION } from '../../decision/result-action.js';

export { RESULT_ACTION };

/** Where a payload comes from: the request that let it through, and what to call it. */
export interface PayloadOrigin {
  /** "crm/echo", "prompt crm/summarize", … for messages. */
  label: string;
  /** The request that was allowed (identity, session, input), or one for the server. */
  request: ActionRequest;
  /** Its decision, when there was one: the parent of the decisions about the payload. */
  decision?: Decision;
}

export type Inspected<T> = { ok: true; value: T } | { ok: false; why: string; decision?: Decision };

/** The identity and session of the call, for the decisions made about its result. */
function about(o: PayloadOrigin, action: string, resource: ActionRequest['resource']) {
  const { agent, user, token, session, input } = o.request;
  return {
    ...(agent ? { agent } : {}),
    ...(user ? { user } : {}),
    ...(token ? { token } : {}),
    ...(session ? { session } : {}),
    ...(action === RESULT_ACTION && input !== undefined ? { input } : {}),
    action,
    resource,
    pep: 'mcp',
    ...(o.decision ? { parent: o.decision.decisionId } : {}),
  } satisfies ActionRequest;
}

type Store = DecisionService['engine']['policies']['store'];
const matchers = new WeakMap<Store, FieldMatcher>();

/** Field entities by id and alias, built once per entity store. */
function fieldsOf(store: Store): FieldMatcher {
  let m = matchers.get(store);
  if (!m) {
    m = fieldMatcher(
      store
        .ofType('Field')
        .map((r) => ({ id: r.id, aliases: store.get('Field', r.id)?.attrs.aliases })),
    );
    matchers.set(store, m);
  }
  return m;
}

async function fieldLevel(
  o: PayloadOrigin,
  decisions: DecisionService,
  payload: object,
): Promise<Inspected<object>> {
  const store = decisions.engine.policies.store;
  if (!store.hasType('Field')) return { ok: true, value: payload };
  const field = fieldsOf(store);
  // One decision per field per payload, however many parts carry it.
  const asked = new Map<string, Promise<boolean>>();
  const mayRead = (id: string) => {
    let p = asked.get(id);
    if (!p) {
      p = decisions
        .decide(about(o, 'readData', { type: 'Field', id }))
        .then((d) => d.decision === 'allow');
      asked.set(id, p);
    }
    return p;
  };
  const value = (await redactFields(payload, field, mayRead)).value as object;
  // JSON inside texts (whole, JSON Lines, after prose), and refused fields named outside it.
  for (const slot of payloadTexts(value)) {
    if (slot.binary || slot.joins === false) continue;
    const r = await redactFieldsInText(slot.text, field, mayRead);
    if (r.unlocated.length > 0)
      return {
        ok: false,
        why: `it names ${r.unlocated.join(', ')} where Cordon cannot tell which value is the field's`,
      };
    if (r.text !== undefined) slot.set(r.text);
  }
  return { ok: true, value };
}

async function contentLevel(
  o: PayloadOrigin,
  decisions: DecisionService,
  payload: object,
  resource: ActionRequest['resource'],
  salt: string | undefined,
): Promise<Inspected<object>> {
  if (!decisions.engine.policies.namesAction(RESULT_ACTION)) return { ok: true, value: payload };
  const slots = payloadTexts(payload);
  const view = detectionView(
    slots.map((s) => s.text),
    slots.map((s) => s.joins !== false),
  );
  const d = await decisions.decide({ ...about(o, RESULT_ACTION, resource), content: view.text });
  if (d.decision !== 'allow') {
    const why = [...new Set(d.reasons.map((r) => r.policy))].join(', ');
    return {
      ok: false,
      why: `${d.decision === 'require_approval' ? 'it needs an approval' : 'denied'} (decision ${d.decisionId}): ${why}`,
      decision: d,
    };
  }
  const plan = redactionPlan(d.obligations);
  if (plan.spans.length === 0) return { ok: true, value: payload };
  const perSlot = new Map<number, Span[]>();
  for (const span of plan.spans) {
    const parts = originalSpans(view, [span]);
    for (const s of parts) {
      // A key or protocol word is redacted only for a finding of its own, not one that
      // runs into it from the text beside it.
      if (parts.length > 1 && slots[s.text]!.joins === false) continue;
      const list = perSlot.get(s.text) ?? [];
      list.push({ start: s.start, end: s.end, type: s.type, detector: span.detector });
      perSlot.set(s.text, list);
    }
  }
  for (const [i, spans] of perSlot) {
    const slot = slots[i]!;
    slot.set(redactText(slot.text, spans, { operator: plan.operator, ...(salt ? { salt } : {}) }));
  }
  return { ok: true, value: payload };
}

export interface ResultInspectionOptions {
  /** The key of salted-hash redaction (default: random, one per process). */
  salt?: string;
}

/** Inspects and redacts any payload a server sends the agent; the caller's copy is not changed. */
export async function inspectPayload<T extends object>(
  decisions: DecisionService,
  origin: PayloadOrigin,
  payload: T,
  resource: ActionRequest['resource'],
  o: ResultInspectionOptions = {},
): Promise<Inspected<T>> {
  try {
    const fields = await fieldLevel(origin, decisions, structuredClone(payload));
    if (!fields.ok) return fields;
    return (await contentLevel(origin, decisions, fields.value, resource, o.salt)) as Inspected<T>;
  } catch (e) {
    return { ok: false, why: `it could not be inspected (${(e as Error).message})` };
  }
}

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

export function inspectToolResults(
  decisions: DecisionService,
  o: ResultInspectionOptions = {},
): ContentHook {
  return async (c) => {
    const r = await inspectPayload(
      decisions,
      { label: `${c.server}/${c.tool}`, request: c.request, decision: c.decision },
      c.result,
      c.request.resource,
      o,
    );
    return r.ok ? r.value : blocked(c, r.why, r.decision);
  };
}

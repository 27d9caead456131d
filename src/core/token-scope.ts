// Delegation token scopes: what a token may be used for, as a ceiling on top of Cedar.
// A scope is a space-separated list of items (OAuth style), each `action` or
// `action:Type` or `action:Type::"id"` or `action:Type::"prefix*"`; `*` as the action means any
// action. Each hop may only narrow: every item of a child scope must be covered by the parent's.

import type { ResourceRef } from './types.js';

type ResourcePattern =
  | { kind: 'any' }
  | { kind: 'type'; type: string }
  | { kind: 'exact'; type: string; id: string }
  | { kind: 'prefix'; type: string; prefix: string };

export interface ScopeItem {
  action: string;
  resource: ResourcePattern;
  text: string;
}

export class ScopeError extends Error {}

const ITEM = /^([A-Za-z_*][\w*-]*)(?::([A-Za-z_][\w:]*?)(?:::"((?:[^"\\]|\\.)*)")?)?$/;

function parseItem(text: string): ScopeItem {
  const m = ITEM.exec(text);
  if (!m)
    throw new ScopeError(
      `bad scope item "${text}": expected action, action:Type or action:Type::"id"`,
    );
  const [, action, type, rawId] = m;
  if (action!.includes('*') && action !== '*')
    throw new ScopeError(`bad scope item "${text}": the action is a name or *`);
  let resource: ResourcePattern = { kind: 'any' };
  if (type !== undefined && rawId === undefined) resource = { kind: 'type', type };
  if (type !== undefined && rawId !== undefined) {
    const id = rawId.replace(/\\(.)/g, '$1');
    resource =
      id.endsWith('*') && !rawId.endsWith('\\*')
        ? { kind: 'prefix', type, prefix: id.slice(0, -1) }
        : { kind: 'exact', type, id };
  }
  return { action: action!, resource, text };
}

/** Splits on whitespace outside quotes. */
export function parseScope(scope: string): ScopeItem[] {
  const items: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < scope.length; i++) {
    const c = scope[i]!;
    if (c === '\\' && quoted) {
      cur += c + (scope[++i] ?? '');
      continue;
    }
    if (c === '"') quoted = !quoted;
    if (/\s/.test(c) && !quoted) {
      if (cur) items.push(cur);
      cur = '';
    } else cur += c;
  }
  if (quoted) throw new ScopeError('unterminated quote in scope');
  if (cur) items.push(cur);
  if (items.length === 0) throw new ScopeError('empty scope');
  return items.map(parseItem);
}

function resourceCovers(a: ResourcePattern, b: ResourcePattern): boolean {
  switch (a.kind) {
    case 'any':
      return true;
    case 'type':
      return b.kind !== 'any' && b.type === a.type;
    case 'exact':
      return b.kind === 'exact' && b.type === a.type && b.id === a.id;
    case 'prefix':
      return (
        (b.kind === 'exact' && b.type === a.type && b.id.startsWith(a.prefix)) ||
        (b.kind === 'prefix' && b.type === a.type && b.prefix.startsWith(a.prefix))
      );
  }
}

const itemCovers = (a: ScopeItem, b: ScopeItem) =>
  (a.action === '*' || a.action === b.action) && resourceCovers(a.resource, b.resource);

/** The child items no parent item covers: empty when the child only narrows. */
export function widening(parent: ScopeItem[], child: ScopeItem[]): ScopeItem[] {
  return child.filter((c) => !parent.some((p) => itemCovers(p, c)));
}

/** Whether the scope lets the token be used for this action on this resource. */
export function scopeAllows(scope: ScopeItem[], action: string, resource: ResourceRef): boolean {
  const wanted: ScopeItem = {
    action,
    resource: { kind: 'exact', type: resource.type, id: resource.id },
    text: '',
  };
  return scope.some((s) => itemCovers(s, wanted));
}

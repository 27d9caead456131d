// How `cordon demo` prints: a header per story, each step with what was expected and observed
// and the decisions the layers recorded (PEP, action, resource, outcome, reasons, decision id),
// the pass/fail table, and the story list.

import type { Seen } from './env.js';
import type { Status, Story, StoryEvent, StoryResult } from './story.js';

const MARK: Record<Status, string> = { pass: '✔', fail: '✘', skip: '–' };

export function formatHeader(s: Story, n: number): string {
  return [`━━ ${n}. ${s.id}: ${s.title}`, `   seed: ${s.seed}`, ...wrap(s.summary, 96, '   ')].join(
    '\n',
  );
}

function wrap(text: string, width: number, indent: string): string[] {
  const lines: string[] = [];
  let line = '';
  for (const w of text.split(/\s+/)) {
    if (line && line.length + 1 + w.length > width) {
      lines.push(indent + line);
      line = w;
    } else line = line ? `${line} ${w}` : w;
  }
  if (line) lines.push(indent + line);
  return lines;
}

/** Identical decisions (a learning loop) are shown once with a count. */
function grouped(seen: Seen[]): { s: Seen; n: number }[] {
  const groups = new Map<string, { s: Seen; n: number }>();
  for (const s of seen) {
    const key = [
      s.pep,
      s.kind,
      s.agent,
      s.user,
      s.action,
      s.resource,
      s.decision,
      ...s.reasons,
    ].join('|');
    const g = groups.get(key);
    if (g) {
      g.n++;
      g.s = s;
    } else groups.set(key, { s, n: 1 });
  }
  return [...groups.values()];
}

/** Two lines per record: what was decided and why; then who, what the layer saw, the id. */
export function formatSeen(s: Seen, n = 1): string {
  const layer = (s.kind === 'launch' ? 'kernel' : s.pep).padEnd(15);
  const what = s.kind && s.kind !== 'launch' ? `${s.kind} ` : '';
  const reasons = s.why.length ? ` [${s.why.join(', ')}]` : '';
  const who = s.agent ? `${s.agent}${s.user ? ` for ${s.user}` : ''}` : s.user;
  const detail = [
    ...(who ? [who] : []),
    ...(s.saw.length ? [`saw ${s.saw.join(', ')}`] : []),
    `${n > 1 ? `${n} alike, last ` : ''}id ${s.id}`,
  ].join('; ');
  return `       ${layer} ${what}${s.action} ${s.resource} → ${s.decision}${reasons}\n       ${' '.repeat(15)} ${detail}`;
}

export function formatEvent(e: StoryEvent): string {
  if ('note' in e) return wrap(e.note, 96, '   · ').join('\n');
  const st = e.step;
  const lines = [
    `   ${MARK[st.status]} ${st.title}`,
    `       expected  ${st.expected}`,
    `       observed  ${st.observed}`,
  ];
  for (const { s, n } of grouped(st.seen)) lines.push(formatSeen(s, n));
  return lines.join('\n');
}

export function formatTable(results: StoryResult[]): string {
  const w = Math.max(5, ...results.map((r) => r.id.length));
  const rows = results.map((r) => {
    const counted = r.steps.filter((s) => s.status !== 'skip');
    const passed = counted.filter((s) => s.status === 'pass').length;
    const steps = r.status === 'skip' ? '-' : `${passed}/${counted.length}`;
    const note = r.status === 'skip' ? `  (${r.reason ?? ''})` : r.reason ? `  (${r.reason})` : '';
    return `${r.id.padEnd(w)}  ${r.status.toUpperCase().padEnd(4)}  ${steps.padStart(5)}  ${(r.ms / 1000).toFixed(1).padStart(5)}s  ${r.seed}${note}`;
  });
  const failed = results.filter((r) => r.status === 'fail').length;
  const skipped = results.filter((r) => r.status === 'skip').length;
  const passed = results.length - failed - skipped;
  return [
    `${'story'.padEnd(w)}  ${'result'}  steps   time   seed`,
    ...rows,
    `${passed} passed, ${failed} failed, ${skipped} skipped`,
  ].join('\n');
}

export function formatList(stories: Story[]): string {
  const w = Math.max(...stories.map((s) => s.id.length));
  return stories.map((s) => `${s.id.padEnd(w)}  ${s.title} (seed: ${s.seed})`).join('\n');
}

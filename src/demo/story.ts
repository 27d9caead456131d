// What a demo story is and how its steps are run and judged. A step does something as an agent
// would (a tool call, a token exchange, a model call, a sandboxed program) and says what it
// observed; the step passes when the observation is what the story expects and, when it names
// one, the guarding policy is among the reasons the log recorded. The records a step produced
// are read back from the audit log, so the report shows what each layer itself decided.

import type { AuditRecord } from '../audit/record.js';
import { seenOf, type DemoEnv, type Seen } from './env.js';

export type Status = 'pass' | 'fail' | 'skip';

export interface StepResult {
  title: string;
  expected: string;
  observed: string;
  status: Status;
  /** What the layers recorded while the step ran. */
  seen: Seen[];
}

export interface StoryResult {
  id: string;
  title: string;
  seed: string;
  status: Status;
  /** Why it was skipped or why it failed outside a step. */
  reason?: string;
  steps: StepResult[];
  ms: number;
}

/** What a step's action reports. */
export interface Observation {
  observed: string;
  ok: boolean;
  /** A policy that must be among the recorded reasons (the one the story is about). */
  reason?: string;
  /** Not checked on this machine (e.g. a kernel mechanism it lacks): why. */
  skip?: string;
}

export interface StoryContext {
  env: DemoEnv;
  step(title: string, expected: string, act: () => Promise<Observation>): Promise<Observation>;
  /** A line of narration in the story's output. */
  note(text: string): void;
  /** The records appended since the story started. */
  records(): Promise<AuditRecord[]>;
}

export interface Story {
  id: string;
  title: string;
  /** The problem statement it comes from (a file of the seeds). */
  seed: string;
  summary: string;
  /** Why this machine cannot run it (undefined when it can). */
  unavailable?(): Promise<string | undefined>;
  run(ctx: StoryContext): Promise<void>;
}

/** Narration and steps as they happen, for the printer. */
export type StoryEvent = { note: string } | { step: StepResult };

export async function runStory(
  story: Story,
  env: DemoEnv,
  onEvent: (e: StoryEvent) => void,
): Promise<StoryResult> {
  const started = Date.now();
  const result: StoryResult = {
    id: story.id,
    title: story.title,
    seed: story.seed,
    status: 'pass',
    steps: [],
    ms: 0,
  };
  const why = await story.unavailable?.();
  if (why) {
    result.status = 'skip';
    result.reason = why;
    result.ms = Date.now() - started;
    return result;
  }
  const storyMark = env.mark();
  const ctx: StoryContext = {
    env,
    note: (text) => onEvent({ note: text }),
    records: () => env.since(storyMark),
    async step(title, expected, act) {
      const mark = env.mark();
      let o: Observation;
      try {
        o = await act();
      } catch (e) {
        o = { observed: `error: ${(e as Error).message}`, ok: false };
      }
      const seen = env.isClosed ? [] : (await env.since(mark)).map(seenOf);
      let observed = o.observed;
      let ok = o.ok;
      if (ok && o.reason && !seen.some((s) => s.reasons.includes(o.reason!))) {
        ok = false;
        observed += ` (but policy ${o.reason} is not among the recorded reasons)`;
      }
      const step: StepResult = {
        title,
        expected,
        observed: o.skip ? `${observed} (not checked: ${o.skip})` : observed,
        status: o.skip ? 'skip' : ok ? 'pass' : 'fail',
        seen,
      };
      result.steps.push(step);
      onEvent({ step });
      return { ...o, ok };
    },
  };
  try {
    await story.run(ctx);
  } catch (e) {
    result.status = 'fail';
    result.reason = `the story stopped: ${(e as Error).message}`;
  }
  if (result.steps.some((s) => s.status === 'fail')) result.status = 'fail';
  result.ms = Date.now() - started;
  return result;
}

// runStage: a stage runs inside its span when a tracer is set, and as a plain call without one.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { initialFacts, runStage, type DecisionState, type Stage } from './pipeline.js';
import type { TracerPort } from './tracer.js';

const state = () =>
  ({
    request: { agent: 'bot', action: 'invokeTool', resource: { type: 'Tool', id: 't' } },
    facts: initialFacts(undefined),
    context: {},
    obligations: [],
  }) as unknown as DecisionState;

/** A tracer that records the names of the spans it opened, and whether each was open when run. */
function recordingTracer() {
  const names: string[] = [];
  let open = 0;
  const span = { set() {}, rename() {} };
  const tracer: TracerPort = {
    span(name, _options, fn) {
      names.push(name);
      open++;
      try {
        return fn(span);
      } finally {
        open--;
      }
    },
    spanFrom: (_c, name, options, fn) => tracer.span(name, options, fn),
    inject() {},
    active: () => undefined,
  };
  return { tracer, names, isOpen: () => open > 0 };
}

describe('runStage', () => {
  it('runs the stage inside a cordon.stage.<name> span when a tracer is set', async () => {
    const rec = recordingTracer();
    let insideSpan = false;
    const stage: Stage = {
      name: 'content',
      run: (s) => {
        insideSpan = rec.isOpen();
        s.context.seen = true;
      },
    };
    const s = state();
    await runStage(stage, s, rec.tracer);
    assert.deepEqual(rec.names, ['cordon.stage.content']);
    assert.equal(insideSpan, true);
    assert.equal(s.context.seen, true);
  });

  it('runs the stage as a plain call without a tracer, returning what it returns', async () => {
    const s = state();
    const stage: Stage = {
      name: 'session',
      run: async (st) => {
        st.denial = { policy: 'x', effect: 'forbid', annotations: {} };
      },
    };
    const out = runStage(stage, s, undefined);
    assert.ok(out instanceof Promise, 'an async stage is awaited by the caller, not here');
    await out;
    assert.equal(s.denial?.policy, 'x');
  });

  it('passes a stage failure on to the caller (which denies)', async () => {
    const stage: Stage = {
      name: 'boom',
      run: () => {
        throw new Error('inspector crashed');
      },
    };
    assert.throws(() => runStage(stage, state(), undefined), /inspector crashed/);
    const rec = recordingTracer();
    assert.throws(() => runStage(stage, state(), rec.tracer), /inspector crashed/);
  });
});

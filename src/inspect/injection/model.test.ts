import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InjectionModel, ModelTierError } from './model.js';

describe('injection model tier', () => {
  it('refuses to run without a local model path (it never downloads)', async () => {
    await assert.rejects(InjectionModel.load({}), ModelTierError);
    await assert.rejects(InjectionModel.load({ modelPath: 'protectai/deberta' }), /absolute/);
  });

  it('refuses a configured path when the runtime is not installed', async () => {
    await assert.rejects(
      InjectionModel.load({ modelPath: '/models/prompt-injection' }),
      /@huggingface\/transformers/,
    );
  });

  it('classifies a long text window by window', async () => {
    const seen: string[] = [];
    const model = await InjectionModel.load({ modelPath: '/models/x', window: 10 }, async () => {
      return async (text: string) => {
        seen.push(text);
        return [{ label: text.includes('evil') ? 'INJECTION' : 'SAFE', score: 0.97 }];
      };
    });
    const findings = await model.detect('0123456789evil567890');
    assert.deepEqual(seen, ['0123456789', 'evil567890']);
    assert.deepEqual(findings, [
      { detector: 'injection', type: 'model', start: 10, end: 20, score: 0.97 },
    ]);
  });
});

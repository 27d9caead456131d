import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EXAMPLE_POLICIES } from '../testing/fixtures.js';
import { loadPolicyDir } from '../policy/load.js';
import { Baseline, DEFAULT_PARAMS } from './baseline.js';
import { candidateSet, suggestPolicies, validateSuggestion } from './baseline-suggest.js';

const loaded = await loadPolicyDir(EXAMPLE_POLICIES);
if (!loaded.ok) throw new Error('example policies do not compile');
const serving = loaded.set;

describe('baseline suggest', () => {
  const b = new Baseline(DEFAULT_PARAMS, 0);
  b.add({ tool: ['fs/read_file#aaaa', 'fs/read_file#bbbb'] }, 1);
  b.add({ tool: ['crm/query#cccc'], path: ['invokeTool /workspace/tickets'] }, 2);
  b.add({ model: ['gpt-4o'] }, 3);
  b.add({ destination: ['hooks.example.com:443', '10.0.0.5:5432'] }, 4);
  b.add({ path: ['readFile /workspace/src', 'writeFile /tmp/a*b "q"'] }, 5);
  b.add({ dataset: ['Field::crm.email', 'Dataset::crm', 'label:pii'] }, 6);
  b.add({ delegate: ['search-agent'] }, 7);
  const s = suggestPolicies('support-bot', b, 10);

  it('covers every dimension it can name, and validates against the shipped schema', () => {
    assert.deepEqual(validateSuggestion(s.text, serving.sources), { valid: true, errors: [] });
    assert.equal(s.policies, 8);
    for (const id of [
      'tools',
      'models',
      'destinations',
      'data',
      'datasets',
      'delegation',
      'readFile',
      'writeFile',
    ])
      assert.match(s.text, new RegExp(`@id\\("baseline-support-bot-${id}"\\)`));
    // A tool called with two argument shapes is one tool; shapes and labels are not policies.
    assert.match(s.text, /resource in \[Tool::"crm\/query", Tool::"fs\/read_file"\]/);
    assert.doesNotMatch(s.text, /#aaaa|label:pii|invokeTool \/workspace/);
    // A * in a directory name is literal in the pattern; quotes are escaped.
    assert.match(s.text, /resource\.path like "\/tmp\/a\\\*b \\"q\\"\/\*"/);
  });

  it('the candidate set keeps every permit for everyone but the agent', async () => {
    const candidate = candidateSet('support-bot', serving, s.text);
    const { Engine } = await import('../core/engine.js');
    const engine = new Engine({ policies: { current: () => candidate } });
    const post = (agent: string, host: string) =>
      engine.decide({
        agent,
        action: 'sendExternal',
        resource: { type: 'NetworkDestination', id: host },
      });
    assert.equal((await post('support-bot', 'hooks.example.com:443')).decision, 'allow');
    assert.equal((await post('support-bot', 'other.example.com:443')).decision, 'deny');
    assert.equal((await post('support-bot-2', 'other.example.com:443')).decision, 'allow');
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { makeSecrets } from '../../inspect/fixtures/samples.js';
import { textRail } from './rail.js';
import { redactArgs, redactTree, textOfTree } from './text-walk.js';

const key = makeSecrets(3).aws;
const rail = textRail(['secrets'], []);
const REDACTED = '[REDACTED:AWS-ACCESS-TOKEN]';

describe('text walk', () => {
  it('redacts every string but identifiers, enums and opaque data, whatever the field', () => {
    const body = {
      id: key,
      type: 'message',
      future_field: { deeper: [`new text ${key}`] },
      signature: key,
      content: [{ type: 'text', text: `a ${key}` }],
    };
    assert.equal(redactTree(body, rail), true);
    assert.deepEqual(body, {
      id: key,
      type: 'message',
      future_field: { deeper: [`new text ${REDACTED}`] },
      signature: key,
      content: [{ type: 'text', text: `a ${REDACTED}` }],
    });
  });

  it("treats a typed block's input as data: every string in it is text", () => {
    const block = { type: 'tool_use', name: 'x', input: { name: key, id: key } };
    redactTree(block, rail);
    assert.deepEqual(block.input, { name: REDACTED, id: REDACTED });
  });

  it('keeps tool-call arguments JSON', () => {
    const out = redactArgs(JSON.stringify({ key, n: 1 }), rail);
    assert.deepEqual(JSON.parse(out), { key: REDACTED, n: 1 });
    assert.equal(redactArgs('{"ok":true}', rail), '{"ok":true}', 'untouched when clean');
  });

  it('redacts logprobs tokens as one text: the tokens still spell the redacted text', () => {
    const text = `the key is ${key} ok`;
    const tokens = text.match(/[\s\S]{1,3}/g)!;
    const body = {
      logprobs: {
        content: tokens.map((token) => ({
          token,
          bytes: [...Buffer.from(token)],
          top_logprobs: [{ token }],
        })),
      },
    };
    redactTree(body, rail);
    const out = body.logprobs.content;
    assert.equal(out.map((t) => t.token).join(''), `the key is ${REDACTED} ok`);
    for (const t of out) assert.deepEqual(t.bytes, [...Buffer.from(t.token)]);
    assert.ok(!JSON.stringify(out).includes(key.slice(4, 12)));
  });

  it('inspects every string of a request but ids and blobs', () => {
    const text = textOfTree({
      model: 'local/m',
      tools: [{ type: 'function', function: { name: 'f', description: 'tool text' } }],
      prediction: { type: 'content', content: 'predicted text' },
      messages: [
        {
          role: 'user',
          content: [{ type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } }],
        },
        {
          role: 'user',
          content: [
            {
              type: 'document',
              source: { type: 'text', media_type: 'text/plain', data: 'doc text' },
            },
          ],
        },
      ],
    });
    assert.deepEqual(text.split('\n').sort(), ['doc text', 'predicted text', 'tool text']);
  });
});

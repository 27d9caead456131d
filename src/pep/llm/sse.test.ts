import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { pumpSse, UpstreamIdle, type SseEvent } from './sse.js';

describe('pumpSse', () => {
  it('hands over the events of each chunk together, in order, until the stream ends', async () => {
    const body = new PassThrough();
    const batches: SseEvent[][] = [];
    const done = pumpSse(body, async (events) => void batches.push(events), 1000);
    body.write('data: one\n\ndata: two\n\nevent: x\ndata: thr');
    await sleep(5);
    body.end('ee\n\n');
    await done;
    assert.deepEqual(
      batches.map((b) => b.map((e) => e.data)),
      [['one', 'two'], ['three']],
    );
    assert.equal(batches[1]![0]!.event, 'x');
  });

  it('fails with UpstreamIdle when the upstream goes silent, and destroys the body', async () => {
    const body = new PassThrough();
    const done = pumpSse(body, async () => {}, 50);
    body.write('data: first\n\n');
    await assert.rejects(done, UpstreamIdle);
    assert.equal(body.destroyed, true);
  });

  it('does not count the time spent deciding the events as upstream silence', async () => {
    const body = new PassThrough();
    const seen: string[] = [];
    const done = pumpSse(
      body,
      async (events) => {
        seen.push(...events.map((e) => e.data));
        if (seen.length === 1) await sleep(150); // three idle periods: a slow tool-call decision
      },
      50,
    );
    body.write('data: slow\n\n');
    await sleep(120);
    body.end('data: after\n\n');
    await done;
    assert.deepEqual(seen, ['slow', 'after']);
  });

  it('passes on the error of a stream the upstream drops', async () => {
    const body = new PassThrough();
    const done = pumpSse(body, async () => {}, 1000);
    body.destroy(new Error('socket hang up'));
    await assert.rejects(done, /socket hang up/);
  });
});

// A client of a transparency-log witness (c2sp.org/tlog-witness): each checkpoint is POSTed to
// `<prefix>/add-checkpoint` with a consistency proof from the size the witness last cosigned.
// The witness refuses a checkpoint that is not consistent with what it saw (it keeps that state
// outside our reach), so a log rolled back or rewritten below a witnessed size can no longer
// get cosignatures: the failure is reported with the witness's answer.

import type { MerkleTree } from './merkle.js';
import type { CheckpointWitness } from './witness.js';

const TIMEOUT_MS = 10_000;
const SIGNATURE_LINE = /^— \S+ [A-Za-z0-9+/=]+$/u;

export class TlogWitness implements CheckpointWitness {
  /** The size the witness last cosigned for us, as far as we know (-1: not known yet). */
  size = -1;
  private readonly endpoint: string;

  constructor(
    prefix: string,
    private readonly origin: string,
  ) {
    this.endpoint = `${prefix.replace(/\/+$/u, '')}/add-checkpoint`;
  }

  get name(): string {
    return this.endpoint;
  }

  /** A tlog-witness has no read API in the spec: its state shows when we submit. */
  latest(): Promise<undefined> {
    return Promise.resolve(undefined);
  }

  /** Submits the checkpoint; returns the witness's cosignature lines. */
  async add(cp: { size: number; note: string }, tree: MerkleTree): Promise<string[]> {
    let old = Math.max(this.size, 0);
    // At most two tries: the first may learn the witness's size from a 409.
    for (let attempt = 0; attempt < 2; attempt++) {
      if (old > cp.size)
        throw new Error(
          `the witness cosigned ${this.origin} at size ${old}, but this log's checkpoint is at size ${cp.size}: the log was rolled back`,
        );
      const proof = old === 0 ? [] : tree.consistencyProof(old, cp.size);
      const body = `old ${old}\n${proof.map((h) => `${h.toString('base64')}\n`).join('')}\n${cp.note}`;
      const res = await fetch(this.endpoint, {
        method: 'POST',
        headers: { 'content-type': 'text/plain; charset=utf-8' },
        body,
        signal: AbortSignal.timeout(TIMEOUT_MS),
      });
      const text = await res.text();
      if (res.status === 200) {
        const lines = text.split('\n').filter((l) => l !== '');
        if (lines.length === 0 || !lines.every((l) => SIGNATURE_LINE.test(l)))
          throw new Error('the witness answered 200 without cosignature lines');
        this.size = cp.size;
        return lines;
      }
      if (
        res.status === 409 &&
        /^text\/x\.tlog\.size/u.test(res.headers.get('content-type') ?? '')
      ) {
        const size = Number(text.trim());
        if (!Number.isSafeInteger(size) || size < 0)
          throw new Error(`the witness answered 409 with a bad size "${text.trim()}"`);
        if (size === old)
          throw new Error(
            `the witness holds another root for ${this.origin} at size ${size}: the log was rewritten`,
          );
        old = size;
        continue;
      }
      const reason: Record<number, string> = {
        403: 'the witness does not accept this log key',
        404: `the witness does not know the log ${this.origin}`,
        422: 'the witness rejected the consistency proof: the log was rewritten',
      };
      throw new Error(
        `HTTP ${res.status}${reason[res.status] ? `: ${reason[res.status]}` : ''} ${text.trim().slice(0, 200)}`.trim(),
      );
    }
    throw new Error('the witness keeps answering 409');
  }
}

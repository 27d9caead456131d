// A transparency-log witness for tests, speaking c2sp.org/tlog-witness `add-checkpoint` (no
// witness is published on npm). It trusts one log key, keeps the newest checkpoint it cosigned,
// refuses what is not consistent with it, and answers with a c2sp.org/tlog-cosignature line.

import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { verifyConsistency } from '../audit/merkle.js';
import { openCheckpoint, type NoteKey } from '../audit/note.js';

export interface TestWitness {
  url: string;
  /** The newest checkpoint it cosigned. */
  state: { size: number; root: Buffer } | undefined;
  /** Every answer's status, in order. */
  statuses: number[];
  close(): Promise<void>;
}

const NAME = 'witness.test/w1';

export async function startTlogWitness(logKey: NoteKey): Promise<TestWitness> {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const raw = Buffer.from(publicKey.export({ format: 'jwk' }).x!, 'base64url');
  // tlog-cosignature: key id = SHA-256(name || 0x0A || 0x04 || public key)[:4].
  const id = createHash('sha256')
    .update(NAME)
    .update(Buffer.from([0x0a, 0x04]))
    .update(raw)
    .digest()
    .subarray(0, 4);
  const witness: TestWitness = {
    url: '',
    state: undefined,
    statuses: [],
    close: () => new Promise((r) => server.close(() => r())),
  };
  const answer = (
    res: import('node:http').ServerResponse,
    status: number,
    body: string,
    type = 'text/plain',
  ) => {
    witness.statuses.push(status);
    res.writeHead(status, { 'content-type': type }).end(body);
  };
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/add-checkpoint') return answer(res, 404, '');
      const lines = body.split('\n');
      const old = /^old (0|[1-9]\d*)$/.exec(lines[0] ?? '');
      const blank = lines.indexOf('', 1);
      if (!old || blank < 0) return answer(res, 400, 'malformed request');
      const proof = lines.slice(1, blank).map((l) => Buffer.from(l, 'base64'));
      const note = lines.slice(blank + 1).join('\n');
      const origin = note.split('\n')[0];
      if (origin !== logKey.name) return answer(res, 404, 'unknown log');
      const opened = openCheckpoint(note, logKey);
      if (!opened.ok) return answer(res, 403, opened.reason);
      const cp = opened.checkpoint;
      const oldSize = Number(old[1]);
      if (oldSize > cp.size) return answer(res, 400, 'old size above the checkpoint size');
      const known = witness.state?.size ?? 0;
      if (oldSize !== known) return answer(res, 409, `${known}\n`, 'text/x.tlog.size');
      const consistent =
        oldSize === 0
          ? proof.length === 0
          : verifyConsistency(oldSize, cp.size, proof, witness.state!.root, cp.root);
      if (oldSize === cp.size && witness.state && !witness.state.root.equals(cp.root))
        return answer(res, 409, `${known}\n`, 'text/x.tlog.size');
      if (!consistent) return answer(res, 422, 'consistency proof does not verify');
      witness.state = { size: cp.size, root: cp.root };
      const time = BigInt(Math.floor(Date.now() / 1000));
      const text = note.slice(0, note.indexOf('\n\n') + 1);
      const sig = sign(null, Buffer.from(`cosignature/v1\ntime ${time}\n${text}`), privateKey);
      const stamp = Buffer.alloc(8);
      stamp.writeBigUInt64BE(time);
      answer(res, 200, `— ${NAME} ${Buffer.concat([id, stamp, sig]).toString('base64')}\n`);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  witness.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return witness;
}

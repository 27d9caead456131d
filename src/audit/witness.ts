// Witnesses: places outside the data directory that receive every checkpoint the log signs, so
// that a rewrite or a rollback of the log below a witnessed size is caught (on start, and by
// `cordon audit verify --checkpoint`). Two kinds: an append-only file (witness-file.ts), and a
// transparency-log witness speaking c2sp.org/tlog-witness (tlog-witness.ts).

import type { MerkleTree } from './merkle.js';
import { TlogWitness } from './tlog-witness.js';
import { appendWitnessFile, lastWitnessed } from './witness-file.js';

export interface WitnessConfig {
  /** A file every checkpoint is appended to. */
  file?: string | undefined;
  /** A tlog-witness submission prefix: checkpoints go to `<url>/add-checkpoint`. */
  url?: string | undefined;
}

export interface CheckpointWitness {
  readonly name: string;
  /** The size of the newest checkpoint this witness holds from us (-1: none, or not known). */
  readonly size: number;
  /** The newest checkpoint it holds, when it can say (read on start). */
  latest(): Promise<string | undefined>;
  /**
   * Hands it a checkpoint of `tree`, which proves consistency from what it holds. Resolves with
   * the witness's cosignature lines, if it gives any.
   */
  add(cp: { size: number; note: string }, tree: MerkleTree): Promise<string[] | void>;
}

class FileWitness implements CheckpointWitness {
  size = -1;
  constructor(private readonly file: string) {}

  get name(): string {
    return this.file;
  }

  async latest(): Promise<string | undefined> {
    const note = await lastWitnessed(this.file);
    if (note !== undefined) {
      const size = Number(note.split('\n')[1]);
      if (Number.isSafeInteger(size)) this.size = size;
    }
    return note;
  }

  async add(cp: { size: number; note: string }): Promise<void> {
    await appendWitnessFile(this.file, cp.note);
    this.size = cp.size;
  }
}

export function openWitnesses(
  config: WitnessConfig | undefined,
  origin: string,
): CheckpointWitness[] {
  const witnesses: CheckpointWitness[] = [];
  if (config?.file) witnesses.push(new FileWitness(config.file));
  if (config?.url) witnesses.push(new TlogWitness(config.url, origin));
  return witnesses;
}

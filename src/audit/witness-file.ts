// A witness file: every checkpoint the log signs, appended (and synced) to a file outside the
// data directory, kept by another party or made append-only (chattr +a, a WORM mount). The log
// checks itself against the newest note there on start, and `cordon audit verify --checkpoint`
// checks consistency with every note in it. Each note is followed by a blank line.

import { open, readFile } from 'node:fs/promises';
import { splitNotes } from './note.js';

/** Appends one signed note and waits until it is on disk. */
export async function appendWitnessFile(file: string, note: string): Promise<void> {
  const fh = await open(file, 'a', 0o644);
  try {
    await fh.write(`${note}\n`);
    await fh.datasync();
  } finally {
    await fh.close();
  }
}

/** Every note in a witness file (or in a file holding one saved checkpoint). */
export async function readWitnessFile(file: string): Promise<string[]> {
  try {
    return splitNotes(await readFile(file, 'utf8'));
  } catch (e) {
    throw new Error(`${file}: ${(e as Error).message}`);
  }
}

/**
 * The newest note in a witness file, read from its end (the file grows by a note a second while
 * decisions arrive, so it is never read whole here). Undefined when the file does not exist or
 * holds no note.
 */
export async function lastWitnessed(file: string): Promise<string | undefined> {
  let fh;
  try {
    fh = await open(file, 'r');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  try {
    const size = (await fh.stat()).size;
    for (let chunk = 16 * 1024; ; chunk *= 4) {
      const offset = Math.max(0, size - chunk);
      const buf = Buffer.alloc(size - offset);
      await fh.read(buf, 0, buf.length, offset);
      const lines = buf.toString('utf8').split('\n');
      // A note starts after a blank line, with a line that is not a signature. The first line
      // of the chunk is whole only at the start of the file.
      for (let i = lines.length - 1; i >= 0; i--) {
        const starts =
          lines[i] !== '' &&
          !lines[i]!.startsWith('— ') &&
          (i === 0 ? offset === 0 : lines[i - 1] === '' && (i - 1 > 0 || offset === 0));
        if (starts) {
          try {
            return splitNotes(lines.slice(i).join('\n'))[0];
          } catch (e) {
            throw new Error(`${file}: ${(e as Error).message}`);
          }
        }
      }
      if (offset === 0) return undefined;
    }
  } finally {
    await fh.close();
  }
}

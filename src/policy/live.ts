// A policy set that follows its directory: edits are compiled in full and swapped in with one
// assignment; a broken edit leaves the last good set serving and reports the error.

import { EventEmitter } from 'node:events';
import { watch, type FSWatcher } from 'chokidar';
import type { CompiledPolicySet } from '../core/policy-set.js';
import type { PolicyProvider } from '../core/engine.js';
import { formatLocated, type LocatedError } from '../core/source-location.js';
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import {
  ENTITIES_FILE,
  loadPolicyDir,
  PolicyDirError,
  SCHEMA_FILE,
  type LoadOptions,
} from './load.js';

export class PolicyLoadError extends Error {
  constructor(readonly errors: LocatedError[]) {
    super(errors.map(formatLocated).join('\n'));
  }
}

export interface LivePolicyEvents {
  reload: [{ version: string; previous: string; policies: number }];
  error: [PolicyLoadError];
}

/** How long a replaced set stays preparsed for requests that started before the swap. */
const RETIRE_AFTER_MS = 30_000;

export class LivePolicySet extends EventEmitter<LivePolicyEvents> implements PolicyProvider {
  private set: CompiledPolicySet;
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private reloading: Promise<void> = Promise.resolve();
  lastError: PolicyLoadError | undefined;

  private constructor(
    /** The directory served; a bundle moves it to each verified version's (switchTo). */
    public dir: string,
    initial: CompiledPolicySet,
    private readonly options: LoadOptions,
    /** The optional files (schema, entities) the serving set was built with. */
    private files: Set<string>,
  ) {
    super();
    this.set = initial;
  }

  /** Loads the directory; a set that does not compile is an error here (nothing to fall back on). */
  static async open(dir: string, options: LoadOptions = {}): Promise<LivePolicySet> {
    const files = await presentFiles(dir);
    return new LivePolicySet(dir, await compileOrThrow(dir, options), options, files);
  }

  current(): CompiledPolicySet {
    return this.set;
  }

  /**
   * Starts following the directory (debounced, so an editor's save burst is one reload).
   * Resolves once the watcher is ready: edits from then on are seen.
   */
  async watch(debounceMs = 150): Promise<this> {
    const watcher = watch(this.dir, {
      ignoreInitial: true,
      ignored: (p) => /(^|[/\\])\.[^/\\]/.test(p.slice(this.dir.length)),
    });
    this.watcher = watcher;
    watcher.on('all', () => {
      clearTimeout(this.timer);
      this.timer = setTimeout(() => void this.reload(), debounceMs);
    });
    await new Promise<void>((resolve) => watcher.once('ready', resolve));
    return this;
  }

  /** Recompiles now. Resolves either way; failures are emitted and kept in lastError. */
  reload(): Promise<void> {
    this.reloading = this.reloading.then(async () => {
      let next: CompiledPolicySet;
      let files: Set<string>;
      try {
        files = await presentFiles(this.dir);
        // A file the serving set was built with is gone: most likely a deploy caught halfway
        // (a set without entities.json or its schema would decide very differently). Removing
        // one on purpose takes a restart, which loads the directory as it is.
        const vanished = [...this.files].filter((f) => !files.has(f));
        if (vanished.length > 0)
          throw new PolicyLoadError(
            vanished.map((f) => ({
              file: f,
              message:
                'vanished since the serving set was loaded; the last good set keeps serving ' +
                '(to remove it on purpose, restart)',
            })),
          );
        next = await compileOrThrow(this.dir, this.options);
      } catch (e) {
        this.lastError =
          e instanceof PolicyLoadError
            ? e
            : new PolicyLoadError([{ file: this.dir, message: (e as Error).message }]);
        this.emit('error', this.lastError);
        return;
      }
      this.lastError = undefined;
      this.files = files;
      const previous = this.set;
      if (next.version === previous.version) {
        next.dispose();
        return;
      }
      this.set = next; // the swap: one assignment, so no request ever sees half a set
      setTimeout(() => previous.dispose(), RETIRE_AFTER_MS).unref();
      this.emit('reload', {
        version: next.version,
        previous: previous.version,
        policies: next.size,
      });
    });
    return this.reloading;
  }

  /**
   * Serves the set in another directory (a verified policy bundle's), compiled in full first:
   * on failure the current set keeps serving, the error is emitted and kept in lastError, and
   * false is returned. Files may differ from the current set's: a bundle is a whole set.
   */
  switchTo(dir: string): Promise<boolean> {
    let switched = false;
    this.reloading = this.reloading.then(async () => {
      let next: CompiledPolicySet;
      let files: Set<string>;
      try {
        files = await presentFiles(dir);
        next = await compileOrThrow(dir, this.options);
      } catch (e) {
        this.lastError =
          e instanceof PolicyLoadError
            ? e
            : new PolicyLoadError([{ file: dir, message: (e as Error).message }]);
        this.emit('error', this.lastError);
        return;
      }
      this.lastError = undefined;
      this.dir = dir;
      this.files = files;
      switched = true;
      const previous = this.set;
      if (next.version === previous.version) {
        next.dispose();
        return;
      }
      this.set = next;
      setTimeout(() => previous.dispose(), RETIRE_AFTER_MS).unref();
      this.emit('reload', {
        version: next.version,
        previous: previous.version,
        policies: next.size,
      });
    });
    return this.reloading.then(() => switched);
  }

  async close(): Promise<void> {
    clearTimeout(this.timer);
    await this.watcher?.close();
  }
}

async function compileOrThrow(dir: string, options: LoadOptions): Promise<CompiledPolicySet> {
  let result;
  try {
    result = await loadPolicyDir(dir, options);
  } catch (e) {
    if (e instanceof PolicyDirError) throw new PolicyLoadError([{ file: dir, message: e.message }]);
    throw e;
  }
  if (!result.ok) throw new PolicyLoadError(result.errors);
  return result.set;
}

/** Which of the optional files (schema.cedarschema, entities.json) the directory holds. */
async function presentFiles(dir: string): Promise<Set<string>> {
  const out = new Set<string>();
  for (const f of [SCHEMA_FILE, ENTITIES_FILE]) {
    try {
      await access(join(dir, f));
      out.add(f);
    } catch {
      // absent
    }
  }
  return out;
}

// Serving a policy set from a signed bundle (bundle.ts): fetched from an http(s) URL or read
// from a file, verified against the configured verifier key, written under DATA/bundles and
// served, then polled for a new version. A bundle that does not verify or does not compile is
// never served: the last good set keeps serving and the error is reported (/healthz, metrics),
// as for a broken edit of a policy directory. The last verified tarball is kept, so a node that
// restarts while the bundle server is down starts on it (verified again) instead of not at all.

import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { EventEmitter } from 'node:events';
import type { NoteKey } from '../audit/note.js';
import { readVerifierKey } from '../audit/keys.js';
import { BUNDLE_LIMITS, BundleError, openBundle, writeBundleDir } from './bundle.js';
import { LivePolicySet } from './live.js';
import type { LoadOptions } from './load.js';

/** `policies` names a bundle (an http(s) URL or a .tar.gz/.tgz file), not a directory. */
export function isBundleSource(policies: string): boolean {
  return /^https?:\/\//i.test(policies) || /\.(tar\.gz|tgz)$/i.test(policies);
}

export interface BundleStatus {
  source: string;
  /** The version serving (the policy set's sha256). */
  version: string;
  /** When the source was last read successfully (ISO time). */
  lastFetch?: string;
  /** Why the newest bundle is not serving (fetch, signature, digest, compile), if it is not. */
  error?: string;
}

export interface BundleFollowerEvents {
  /** A bundle was fetched but refused, or could not be fetched. */
  refused: [Error];
}

const FETCH_TIMEOUT_MS = 15_000;

/** The bundle's bytes, from a URL (bounded in size and time) or a file. */
export async function readBundleSource(source: string): Promise<Buffer> {
  if (!/^https?:\/\//i.test(source)) return readFile(source);
  const res = await fetch(source, { signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) });
  if (!res.ok) throw new BundleError(`GET ${source}: HTTP ${res.status}`);
  const declared = Number(res.headers.get('content-length') ?? 0);
  if (declared > BUNDLE_LIMITS.totalBytes) throw new BundleError(`${source}: bundle is too large`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of res.body ?? []) {
    size += (c as Uint8Array).length;
    if (size > BUNDLE_LIMITS.totalBytes) throw new BundleError(`${source}: bundle is too large`);
    chunks.push(Buffer.from(c as Uint8Array));
  }
  return Buffer.concat(chunks);
}

export interface BundleOptions {
  source: string;
  /** The verifier key text, or a file holding it. */
  publicKey: string;
  dataDir: string;
  pollSeconds: number;
  load: LoadOptions;
}

export class PolicyBundleFollower extends EventEmitter<BundleFollowerEvents> {
  private timer: NodeJS.Timeout | undefined;
  private checking: Promise<void> = Promise.resolve();
  private lastFetch: Date | undefined;
  error: string | undefined;

  private constructor(
    readonly policies: LivePolicySet,
    private readonly key: NoteKey,
    private readonly o: BundleOptions,
  ) {
    super();
  }

  private static dirs(dataDir: string) {
    const root = join(dataDir, 'bundles');
    return { root, last: join(root, 'last.tar.gz') };
  }

  /**
   * Fetches and verifies the bundle and serves it. When the source cannot be read or its bundle
   * is refused, the last verified bundle in the data directory serves instead (verified again);
   * with neither, this throws: there is no policy set to serve.
   */
  static async open(o: BundleOptions): Promise<PolicyBundleFollower> {
    let key: NoteKey;
    try {
      key = await readVerifierKey(o.publicKey);
    } catch (e) {
      throw new BundleError(`policyBundle.publicKey: ${(e as Error).message}`);
    }
    const d = PolicyBundleFollower.dirs(o.dataDir);
    let fresh: Buffer | undefined;
    let problem: string | undefined;
    let opened;
    try {
      fresh = await readBundleSource(o.source);
      opened = await openBundle(fresh, key);
    } catch (e) {
      problem = (e as Error).message;
      try {
        opened = await openBundle(await readFile(d.last), key);
      } catch (cached) {
        const why =
          (cached as NodeJS.ErrnoException).code === 'ENOENT'
            ? 'no verified bundle was kept from an earlier start'
            : `the kept bundle is refused too: ${(cached as Error).message}`;
        throw new BundleError(`policy bundle ${o.source}: ${problem}; ${why}`);
      }
    }
    const dir = await writeBundleDir(d.root, opened);
    const policies = await LivePolicySet.open(dir, o.load);
    // A refused version is reported by check() (status, 'refused'); the set's own error event
    // must not go unheard, which would throw.
    policies.on('error', () => {});
    const f = new PolicyBundleFollower(policies, key, o);
    if (problem === undefined) {
      f.lastFetch = new Date();
      await f.keep(fresh!);
    } else f.error = `${problem} (serving the bundle kept from an earlier start)`;
    return f;
  }

  /** The verified tarball that serves, kept for the next start. */
  private async keep(tarball: Buffer): Promise<void> {
    const d = PolicyBundleFollower.dirs(this.o.dataDir);
    await mkdir(d.root, { recursive: true });
    const tmp = `${d.last}.tmp-${process.pid}`;
    await writeFile(tmp, tarball);
    await rename(tmp, d.last);
  }

  /** Looks for a new version every pollSeconds. */
  start(): this {
    this.timer = setInterval(() => void this.check(), this.o.pollSeconds * 1000);
    this.timer.unref();
    return this;
  }

  /** Fetches once; a new verified version that compiles replaces the serving set. */
  check(): Promise<void> {
    this.checking = this.checking.then(async () => {
      try {
        const tarball = await readBundleSource(this.o.source);
        this.lastFetch = new Date();
        const opened = await openBundle(tarball, this.key);
        if (opened.version !== this.policies.current().version) {
          const previous = this.policies.dir;
          const dir = await writeBundleDir(PolicyBundleFollower.dirs(this.o.dataDir).root, opened);
          if (!(await this.policies.switchTo(dir))) {
            await rm(dir, { recursive: true, force: true });
            throw new BundleError(
              `bundle ${opened.version} does not compile: ${this.policies.lastError?.message}`,
            );
          }
          await this.keep(tarball);
          // The compiled set is in memory; the old version's files are not read again.
          if (previous !== dir) await rm(previous, { recursive: true, force: true });
        }
        this.error = undefined;
      } catch (e) {
        this.error = (e as Error).message;
        this.emit('refused', e as Error);
      }
    });
    return this.checking;
  }

  status(): BundleStatus {
    return {
      source: this.o.source,
      version: this.policies.current().version,
      ...(this.lastFetch ? { lastFetch: this.lastFetch.toISOString() } : {}),
      ...(this.error ? { error: this.error } : {}),
    };
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.checking;
    await this.policies.close();
  }
}

/**
 * The policy set `cordon serve` serves: the directory `policies` names (followed for edits when
 * `watch`), or the bundle it names (polled), verified with `policyBundle.publicKey`.
 */
export async function openPolicySource(
  config: {
    policies: string;
    data: string;
    policyBundle?: { publicKey: string; pollSeconds: number } | undefined;
  },
  load: LoadOptions,
): Promise<{ policies: LivePolicySet; bundle?: PolicyBundleFollower }> {
  if (!isBundleSource(config.policies))
    return { policies: await LivePolicySet.open(config.policies, load) };
  if (!config.policyBundle)
    throw new BundleError(
      `policies is a bundle (${config.policies}): set policyBundle.publicKey, the verifier key it must be signed with`,
    );
  const bundle = await PolicyBundleFollower.open({
    source: config.policies,
    publicKey: config.policyBundle.publicKey,
    pollSeconds: config.policyBundle.pollSeconds,
    dataDir: config.data,
    load,
  });
  return { policies: bundle.policies, bundle };
}

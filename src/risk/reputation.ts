// Destination reputation: a file of known-bad hosts, domains and address ranges, one per line
// (`#` starts a comment). A name covers itself and every name under it (`evil.example` covers
// `a.evil.example`); an address or CIDR range covers the addresses in it. The file is followed
// like the policy directory: an edit is parsed in full and swapped in; a file that no longer
// parses (or vanished) keeps the last good list serving and is reported.

import { EventEmitter } from 'node:events';
import { readFile } from 'node:fs/promises';
import { BlockList, isIP } from 'node:net';
import { watch, type FSWatcher } from 'chokidar';
import { destinationHost } from '../core/destination.js';
import type { ReputationLookup } from './score.js';

export interface ReputationProblem {
  line: number;
  message: string;
}

/** Host names as the resolver takes them: labels of letters, digits, hyphens and underscores. */
const NAME =
  /^(?=.{1,253}$)(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?\.)*[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/;

/** What inet_aton could read as an IPv4 address (decimal, octal, hex parts): core/destination.ts. */
const NUMERIC = /^(?:0x[0-9a-f]*|\d+)(?:\.(?:0x[0-9a-f]*|\d+))*$/i;
const MEMO_SIZE = 4096;

export class ReputationList implements ReputationLookup {
  private readonly names = new Set<string>();
  private readonly ranges = new BlockList();
  /** Each range as written, to say which entry an address matched. */
  private readonly rangeEntries: { entry: string; list: BlockList }[] = [];
  size = 0;

  /** Parses the file's text: every problem, with its line, or the list. */
  static parse(text: string): ReputationList | ReputationProblem[] {
    const list = new ReputationList();
    const problems: ReputationProblem[] = [];
    text.split(/\r?\n/).forEach((raw, i) => {
      const entry = raw.replace(/#.*/, '').trim().toLowerCase();
      if (entry === '') return;
      const why = list.add(entry);
      if (why) problems.push({ line: i + 1, message: `"${raw.trim()}": ${why}` });
    });
    return problems.length > 0 ? problems : list;
  }

  private add(entry: string): string | undefined {
    const slash = entry.indexOf('/');
    if (slash >= 0) {
      const addr = entry.slice(0, slash);
      const bits = entry.slice(slash + 1);
      const family = isIP(addr);
      const prefix = /^\d{1,3}$/.test(bits) ? Number(bits) : -1;
      if (family === 0 || prefix < 0 || prefix > (family === 4 ? 32 : 128))
        return 'not an address range (CIDR like 203.0.113.0/24)';
      const one = new BlockList();
      one.addSubnet(addr, prefix, family === 4 ? 'ipv4' : 'ipv6');
      this.ranges.addSubnet(addr, prefix, family === 4 ? 'ipv4' : 'ipv6');
      this.rangeEntries.push({ entry, list: one });
    } else if (isIP(entry.replace(/^\[|\]$/g, ''))) {
      const addr = destinationHost(entry.replace(/^\[|\]$/g, ''));
      if (addr === undefined) return 'not an address';
      const family = isIP(addr) === 4 ? 'ipv4' : 'ipv6';
      const one = new BlockList();
      one.addAddress(addr, family);
      this.ranges.addAddress(addr, family);
      this.rangeEntries.push({ entry, list: one });
    } else {
      // `*.evil.example` and `.evil.example` are written for "the domain": a name already is.
      const name = entry.replace(/^\*?\./, '').replace(/\.$/, '');
      if (!NAME.test(name)) return 'neither a host name, an address nor an address range';
      this.names.add(name);
    }
    this.size++;
    return undefined;
  }

  /** Hosts already looked up (an agent talks to few hosts); the list never changes. */
  private readonly memo = new Map<string, string | null>();

  /** The entry `host` is covered by, or undefined. */
  match(host: string): string | undefined {
    const hit = this.memo.get(host);
    if (hit !== undefined) return hit ?? undefined;
    const entry = this.lookup(host);
    if (this.memo.size >= MEMO_SIZE) this.memo.clear();
    this.memo.set(host, entry ?? null);
    return entry;
  }

  private lookup(host: string): string | undefined {
    const bare = host
      .replace(/^\[|\]$/g, '')
      .replace(/\.$/, '')
      .toLowerCase();
    // A plain name skips the address normalization (which throws, slowly, on every name); what
    // the resolver could read as an address (`0x7f.1`, `2130706433`, IPv6) is normalized first.
    const h = !bare.includes(':') && !NUMERIC.test(bare) ? bare : destinationHost(bare);
    if (h === undefined) return undefined;
    const family = isIP(h);
    if (family !== 0) {
      const type = family === 4 ? 'ipv4' : 'ipv6';
      if (!this.ranges.check(h, type)) return undefined;
      return this.rangeEntries.find((r) => r.list.check(h, type))?.entry;
    }
    if (this.names.size === 0) return undefined;
    for (let at = 0; at >= 0; at = h.indexOf('.', at) + 1 || -1) {
      const suffix = h.slice(at);
      if (this.names.has(suffix)) return suffix;
    }
    return undefined;
  }
}

export class ReputationError extends Error {
  constructor(
    readonly file: string,
    readonly problems: ReputationProblem[],
  ) {
    super(problems.map((p) => `${file}:${p.line}: ${p.message}`).join('\n'));
  }
}

async function load(file: string): Promise<ReputationList> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new ReputationError(file, [{ line: 0, message: `cannot read: ${(e as Error).message}` }]);
  }
  const r = ReputationList.parse(text);
  if (!(r instanceof ReputationList)) throw new ReputationError(file, r);
  return r;
}

export interface LiveReputationEvents {
  reload: [{ file: string; entries: number }];
  error: [ReputationError];
}

/** The list in a file, followed for edits; a bad edit keeps the last good list. */
export class LiveReputation extends EventEmitter<LiveReputationEvents> implements ReputationLookup {
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private reloading: Promise<void> = Promise.resolve();
  lastError: ReputationError | undefined;

  private constructor(
    readonly file: string,
    private list: ReputationList,
  ) {
    super();
  }

  /** Loads the file; one that cannot be read or parsed is an error here (no last good list yet). */
  static async open(file: string): Promise<LiveReputation> {
    return new LiveReputation(file, await load(file));
  }

  get size(): number {
    return this.list.size;
  }

  match(host: string): string | undefined {
    return this.list.match(host);
  }

  /** Reads the file again now. Resolves either way; a failure is emitted and kept in lastError. */
  reload(): Promise<void> {
    this.reloading = this.reloading.then(async () => {
      try {
        this.list = await load(this.file);
      } catch (e) {
        this.lastError =
          e instanceof ReputationError
            ? e
            : new ReputationError(this.file, [{ line: 0, message: (e as Error).message }]);
        this.emit('error', this.lastError);
        return;
      }
      this.lastError = undefined;
      this.emit('reload', { file: this.file, entries: this.list.size });
    });
    return this.reloading;
  }

  /** Follows the file (debounced); resolves once edits from now on are seen. */
  async watch(debounceMs = 150): Promise<this> {
    const watcher = watch(this.file, { ignoreInitial: true });
    this.watcher = watcher;
    watcher.on('all', () => {
      clearTimeout(this.timer);
      this.timer = setTimeout(() => void this.reload(), debounceMs);
    });
    await new Promise<void>((resolve) => watcher.once('ready', resolve));
    return this;
  }

  async close(): Promise<void> {
    clearTimeout(this.timer);
    await this.watcher?.close();
  }
}

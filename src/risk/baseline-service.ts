// The baselines of one Cordon node: per agent and per agent class, cached in memory for the
// decision path, learned from allowed decisions into a pending delta, and flushed periodically
// to the baseline store by read–merge–write with optimistic versions, so any number of nodes
// learn into one baseline (docs/risk-and-baselines.md, "Baselines"). Also each agent's mode
// (learn, monitor, enforce), persisted beside its baseline and switchable at run time.
//
// Fail closed: a baseline this node cannot read is no baseline (unbaselined: in enforce mode
// everything is novel), and a mode it cannot read is enforce.

import type { BaselineStore, ChangeBus } from '../store/ports.js';
import {
  assess,
  Baseline,
  DEFAULT_PARAMS,
  DIMENSIONS,
  quietAssessment,
  unknownAssessment,
  type Assessment,
  type BaselineParams,
  type Dimension,
  type Observation,
} from './baseline.js';

export const BASELINE_MODES = ['learn', 'monitor', 'enforce'] as const;
export type BaselineMode = (typeof BASELINE_MODES)[number];

export interface ModeRecord {
  mode: BaselineMode;
  /** Who set it (`cordon-admin`, a user id), or `default`. */
  by: string;
  /** ISO time. */
  at: string;
}

/** What the baseline stage gives Cedar as `context.baseline`. */
export interface BaselineFacts {
  mode: string;
  novel: Record<Dimension, boolean>;
  deviation: number;
  rateRatio: number;
}

export interface BaselineOptions {
  store: BaselineStore;
  params?: Partial<BaselineParams>;
  /** Decayed observations before an agent's own baseline stands without its class's. */
  minObservations?: number;
  /** Directory components kept of file paths. */
  pathDepth?: number;
  /** The mode of an agent nobody set one for. */
  defaultMode?: BaselineMode;
  /** How often learned deltas are written to the store (ms; 0: only on flush()). */
  flushMs?: number;
  /** How long a cached baseline or mode is used before it is read again (ms). */
  refreshMs?: number;
  /** After a failed read, how long before the store is tried again for that subject (ms). */
  retryMs?: number;
  /** Baselines kept in memory; beyond, the ones cached longest with nothing pending go. */
  maxCached?: number;
  /** Tells other nodes about resets and mode changes. */
  bus?: ChangeBus;
  clock?: () => number;
  onError?: (what: string, err: unknown) => void;
}

const agentSubject = (id: string) => `agent:${id}`;
const classSubject = (id: string) => `class:${id}`;
const modeSubject = (id: string) => `mode:${id}`;

interface Entry {
  /** The stored baseline plus what this node learned since (what decisions read). */
  view: Baseline;
  /** Learned here and not yet in the store. */
  pending?: Baseline;
  loaded: boolean;
  loadedAt: number;
  failedAt?: number;
  busy?: Promise<void>;
}

interface ModeEntry {
  record?: ModeRecord;
  loadedAt: number;
  failedAt?: number;
  busy?: Promise<void>;
}

export class BaselineService {
  readonly params: BaselineParams;
  readonly minObservations: number;
  readonly pathDepth: number;
  readonly defaultMode: BaselineMode;
  private readonly entries = new Map<string, Entry>();
  private readonly modes = new Map<string, ModeEntry>();
  private readonly dirty = new Set<string>();
  private readonly clock: () => number;
  private readonly refreshMs: number;
  private readonly retryMs: number;
  private readonly maxCached: number;
  private timer?: NodeJS.Timeout;
  private unsubscribe?: () => void;
  private flushing?: Promise<void>;

  constructor(private readonly o: BaselineOptions) {
    this.params = { ...DEFAULT_PARAMS, ...o.params };
    this.minObservations = o.minObservations ?? 20;
    this.pathDepth = o.pathDepth ?? 3;
    this.defaultMode = o.defaultMode ?? 'learn';
    this.clock = o.clock ?? Date.now;
    this.refreshMs = o.refreshMs ?? 30_000;
    this.retryMs = o.retryMs ?? 1000;
    this.maxCached = o.maxCached ?? 100_000;
    if (o.flushMs) {
      this.timer = setInterval(() => void this.flush(), o.flushMs);
      this.timer.unref();
    }
    this.unsubscribe = o.bus?.subscribe('baseline', (m) => this.changed(m));
  }

  private error(what: string, err: unknown): void {
    this.o.onError?.(what, err);
  }

  /** Another node reset a baseline or changed a mode: drop what this node cached. */
  private changed(message: string): void {
    let m: { kind?: string; agent?: string };
    try {
      m = JSON.parse(message) as typeof m;
    } catch {
      return;
    }
    if (typeof m.agent !== 'string') return;
    if (m.kind === 'mode') this.modes.delete(m.agent);
    if (m.kind === 'reset') {
      this.entries.delete(agentSubject(m.agent));
      this.dirty.delete(agentSubject(m.agent));
    }
  }

  // ── The decision path ────────────────────────────────────────────────────────────────

  /**
   * `context.baseline` for a request by `agent` (of `classes`) that touches `obs`. Synchronous
   * when everything it needs is cached (the usual case), a promise otherwise.
   */
  facts(
    agent: string,
    classes: readonly string[],
    obs: Observation,
  ): BaselineFacts | Promise<BaselineFacts> {
    const now = this.clock();
    const mode = this.cachedMode(agent, now);
    if (mode === undefined) return this.loadMode(agent).then(() => this.facts(agent, classes, obs));
    if (mode === 'learn') return toFacts(mode, quietAssessment());
    const own = this.usable(agentSubject(agent), now);
    if (own === undefined)
      return this.load(agentSubject(agent)).then(() => this.facts(agent, classes, obs));
    if (own === 'failed') return toFacts(mode, unknownAssessment(obs));
    const views = [own];
    // A young agent leans on its class: what its class does is not novel for it.
    if (classes.length > 0 && own.observations(now) < this.minObservations) {
      for (const c of classes) {
        const v = this.usable(classSubject(c), now);
        if (v === undefined)
          return this.load(classSubject(c)).then(() => this.facts(agent, classes, obs));
        if (v !== 'failed') views.push(v);
      }
    }
    return toFacts(mode, assess(views, obs, now, { minObservations: this.minObservations }));
  }

  /** Learns one allowed request into the agent's and its classes' baselines (in memory). */
  learn(agent: string, classes: readonly string[], obs: Observation, at: number): void {
    for (const subject of [agentSubject(agent), ...classes.map(classSubject)]) {
      let e = this.entries.get(subject);
      if (!e) {
        // Not read yet: learn now, merge the stored baseline in when it arrives.
        e = { view: new Baseline(this.params, at), loaded: false, loadedAt: -Infinity };
        this.cache(subject, e);
        void this.load(subject);
      }
      e.view.add(obs, at);
      (e.pending ??= new Baseline(this.params, at)).add(obs, at);
      this.dirty.add(subject);
    }
  }

  /** The cached mode, or undefined when it must be read (a read failure reads as enforce). */
  private cachedMode(agent: string, now: number): BaselineMode | undefined {
    const m = this.modes.get(agent);
    if (!m) return undefined;
    if (m.failedAt !== undefined && !m.record) {
      if (now - m.failedAt >= this.retryMs) void this.loadMode(agent);
      return 'enforce';
    }
    if (now - m.loadedAt > this.refreshMs) void this.loadMode(agent);
    return m.record?.mode ?? this.defaultMode;
  }

  /** The cached view of `subject`, 'failed' when the store could not be read, undefined: load. */
  private usable(subject: string, now: number): Baseline | 'failed' | undefined {
    const e = this.entries.get(subject);
    if (!e) return undefined;
    if (e.loaded) {
      if (now - e.loadedAt > this.refreshMs) void this.load(subject);
      return e.view;
    }
    if (e.failedAt !== undefined) {
      if (now - e.failedAt >= this.retryMs) void this.load(subject);
      return 'failed';
    }
    return undefined; // a load is under way
  }

  /** Adds an entry, first making room: entries with nothing pending are read again on need. */
  private cache(subject: string, e: Entry): void {
    if (this.entries.size >= this.maxCached) {
      let excess = this.entries.size - Math.floor(this.maxCached * 0.9);
      for (const [k, v] of this.entries) {
        if (excess <= 0) break;
        if (v.pending || v.busy) continue;
        this.entries.delete(k);
        excess--;
      }
    }
    this.entries.set(subject, e);
  }

  private loadMode(agent: string): Promise<void> {
    let m = this.modes.get(agent);
    if (m?.busy) return m.busy;
    if (!m) this.modes.set(agent, (m = { loadedAt: -Infinity }));
    const entry = m;
    entry.busy = (async () => {
      try {
        const stored = await this.o.store.get(modeSubject(agent));
        entry.record = stored ? parseMode(stored.data) : undefined;
        entry.loadedAt = this.clock();
        delete entry.failedAt;
      } catch (e) {
        entry.failedAt = this.clock();
        this.error(`reading the baseline mode of ${agent}`, e);
      } finally {
        delete entry.busy;
      }
    })();
    return entry.busy;
  }

  /** Reads `subject` from the store; the view becomes the stored baseline plus what is pending. */
  private load(subject: string): Promise<void> {
    let e = this.entries.get(subject);
    if (e?.busy) return e.busy;
    if (!e) {
      e = { view: new Baseline(this.params, this.clock()), loaded: false, loadedAt: -Infinity };
      this.cache(subject, e);
    }
    const entry = e;
    entry.busy = (async () => {
      try {
        const stored = await this.o.store.get(subject);
        const now = this.clock();
        const view = stored ? this.parse(stored.data, now) : new Baseline(this.params, now);
        if (entry.pending) view.merge(entry.pending);
        entry.view = view;
        entry.loaded = true;
        entry.loadedAt = now;
        delete entry.failedAt;
      } catch (err) {
        entry.failedAt = this.clock();
        this.error(`reading the baseline ${subject}`, err);
      } finally {
        delete entry.busy;
      }
    })();
    return entry.busy;
  }

  private parse(data: string, now: number): Baseline {
    return Baseline.fromJson(JSON.parse(data), this.params, now);
  }

  // ── Writing to the store ─────────────────────────────────────────────────────────────

  /** Writes every pending delta (read, merge, write if unchanged, else again). */
  flush(): Promise<void> {
    this.flushing ??= (async () => {
      try {
        for (const subject of [...this.dirty]) {
          this.dirty.delete(subject);
          await this.flushOne(subject);
        }
      } finally {
        this.flushing = undefined;
      }
    })();
    return this.flushing;
  }

  private async flushOne(subject: string): Promise<void> {
    const e = this.entries.get(subject);
    const delta = e?.pending;
    if (!e || !delta) return;
    delete e.pending;
    try {
      for (let attempt = 0; attempt < 20; attempt++) {
        const stored = await this.o.store.get(subject);
        const now = this.clock();
        let base: Baseline;
        try {
          base = stored ? this.parse(stored.data, now) : new Baseline(this.params, now);
        } catch (err) {
          // Unreadable data helps nobody: the next write replaces it (and says so).
          this.error(`the stored baseline ${subject} is corrupt and is replaced`, err);
          base = new Baseline(this.params, now);
        }
        base.merge(delta);
        if (await this.o.store.put(subject, JSON.stringify(base.toJson()), stored?.version ?? 0)) {
          if (this.entries.get(subject) !== e) return; // reset meanwhile
          if (e.pending) base.merge(e.pending);
          e.view = base;
          e.loaded = true;
          e.loadedAt = now;
          delete e.failedAt;
          return;
        }
      }
      throw new Error('another writer kept changing it (20 attempts)');
    } catch (err) {
      this.error(`writing the baseline ${subject}`, err);
      // Keep the delta for the next flush (unless the baseline was reset meanwhile).
      if (this.entries.get(subject) === e) {
        if (e.pending) delta.merge(e.pending);
        e.pending = delta;
        this.dirty.add(subject);
      }
    }
  }

  // ── Operators ────────────────────────────────────────────────────────────────────────

  /** The agent's mode as stored (the default when none was set); throws when unreadable. */
  async mode(agent: string): Promise<ModeRecord> {
    const stored = await this.o.store.get(modeSubject(agent));
    return (
      (stored ? parseMode(stored.data) : undefined) ?? {
        mode: this.defaultMode,
        by: 'default',
        at: new Date(0).toISOString(),
      }
    );
  }

  async setMode(agent: string, mode: BaselineMode, by: string): Promise<ModeRecord> {
    const record: ModeRecord = { mode, by, at: new Date(this.clock()).toISOString() };
    for (let attempt = 0; attempt < 20; attempt++) {
      const stored = await this.o.store.get(modeSubject(agent));
      if (
        await this.o.store.put(modeSubject(agent), JSON.stringify(record), stored?.version ?? 0)
      ) {
        this.modes.set(agent, { record, loadedAt: this.clock() });
        await this.o.bus?.publish('baseline', JSON.stringify({ kind: 'mode', agent }));
        return record;
      }
    }
    throw new Error(`the mode of ${agent} kept changing under this write`);
  }

  /** Forgets what was learned about the agent (its mode stays); false when nothing was. */
  async reset(agent: string): Promise<boolean> {
    const subject = agentSubject(agent);
    const local = this.entries.get(subject);
    const hadLocal = !!local && (!local.view.empty || !!local.pending);
    this.entries.delete(subject);
    this.dirty.delete(subject);
    const deleted = await this.o.store.delete(subject);
    await this.o.bus?.publish('baseline', JSON.stringify({ kind: 'reset', agent }));
    return deleted || hadLocal;
  }

  /** The agent's (or class's) baseline as stored plus what this node has not written yet. */
  async current(kind: 'agent' | 'class', id: string): Promise<Baseline> {
    const subject = kind === 'agent' ? agentSubject(id) : classSubject(id);
    const stored = await this.o.store.get(subject);
    const now = this.clock();
    const b = stored ? this.parse(stored.data, now) : new Baseline(this.params, now);
    const pending = this.entries.get(subject)?.pending;
    if (pending) b.merge(pending);
    return b;
  }

  /** A readable summary for `cordon baseline show`. */
  async summary(agent: string, classes: readonly string[]): Promise<BaselineSummary> {
    const now = this.clock();
    const b = await this.current('agent', agent);
    const mode = await this.mode(agent);
    const dims: BaselineSummary['dimensions'] = {};
    for (const dim of DIMENSIONS) {
      const m = b.items.get(dim);
      if (!m || m.size === 0) continue;
      dims[dim] = [...m.keys()]
        .map((item) => ({ item, count: round2(b.count(dim, item, now)) }))
        .sort((x, y) => y.count - x.count || x.item.localeCompare(y.item));
    }
    const a = assess([b], {}, now, { minObservations: this.minObservations });
    return {
      agent,
      classes: [...classes],
      mode,
      observations: round2(b.observations(now)),
      ...(b.empty ? {} : { since: new Date(b.first).toISOString() }),
      halfLifeSeconds: this.params.halfLifeMs / 1000,
      rateRatio: a.rateRatio,
      dimensions: dims,
    };
  }

  /** Stops the timer and writes what is pending. */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.unsubscribe?.();
    await this.flush();
  }

  /** How many baselines this node holds in memory (for the benchmark and metrics). */
  get cached(): number {
    return this.entries.size;
  }
}

export interface BaselineSummary {
  agent: string;
  classes: string[];
  mode: ModeRecord;
  /** Decayed number of allowed actions learned. */
  observations: number;
  /** The first one (ISO). */
  since?: string;
  halfLifeSeconds: number;
  rateRatio: number;
  dimensions: Partial<Record<Dimension, { item: string; count: number }[]>>;
}

const round2 = (x: number) => Math.round(x * 100) / 100;

function parseMode(data: string): ModeRecord | undefined {
  const r = JSON.parse(data) as Partial<ModeRecord>;
  if (!BASELINE_MODES.includes(r.mode as BaselineMode))
    throw new Error(
      `stored baseline mode ${JSON.stringify(r.mode)} is not one of ${BASELINE_MODES.join(', ')}`,
    );
  return { mode: r.mode!, by: String(r.by ?? ''), at: String(r.at ?? '') };
}

function toFacts(mode: BaselineMode, a: Assessment): BaselineFacts {
  return { mode, novel: a.novel, deviation: a.deviation, rateRatio: a.rateRatio };
}

/** The `baselines` section of cordon.yaml (config.ts), as the service takes it. */
export interface BaselineConfig {
  defaultMode: BaselineMode;
  halfLifeSeconds: number;
  rateHalfLifeSeconds: number;
  minObservations: number;
  pathDepth: number;
  maxItems: number;
  flushSeconds: number;
  refreshSeconds: number;
  maxCached: number;
}

export function baselineServiceFrom(
  c: BaselineConfig,
  store: BaselineStore,
  more: Pick<BaselineOptions, 'bus' | 'onError' | 'clock'> = {},
): BaselineService {
  return new BaselineService({
    store,
    params: {
      halfLifeMs: c.halfLifeSeconds * 1000,
      rateHalfLifeMs: c.rateHalfLifeSeconds * 1000,
      maxItems: c.maxItems,
    },
    minObservations: c.minObservations,
    pathDepth: c.pathDepth,
    defaultMode: c.defaultMode,
    flushMs: c.flushSeconds * 1000,
    refreshMs: c.refreshSeconds * 1000,
    maxCached: c.maxCached,
    ...more,
  });
}

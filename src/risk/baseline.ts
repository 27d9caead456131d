// Behavioral baselines, the pure model (docs/risk-and-baselines.md, "Baselines"): what an agent
// (or an agent class) usually does, as exponentially decayed counts per item in each dimension
// (tools with the shape of their arguments, models, destinations, path prefixes, data read,
// delegation targets) and a decayed action rate. A distribution, not a list: an item used once
// long ago is rare but still known, an item never used is novel. No I/O, no clock of its own.
//
// Counts are kept scaled to an epoch (value = Σ 2^((t_i − epoch)/halfLife)), so adding an event
// and reading a count cost one multiplication, whatever the number of items; the count at time
// T is value · 2^(−(T − epoch)/halfLife). Only identifiers and shapes are ever stored: argument
// values, prompts and secrets never reach this module (see `argumentShape`).

import { createHash } from 'node:crypto';
import { noNovelty } from '../core/pipeline.js';

export const DIMENSIONS = ['tool', 'model', 'destination', 'path', 'dataset', 'delegate'] as const;
export type Dimension = (typeof DIMENSIONS)[number];

/** The items one request touches, per dimension. */
export type Observation = { [D in Dimension]?: string[] };

export interface BaselineParams {
  /** Counts halve after this long (ms). */
  halfLifeMs: number;
  /** Half-life of the short-term action rate compared with the usual rate (ms). */
  rateHalfLifeMs: number;
  /** Items kept per dimension; the rarest is forgotten beyond. */
  maxItems: number;
}

export const DEFAULT_PARAMS: BaselineParams = {
  halfLifeMs: 7 * 86_400_000,
  rateHalfLifeMs: 60_000,
  maxItems: 1000,
};

/** Below this decayed count an item is forgotten: novel again (about 13 half-lives unused). */
export const FORGOTTEN = 1e-4;
/** Rebase the epoch before scaled values could overflow a double. */
const REBASE_AFTER = 500;

/** The stored form (opaque JSON in the baseline store). */
export interface BaselineJson {
  v: 1;
  /** Half-life (ms) the scaled values were computed with. */
  h: number;
  /** Epoch (ms) of the scaled values. */
  e: number;
  /** First observation (ms). */
  f: number;
  /** Scaled total of observations. */
  n: number;
  /** Short-term rate counter: decayed count and when (ms). */
  r: [number, number];
  /** Scaled count per item, per dimension, and each dimension's scaled total. */
  d: Partial<Record<Dimension, Record<string, number>>>;
  t: Partial<Record<Dimension, number>>;
}

export class Baseline {
  epoch: number;
  first = Infinity;
  total = 0;
  recent = 0;
  recentAt = 0;
  readonly items = new Map<Dimension, Map<string, number>>();
  readonly totals = new Map<Dimension, number>();

  constructor(
    readonly params: BaselineParams,
    epoch: number,
  ) {
    this.epoch = epoch;
  }

  get empty(): boolean {
    return this.first === Infinity;
  }

  /** 2^((t − epoch)/halfLife): an event's weight in scaled units, and the inverse read factor. */
  scale(t: number): number {
    return 2 ** ((t - this.epoch) / this.params.halfLifeMs);
  }

  /** Decayed number of observations at `now`. */
  observations(now: number): number {
    return this.total / this.scale(now);
  }

  /** Decayed count of an item at `now` (0 when never seen). */
  count(dim: Dimension, item: string, now: number): number {
    const v = this.items.get(dim)?.get(item);
    return v === undefined ? 0 : v / this.scale(now);
  }

  dimensionTotal(dim: Dimension, now: number): number {
    return (this.totals.get(dim) ?? 0) / this.scale(now);
  }

  /** Counts one observed request at `at` (ms). */
  add(obs: Observation, at: number): void {
    if ((at - this.epoch) / this.params.halfLifeMs > REBASE_AFTER) this.rebase(at);
    const w = this.scale(at);
    if (this.first > at) this.first = at;
    this.total += w;
    this.recent = this.recentCount(at) + 1;
    this.recentAt = Math.max(this.recentAt, at);
    for (const dim of DIMENSIONS) {
      const list = obs[dim];
      if (!list || list.length === 0) continue;
      let m = this.items.get(dim);
      if (!m) this.items.set(dim, (m = new Map()));
      for (const item of list) {
        const old = m.get(item);
        if (old === undefined && m.size >= this.params.maxItems) this.evictRarest(m);
        m.set(item, (old ?? 0) + w);
      }
      this.totals.set(dim, (this.totals.get(dim) ?? 0) + w * list.length);
    }
  }

  /** Short-term counter decayed to `now`. */
  recentCount(now: number): number {
    if (this.recent === 0) return 0;
    return this.recent * 2 ** (-Math.max(0, now - this.recentAt) / this.params.rateHalfLifeMs);
  }

  private evictRarest(m: Map<string, number>): void {
    let rarest: string | undefined;
    let least = Infinity;
    for (const [k, v] of m)
      if (v < least) {
        least = v;
        rarest = k;
      }
    if (rarest !== undefined) m.delete(rarest);
  }

  /** Moves the epoch to `to`, dropping forgotten items (keeps the scaled values finite). */
  rebase(to: number): void {
    const f = 1 / this.scale(to);
    this.total *= f;
    for (const [dim, m] of this.items) {
      for (const [k, v] of m) {
        const c = v * f;
        if (c < FORGOTTEN) m.delete(k);
        else m.set(k, c);
      }
      this.totals.set(dim, (this.totals.get(dim) ?? 0) * f);
    }
    this.epoch = to;
  }

  /** Adds another baseline's counts (another node's delta, or a stored baseline). */
  merge(other: Baseline): void {
    if (other.empty) return;
    // Onto the later epoch, so the factor below is at most 1 (never an overflow). Both use the
    // configured half-life: fromJson converts a stored baseline made with another one.
    if (other.epoch > this.epoch) this.rebase(other.epoch);
    const f = 2 ** ((other.epoch - this.epoch) / this.params.halfLifeMs);
    this.first = Math.min(this.first, other.first);
    this.total += other.total * f;
    const at = Math.max(this.recentAt, other.recentAt);
    this.recent = this.recentCount(at) + other.recentCount(at);
    this.recentAt = at;
    for (const [dim, om] of other.items) {
      let m = this.items.get(dim);
      if (!m) this.items.set(dim, (m = new Map()));
      for (const [k, v] of om) {
        const old = m.get(k);
        if (old === undefined && m.size >= this.params.maxItems) this.evictRarest(m);
        m.set(k, (old ?? 0) + v * f);
      }
      this.totals.set(dim, (this.totals.get(dim) ?? 0) + (other.totals.get(dim) ?? 0) * f);
    }
  }

  clone(): Baseline {
    const b = new Baseline(this.params, this.epoch);
    b.merge(this);
    return b;
  }

  toJson(): BaselineJson {
    const d: BaselineJson['d'] = {};
    const t: BaselineJson['t'] = {};
    for (const [dim, m] of this.items) d[dim] = Object.fromEntries(m);
    for (const [dim, v] of this.totals) t[dim] = v;
    return {
      v: 1,
      h: this.params.halfLifeMs,
      e: this.epoch,
      f: this.empty ? 0 : this.first,
      n: this.total,
      r: [this.recent, this.recentAt],
      d,
      t,
    };
  }

  /**
   * Reads the stored form; throws on anything that is not one. Stored with another half-life,
   * the counts are taken as they stand at `now` and decay with the configured one from there.
   */
  static fromJson(json: unknown, params: BaselineParams, now: number): Baseline {
    const j = json as BaselineJson;
    const finite = (x: unknown) => typeof x === 'number' && Number.isFinite(x);
    if (
      typeof j !== 'object' ||
      j === null ||
      j.v !== 1 ||
      ![j.h, j.e, j.f, j.n].every(finite) ||
      !Array.isArray(j.r) ||
      !j.r.every(finite) ||
      typeof j.d !== 'object' ||
      typeof j.t !== 'object'
    )
      throw new Error('not a stored baseline');
    const b = new Baseline(params, j.e);
    // The same half-life: the values carry over; another one: re-scale to counts at `now`.
    const f = j.h === params.halfLifeMs ? 1 : 2 ** (-(now - j.e) / j.h);
    if (f !== 1) b.epoch = now;
    b.first = j.n > 0 ? j.f : Infinity;
    b.total = j.n * f;
    [b.recent, b.recentAt] = j.r as [number, number];
    for (const dim of DIMENSIONS) {
      const items = j.d[dim];
      if (!items) continue;
      const m = new Map<string, number>();
      for (const [k, v] of Object.entries(items)) if (finite(v)) m.set(k, v * f);
      b.items.set(dim, m);
      b.totals.set(dim, (finite(j.t[dim]) ? j.t[dim]! : 0) * f);
    }
    return b;
  }
}

/** What a request looks like against a baseline (before it is learned). */
export interface Assessment {
  /** Per dimension the request touches: some item never seen (or forgotten). */
  novel: Record<Dimension, boolean>;
  /** 0–100: how unusual the request is (the most unusual dimension, or the rate). */
  deviation: number;
  /** Percent of the usual action rate (100: as usual); 0 when there is no usual rate yet. */
  rateRatio: number;
  /** Decayed observations the assessment rests on. */
  observations: number;
}

export interface AssessOptions {
  /** Observations before rarity counts fully (fewer: the deviation of seen items is scaled down). */
  minObservations: number;
}

/**
 * How unusual `obs` is for the union of `baselines` (the agent's, then its classes' while the
 * agent's own is young). Novel: no baseline holds the item. A seen item scores by its surprise,
 * log2(1/p), 10 points a bit, at most 90; a novel one scores 100. The rate scores 25 points per
 * doubling past four times the usual rate.
 */
export function assess(
  baselines: Baseline[],
  obs: Observation,
  now: number,
  opts: AssessOptions,
): Assessment {
  const novel = noNovelty();
  let deviation = 0;
  let observations = 0;
  for (const b of baselines) observations += b.observations(now);
  const confidence = Math.min(1, observations / Math.max(1, opts.minObservations));
  // Each baseline's read factor once, not once per item.
  const inverse = baselines.map((b) => 1 / b.scale(now));
  for (const dim of DIMENSIONS) {
    const list = obs[dim];
    if (!list || list.length === 0) continue;
    let total = 0;
    for (let i = 0; i < baselines.length; i++)
      total += (baselines[i]!.totals.get(dim) ?? 0) * inverse[i]!;
    for (const item of list) {
      let c = 0;
      for (let i = 0; i < baselines.length; i++)
        c += (baselines[i]!.items.get(dim)?.get(item) ?? 0) * inverse[i]!;
      if (c < FORGOTTEN) {
        novel[dim] = true;
        deviation = 100;
        continue;
      }
      const bits = Math.log2(Math.max(1, total / c));
      deviation = Math.max(deviation, Math.round(Math.min(90, bits * 10) * confidence));
    }
  }
  const rateRatio = rateRatioOf(baselines, now);
  // Up to four times the usual rate is ordinary variation; 25 points a doubling beyond.
  if (rateRatio > 400)
    deviation = Math.max(
      deviation,
      Math.min(100, Math.round((Math.log2(rateRatio / 100) - 1) * 25)),
    );
  return { novel, deviation, rateRatio, observations };
}

/**
 * The short-term rate against the usual one, in percent: the actions in the short window
 * against the number the usual rate predicts there, each plus one, so a sparse agent's single
 * action after a quiet hour is not a burst (the usual rate is the decayed count over the
 * decayed window it covers, shortened to the baseline's age while it is young).
 */
function rateRatioOf(baselines: Baseline[], now: number): number {
  const own = baselines[0];
  if (!own || own.empty) return 0;
  const age = Math.max(0, now - own.first);
  const { halfLifeMs: h, rateHalfLifeMs: hr } = own.params;
  // ∫ 2^(−s/H) ds over [0, age] = H/ln2 · (1 − 2^(−age/H))
  const window = (half: number) => (half / Math.LN2) * (1 - 2 ** (-age / half));
  const longWindow = window(h);
  const shortWindow = window(hr);
  // A rate needs history longer than the short window to compare against.
  if (age < 2 * hr || longWindow <= 0 || shortWindow <= 0) return 0;
  const usual = own.observations(now) / longWindow;
  if (usual <= 0) return 0;
  const expected = usual * shortWindow;
  return Math.round(((own.recentCount(now) + 1) / (expected + 1)) * 100);
}

/** Empty assessment facts for an agent that is not assessed (learn mode). */
export function quietAssessment(): Assessment {
  return { novel: noNovelty(), deviation: 0, rateRatio: 0, observations: 0 };
}

/** Everything novel: an agent whose baseline cannot be read, in enforce mode (fail closed). */
export function unknownAssessment(obs: Observation): Assessment {
  const novel = noNovelty();
  for (const dim of DIMENSIONS) if (obs[dim]?.length) novel[dim] = true;
  return { novel, deviation: 100, rateRatio: 0, observations: 0 };
}

/**
 * The shape of a tool's arguments: keys and value types, nested, never values; hashed so that
 * not even key names are stored. Array elements contribute their distinct shapes, not their count.
 */
export function argumentShape(input: unknown): string {
  const text = shapeText(input, 0);
  let hash = shapeHashes.get(text);
  if (hash === undefined) {
    hash = createHash('sha256').update(text).digest('base64url').slice(0, 12);
    // Tools have few shapes; a flood of new ones only costs the hashing again.
    if (shapeHashes.size >= 10_000) shapeHashes.clear();
    shapeHashes.set(text, hash);
  }
  return hash;
}

/** Shape text → hash: the same few shapes recur on every call of a tool. */
const shapeHashes = new Map<string, string>();

export function shapeText(v: unknown, depth: number): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) {
    if (depth > 8) return '[…]';
    const shapes = [...new Set(v.map((e) => shapeText(e, depth + 1)))].sort();
    return `[${shapes.join('|')}]`;
  }
  if (typeof v === 'object') {
    if (depth > 8) return '{…}';
    const keys = Object.keys(v as object).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${shapeText((v as Record<string, unknown>)[k], depth + 1)}`).join(',')}}`;
  }
  return typeof v;
}

/** The directory prefix of an absolute path, at most `depth` components deep. */
export function pathPrefix(path: string, depth: number): string {
  const parts = path.split('/').filter((p) => p !== '' && p !== '.');
  parts.pop(); // the file itself
  return `/${parts.slice(0, depth).join('/')}`;
}

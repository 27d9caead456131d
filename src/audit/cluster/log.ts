// The audit log shared by every node of a cluster, in PostgreSQL: one Merkle tree, one signer at
// a time (docs/audit-cluster.md).
//
// * Appends: every node writes the records of one event-loop turn in one INSERT into
//   audit_entries (group commit) and acknowledges them once that COMMIT returns, with
//   synchronous_commit on. Their leaf index is not known yet: `append` resolves with undefined.
// * Sequencer: one node at a time, the holder of a session-level advisory lock on a connection of
//   its own. It moves entries into audit_records, numbering them (the canonical record text and
//   its leaf hash include the number, as in the embedded log), grows the tree and signs
//   checkpoints. Every write of the sequencer goes over the lock's connection in a transaction
//   that checks the lock is still held, and a checkpoint is inserted only when it is larger than
//   the newest stored one: a node that lost the lock cannot number or sign anything (fencing).
//   Other nodes retry the lock; a node that takes over rebuilds the tree from the records and
//   checks it against the newest checkpoint before signing, with the embedded log's refusals.
// * Followers: every node tails audit_records by seq into its own tree and checks each new
//   checkpoint against it, so any node serves inclusion proofs.

import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { DecisionTrace } from '../../core/engine.js';
import type { PolicySources } from '../../core/compile.js';
import type {
  AuditService,
  InclusionBundle,
  StagedAppend,
  StoredRecord,
} from '../../store/audit-port.js';
import { loadOrCreateSigningKey, type SigningKey } from '../keys.js';
import { AuditLogError, inclusionBundle } from '../log.js';
import { EMPTY_ROOT, hashLeaf, MerkleTree, type Hash } from '../merkle.js';
import { checkpointText, formatVerifierKey, openCheckpoint, signNote } from '../note.js';
import {
  buildRecord,
  canonical,
  validateMask,
  type AuditRecord,
  type RecordOptions,
} from '../record.js';
import {
  connectionConfig,
  DEFAULT_SCHEMA,
  lockKeys,
  migrate,
  PgAuditReader,
  shownUrl,
  type LockKeys,
  type PgTarget,
} from './schema.js';

export interface ClusterAuditOptions extends RecordOptions {
  /** Where the signing key is created when no key file is given (and its verifier key goes). */
  dataDir: string;
  /** The signing key's file: every node must sign with the same key. */
  signingKey?: string | undefined;
  /** How often the sequencer signs a checkpoint while records arrive. */
  checkpointIntervalMs: number;
  /** Most records per INSERT, and per sequencing transaction. */
  maxBatch: number;
  /** How often a node that is not the sequencer tries to take the lock. */
  lockRetryMs: number;
  /** How often the sequencer looks for new entries when it found none. */
  sequencePollMs: number;
  /** How often a node reads newly sequenced records and checkpoints. */
  followMs: number;
  /** How long `proof` waits for a record to be sequenced and covered by a checkpoint. */
  proofTimeoutMs: number;
  /** Connections for appends and reads (the sequencer has one more of its own). */
  poolSize: number;
  /** Errors of background work (sequencer, follower); appends report theirs to the caller. */
  onError: (e: Error) => void;
}

export const DEFAULT_CLUSTER_OPTIONS: Omit<ClusterAuditOptions, 'dataDir'> = {
  recordInput: false,
  recordPrompt: false,
  mask: [],
  checkpointIntervalMs: 1000,
  maxBatch: 4096,
  lockRetryMs: 250,
  sequencePollMs: 10,
  followMs: 100,
  proofTimeoutMs: 10_000,
  poolSize: 8,
  onError: () => {},
};

/** A proof asked for a record that is not sequenced and signed yet (HTTP 503: try again). */
export class ProofNotReady extends AuditLogError {
  readonly statusCode = 503;
}

/** The sequencer lost its lock, or found the log moved under it: it signs nothing more. */
export class SequencerFenced extends AuditLogError {}

interface Pending {
  trace: DecisionTrace;
  resolve: () => void;
  reject: (e: Error) => void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The lock is held by this very connection: the check every sequencer transaction makes. */
const LOCK_HELD = `EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND classid::int8 = $1
  AND objid::int8 = $2 AND objsubid = 2 AND pid = pg_backend_pid() AND granted)`;

/**
 * Inserts a signed checkpoint if `client` holds the sequencer lock and `size` is larger than
 * every stored checkpoint; false when refused. The only way checkpoints are written.
 */
export async function fencedCheckpointInsert(
  client: pg.ClientBase,
  keys: LockKeys,
  cp: { size: number; time: string; note: string },
): Promise<boolean> {
  const r = await client.query(
    `INSERT INTO audit_checkpoints (size, time, note)
       SELECT $3, $4, $5 WHERE ${LOCK_HELD}
         AND $3 > COALESCE((SELECT max(size) FROM audit_checkpoints), -1)`,
    [...keys.sequencer, cp.size, cp.time, cp.note],
  );
  return r.rowCount === 1;
}

/**
 * Where the record's own `seq` value (0) is in its canonical text: the one character that
 * changes when the record is numbered 1 instead (a nested "seq" in the input does not move).
 */
function seqOffset(rec: AuditRecord, text: string): number {
  const other = canonical({ ...rec, seq: 1 });
  let i = 0;
  while (i < text.length && text.charCodeAt(i) === other.charCodeAt(i)) i++;
  if (text[i] !== '0' || other[i] !== '1' || text.length !== other.length)
    throw new Error('the record number could not be located in its canonical text');
  return i;
}

/** An in-memory tree over leaf hashes (32 bytes a record), as each node holds one. */
class Tree {
  readonly leaves: Hash[] = [];
  readonly merkle = new MerkleTree((s, e) => this.leaves.slice(s, e));
  get size(): number {
    return this.leaves.length;
  }
  append(h: Hash): void {
    this.leaves.push(h);
    this.merkle.append(h);
  }
}

export class ClusterAuditLog implements AuditService {
  readonly store: PgAuditReader;
  private tree = new Tree();
  private checkpointed: { size: number; note: string } | undefined;
  private queue: Pending[] = [];
  private flushScheduled = false;
  private inFlight = new Set<Promise<void>>();
  private readonly storedVersions = new Set<string>();
  private closed = false;
  /** The tree is changed by one task at a time (follower or sequencer). */
  private treeLock: Promise<unknown> = Promise.resolve();
  private lockClient: pg.Client | undefined;
  private sequencing = false;
  /** A proof waits for a checkpoint of at least this size (signed before the interval ends). */
  private wantedSize = 0;
  private loops: Promise<void>[] = [];
  private readonly keys: LockKeys;
  private readonly channel: string;
  /** The last problem the sequencer or follower met (for status and tests). */
  lastError: string | undefined;

  private constructor(
    private readonly pool: pg.Pool,
    private readonly target: PgTarget & { schema: string },
    readonly origin: string,
    readonly signer: SigningKey,
    private readonly opts: ClusterAuditOptions,
  ) {
    this.store = new PgAuditReader(pool);
    this.keys = lockKeys(target.schema);
    this.channel = `cordon_audit_${target.schema}`.slice(0, 63);
  }

  static async open(
    target: PgTarget,
    options: Partial<ClusterAuditOptions> & { dataDir: string },
  ): Promise<ClusterAuditLog> {
    const opts: ClusterAuditOptions = { ...DEFAULT_CLUSTER_OPTIONS, ...options };
    const resolved = { ...target, schema: target.schema ?? DEFAULT_SCHEMA };
    validateMask(opts.mask);
    const pool = new pg.Pool({ ...connectionConfig(resolved), max: opts.poolSize });
    // An idle connection that drops is replaced; the query that needs it reports the failure.
    pool.on('error', () => {});
    try {
      const client = await pool.connect().catch((e: Error) => {
        throw new AuditLogError(
          `the audit log's PostgreSQL (${shownUrl(target.url)}) is unreachable: ${e.message}`,
        );
      });
      try {
        await migrate(client, resolved.schema);
      } finally {
        client.release();
      }
      await pool.query(
        "INSERT INTO audit_meta (key, value) VALUES ('origin', $1) ON CONFLICT DO NOTHING",
        [`cordon.local/audit/${randomBytes(8).toString('hex')}`],
      );
      const origin = (await new PgAuditReader(pool).getMeta('origin'))!;
      let signer: SigningKey;
      try {
        signer = await loadOrCreateSigningKey(opts.dataDir, origin, opts.signingKey);
      } catch (e) {
        throw new AuditLogError(`audit signing key: ${(e as Error).message}`);
      }
      if (signer.key.name !== origin)
        throw new AuditLogError(
          `signing key ${signer.file} is for "${signer.key.name}", the log in PostgreSQL is "${origin}"` +
            (opts.signingKey ? '' : ': set audit.signingKey to a key file shared by every node'),
        );
      // The first node records the log's verifier key; every other node must sign with it.
      const vkey = formatVerifierKey(signer.key);
      await pool.query(
        "INSERT INTO audit_meta (key, value) VALUES ('verifier_key', $1) ON CONFLICT DO NOTHING",
        [vkey],
      );
      const logKey = (await new PgAuditReader(pool).getMeta('verifier_key'))!;
      if (logKey !== vkey)
        throw new AuditLogError(
          `this node's audit signing key (${signer.file}, ${vkey}) is not the log's (${logKey}): every node must sign with the same key (audit.signingKey or CORDON_AUDIT_SIGNING_KEY)`,
        );
      const log = new ClusterAuditLog(pool, resolved, origin, signer, opts);
      await log.follow(true);
      log.loops.push(log.followLoop(), log.sequencerLoop());
      return log;
    } catch (e) {
      await pool.end().catch(() => {});
      if (e instanceof AuditLogError) throw e;
      throw new AuditLogError(`audit log in PostgreSQL: ${(e as Error).message}`);
    }
  }

  get size(): number {
    return this.tree.size;
  }

  get verifierKey(): string {
    return formatVerifierKey(this.signer.key);
  }

  /** Whether this node signs (holds the sequencer lock) now. */
  get isSequencer(): boolean {
    return this.sequencing;
  }

  /** The newest checkpoint this node checked against its tree. */
  get checkpointedSize(): number {
    return this.checkpointed?.size ?? -1;
  }

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.treeLock.then(fn);
    this.treeLock = next.catch(() => {});
    return next;
  }

  // ---- appends ----

  append(trace: DecisionTrace): Promise<number | undefined> {
    return this.appendStaged(trace).durable;
  }

  /** Written and durable at once: a COMMIT with synchronous_commit on is both. */
  appendStaged(trace: DecisionTrace): StagedAppend {
    const p = new Promise<number | undefined>((resolve, reject) => {
      if (this.closed) return reject(new AuditLogError('audit log is closed'));
      this.queue.push({ trace, resolve: () => resolve(undefined), reject });
      this.scheduleFlush();
    });
    p.catch(() => {});
    return { written: p, durable: p };
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => this.flush());
  }

  /** A batch per turn; while batches are in flight, the next one grows (group commit). */
  private flush(): void {
    this.flushScheduled = false;
    while (this.queue.length > 0 && this.inFlight.size < Math.max(1, this.opts.poolSize - 2)) {
      const batch = this.queue.splice(0, this.opts.maxBatch);
      const p = this.commitBatch(batch).finally(() => {
        this.inFlight.delete(p);
        if (this.queue.length > 0) this.scheduleFlush();
      });
      this.inFlight.add(p);
    }
  }

  private async commitBatch(batch: Pending[]): Promise<void> {
    const keyId = this.signer.key.id.toString('hex');
    const kept: Pending[] = [];
    const entries: [string, string | null, string, string, number][] = [];
    const newSets: { version: string; sources: PolicySources }[] = [];
    for (const p of batch) {
      try {
        // Canonical text numbered 0, and where the number is: the sequencer puts the index
        // there without parsing the record again (its work is what bounds the cluster).
        const rec = buildRecord(p.trace, 0, keyId, this.opts);
        const text = canonical(rec);
        entries.push([rec.id, rec.session ?? null, rec.time, text, seqOffset(rec, text)]);
        kept.push(p);
      } catch (e) {
        p.reject(new AuditLogError(`audit append failed: ${(e as Error).message}`));
        continue;
      }
      const set = p.trace.set;
      if (!this.storedVersions.has(set.version) && !newSets.some((s) => s.version === set.version))
        newSets.push({ version: set.version, sources: set.sources });
    }
    if (kept.length === 0) return;
    try {
      // Rows as one JSON parameter: JSON.stringify is native, array literals are escaped in JS.
      const insert = [
        `INSERT INTO audit_entries (decision_id, session, time, body, seq_at)
           SELECT x->>0, x->>1, x->>2, x->>3, (x->>4)::int FROM json_array_elements($1::json) AS x`,
        [JSON.stringify(entries)],
      ] as const;
      if (newSets.length === 0) await this.pool.query(insert[0], [...insert[1]]);
      else {
        // The policy set commits with the first record made under it: replay finds it.
        const client = await this.pool.connect();
        try {
          await client.query('BEGIN');
          await client.query(
            `INSERT INTO audit_policy_sets (version, sources, first_seen)
               SELECT * FROM unnest($1::text[], $2::text[], $3::text[]) ON CONFLICT DO NOTHING`,
            [
              newSets.map((s) => s.version),
              newSets.map((s) => JSON.stringify(s.sources)),
              newSets.map(() => new Date().toISOString()),
            ],
          );
          await client.query(insert[0], [...insert[1]]);
          await client.query('COMMIT');
        } catch (e) {
          await client.query('ROLLBACK').catch(() => {});
          throw e;
        } finally {
          client.release();
        }
      }
    } catch (e) {
      const err = new AuditLogError(`audit append failed: ${(e as Error).message}`);
      for (const p of kept) p.reject(err);
      return;
    }
    for (const s of newSets) this.storedVersions.add(s.version);
    for (const p of kept) p.resolve();
  }

  // ---- following ----

  /** Reads records sequenced since the last read, and the newest checkpoint. */
  private follow(initial = false): Promise<void> {
    return this.exclusive(async () => {
      if (this.sequencing && !initial) return; // the sequencer grows the tree itself
      const tree = this.tree;
      for await (const [seq, hash] of this.store.leaves(tree.size)) {
        if (seq !== tree.size)
          throw new AuditLogError(
            `audit log has a gap at record ${tree.size}; run cordon audit verify`,
          );
        tree.append(hash);
      }
      const last = await this.store.latestCheckpoint();
      if (last && last.size > (this.checkpointed?.size ?? -1) && last.size <= tree.size)
        this.checkpointed = this.matching(last.note, tree, 'the newest checkpoint');
      else if (initial && !last && tree.size > 0)
        throw new AuditLogError(
          `the audit log has ${tree.size} records but no signed checkpoint: its checkpoints were deleted; run cordon audit verify`,
        );
    });
  }

  private async followLoop(): Promise<void> {
    while (!this.closed) {
      await sleep(this.opts.followMs);
      if (this.closed) return;
      try {
        await this.follow();
        this.reported.follower = undefined;
      } catch (e) {
        this.report('follower', e);
      }
    }
  }

  /** A checkpoint signed by the log's key whose root the tree produces. */
  private matching(note: string, tree: Tree, what: string): { size: number; note: string } {
    const opened = openCheckpoint(note, this.signer.key, this.origin);
    if (!opened.ok)
      throw new AuditLogError(
        `${what} does not verify (${opened.reason}); run cordon audit verify`,
      );
    const { size, root } = opened.checkpoint;
    if (size > tree.size)
      throw new AuditLogError(
        `the audit log has ${tree.size} records, but ${what} is at size ${size}: records were removed (rolled back); run cordon audit verify`,
      );
    const rootNow = size === 0 ? EMPTY_ROOT : tree.merkle.subtree(0, size);
    if (!rootNow.equals(root))
      throw new AuditLogError(
        `audit records do not match the checkpoint at size ${size} (${what}): records were rewritten; run cordon audit verify`,
      );
    return { size, note };
  }

  /** What each background task last reported: the same failure is reported once, not per retry. */
  private reported: Record<'sequencer' | 'follower', string | undefined> = {
    sequencer: undefined,
    follower: undefined,
  };

  private report(source: 'sequencer' | 'follower', e: unknown): void {
    if (this.closed) return;
    const err = e instanceof Error ? e : new Error(String(e));
    this.lastError = err.message;
    if (this.reported[source] === err.message) return;
    this.reported[source] = err.message;
    this.opts.onError(err);
  }

  // ---- the sequencer ----

  private async sequencerLoop(): Promise<void> {
    while (!this.closed) {
      let client: pg.Client | undefined;
      try {
        client = new pg.Client(connectionConfig(this.target));
        client.on('error', () => {}); // a terminated backend: the next query fails, we step down
        await client.connect();
        this.lockClient = client;
        for (;;) {
          if (this.closed) return;
          const r = await client.query<{ ok: boolean }>(
            'SELECT pg_try_advisory_lock($1, $2) AS ok',
            this.keys.sequencer,
          );
          if (r.rows[0]!.ok) break;
          await sleep(this.opts.lockRetryMs);
        }
        await this.exclusive(() => this.takeOver(client!));
        this.reported.sequencer = undefined;
        let lastSigned = 0; // what the last sequencer left unsigned is signed at once
        let idle = 0;
        while (!this.closed) {
          const n = await this.exclusive(() => this.sequence(client!));
          const signedSize = this.checkpointed?.size ?? -1;
          const wanted = this.wantedSize > signedSize;
          if (
            this.tree.size > signedSize &&
            (wanted || Date.now() - lastSigned >= this.opts.checkpointIntervalMs)
          ) {
            await this.exclusive(() => this.sign(client!));
            lastSigned = Date.now();
          }
          // Idle, it looks less often (up to 10 times the poll interval); busy, not at all.
          idle =
            n > 0 ? 0 : Math.min(idle + this.opts.sequencePollMs, 10 * this.opts.sequencePollMs);
          if (idle > 0) await sleep(idle);
        }
      } catch (e) {
        if (!this.closed) this.report('sequencer', e);
      } finally {
        this.sequencing = false;
        if (this.lockClient === client) this.lockClient = undefined;
        // Ending the session releases the lock if it still holds it.
        await client?.end().catch(() => {});
      }
      if (!this.closed) await sleep(this.opts.lockRetryMs);
    }
  }

  /**
   * Rebuilds the tree from the stored records and checks it against the newest checkpoint, and
   * the records after it against their stored hashes: a log that fails is not signed (a
   * signature over a rewritten or rolled-back log would vouch for it). A new log signs its
   * empty tree at once.
   */
  private async takeOver(client: pg.Client): Promise<void> {
    const reader = new PgAuditReader(client);
    const last = await reader.latestCheckpoint();
    const tree = new Tree();
    for await (const [seq, hash] of reader.leaves()) {
      if (seq !== tree.size)
        throw new AuditLogError(
          `audit log has a gap at record ${tree.size}; run cordon audit verify (this node does not sequence)`,
        );
      tree.append(hash);
    }
    let checkpointed: { size: number; note: string } | undefined;
    if (last) checkpointed = this.matching(last.note, tree, 'its last checkpoint');
    else if (tree.size > 0)
      throw new AuditLogError(
        `the audit log has ${tree.size} records but no signed checkpoint: its checkpoints were deleted; run cordon audit verify`,
      );
    for await (const row of reader.iterate(checkpointed?.size ?? 0)) {
      if (!hashLeaf(Buffer.from(row.record, 'utf8')).equals(row.leafHash))
        throw new AuditLogError(
          `audit record ${row.seq} does not match its stored hash; run cordon audit verify (this node does not sequence)`,
        );
    }
    await client.query(`LISTEN ${this.channel}`);
    client.on('notification', (m) => {
      if (m.channel === this.channel)
        this.wantedSize = Math.max(this.wantedSize, Number(m.payload) || 0);
    });
    this.tree = tree;
    this.checkpointed = checkpointed;
    this.sequencing = true;
    if (!checkpointed) await this.sign(client);
  }

  /** One transaction: checks the lock, numbers up to maxBatch entries, moves them to records. */
  private async sequence(client: pg.Client): Promise<number> {
    // A read first: an idle log costs one query per poll, not a transaction.
    // By the index: a scan of the table would walk the dead rows of every batch moved out.
    const any = await client.query('SELECT id FROM audit_entries ORDER BY id LIMIT 1');
    if (any.rowCount === 0) return 0;
    await client.query('BEGIN');
    let rows: StoredRecord[];
    try {
      const held = await client.query<{ held: boolean }>(
        `SELECT ${LOCK_HELD} AS held`,
        this.keys.sequencer,
      );
      if (!held.rows[0]!.held) throw new SequencerFenced('the sequencer lock is no longer held');
      const next = await client.query<{ n: string }>(
        'SELECT COALESCE(max(seq) + 1, 0) AS n FROM audit_records',
      );
      if (Number(next.rows[0]!.n) !== this.tree.size)
        throw new SequencerFenced(
          `audit_records ends at ${next.rows[0]!.n}, this sequencer's tree at ${this.tree.size}: another writer`,
        );
      const entries = await client.query<{
        id: string;
        decision_id: string;
        session: string | null;
        time: string;
        body: string;
        seq_at: number;
      }>(
        'SELECT id, decision_id, session, time, body, seq_at FROM audit_entries ORDER BY id LIMIT $1',
        [this.opts.maxBatch],
      );
      if (entries.rows.length === 0) {
        await client.query('COMMIT');
        return 0;
      }
      // A decision id already numbered (an entry replayed by hand) is not numbered twice.
      const seen = await client.query<{ decision_id: string }>(
        'SELECT decision_id FROM audit_records WHERE decision_id = ANY($1::text[])',
        [entries.rows.map((e) => e.decision_id)],
      );
      const numbered = new Set(seen.rows.map((r) => r.decision_id));
      rows = [];
      for (const e of entries.rows) {
        if (numbered.has(e.decision_id)) continue;
        const seq = this.tree.size + rows.length;
        // The canonical text with `seq` in place of the 0 (an integer is its own canonical form).
        const text = `${e.body.slice(0, e.seq_at)}${seq}${e.body.slice(e.seq_at + 1)}`;
        rows.push({
          seq,
          decisionId: e.decision_id,
          session: e.session,
          time: e.time,
          record: text,
          leafHash: hashLeaf(Buffer.from(text, 'utf8')),
        });
      }
      await client.query(
        `INSERT INTO audit_records (seq, decision_id, session, time, record, leaf_hash)
           SELECT (x->>0)::int8, x->>1, x->>2, x->>3, x->>4, decode(x->>5, 'hex')
             FROM json_array_elements($1::json) AS x`,
        [
          JSON.stringify(
            rows.map((r) => [
              r.seq,
              r.decisionId,
              r.session,
              r.time,
              r.record,
              r.leafHash.toString('hex'),
            ]),
          ),
        ],
      );
      await client.query('DELETE FROM audit_entries WHERE id = ANY($1::int8[])', [
        entries.rows.map((e) => e.id),
      ]);
      await client.query('COMMIT');
    } catch (e) {
      await client.query('ROLLBACK').catch(() => {});
      throw e;
    }
    for (const r of rows) this.tree.append(r.leafHash);
    return rows.length;
  }

  /** Signs the tree; the fenced insert refuses it unless this connection holds the lock. */
  private async sign(client: pg.Client): Promise<void> {
    const size = this.tree.size;
    if (size <= (this.checkpointed?.size ?? -1)) return;
    const note = signNote(
      checkpointText({ origin: this.origin, size, root: this.tree.merkle.root() }),
      this.signer.key,
      this.signer.privateKey,
    );
    const ok = await fencedCheckpointInsert(client, this.keys, {
      size,
      time: new Date().toISOString(),
      note,
    });
    if (!ok)
      throw new SequencerFenced(
        `checkpoint at size ${size} refused: this node no longer holds the sequencer lock, or a larger checkpoint exists`,
      );
    this.checkpointed = { size, note };
  }

  // ---- reads ----

  /** The newest checkpoint this node checked against its tree. */
  async checkpoint(): Promise<string | undefined> {
    await this.follow();
    return this.checkpointed?.note;
  }

  /**
   * Inclusion proof of a decision against the newest checkpoint that covers it, once the record
   * is sequenced and signed (asks the sequencer for a checkpoint, waits up to proofTimeoutMs).
   */
  async proof(decisionId: string): Promise<InclusionBundle | undefined> {
    const until = Date.now() + this.opts.proofTimeoutMs;
    let asked = false;
    for (;;) {
      let row = await this.store.byDecisionId(decisionId);
      if (!row) {
        const pending = await this.pool.query(
          'SELECT 1 FROM audit_entries WHERE decision_id = $1',
          [decisionId],
        );
        // Sequenced between the two reads?
        if (pending.rowCount === 0) row = await this.store.byDecisionId(decisionId);
        if (!row && pending.rowCount === 0) return undefined;
      }
      if (row && row.seq < (this.checkpointed?.size ?? 0) && row.seq < this.tree.size)
        return inclusionBundle(this.checkpointed, this.tree.merkle, row, this.verifierKey);
      if (Date.now() > until)
        throw new ProofNotReady(
          row
            ? `decision ${decisionId} is record ${row.seq}, not yet covered by a checkpoint this node has checked (after ${this.opts.proofTimeoutMs} ms); try again`
            : `decision ${decisionId} is not sequenced yet (after ${this.opts.proofTimeoutMs} ms): is a sequencer running? Try again`,
        );
      if (row && !asked) {
        asked = true;
        // The sequencer, wherever it runs, signs a checkpoint covering it now.
        const size = row.seq + 1;
        if (this.sequencing) this.wantedSize = Math.max(this.wantedSize, size);
        else await this.pool.query('SELECT pg_notify($1, $2)', [this.channel, String(size)]);
      }
      await sleep(Math.min(50, this.opts.followMs));
      await this.follow();
    }
  }

  // ---- closing ----

  /** Waits for appends in flight, stops following and sequencing, releases the lock. */
  async close(): Promise<void> {
    if (this.closed) return;
    while (this.queue.length > 0 || this.inFlight.size > 0) {
      this.flush();
      await Promise.all([...this.inFlight]);
    }
    this.closed = true;
    // The sequencer signs what it numbered, then releases the lock by ending its session.
    const client = this.lockClient;
    if (client && this.sequencing) {
      await this.exclusive(async () => {
        await this.sequence(client);
        await this.sign(client);
      }).catch(() => {});
    }
    await client?.end().catch(() => {});
    await Promise.all(this.loops);
    await this.pool.end();
  }

  /** Ends the sequencer's connection as a crash would (tests: the lock goes to another node). */
  async dropSequencerConnection(): Promise<void> {
    const c = this.lockClient;
    if (!c) return;
    const pid = (c as unknown as { processID?: number }).processID;
    if (pid !== undefined)
      await this.pool.query('SELECT pg_terminate_backend($1)', [pid]).catch(() => {});
  }
}

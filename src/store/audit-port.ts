// The audit store port: what the decision service, the audit routes, `cordon audit verify`,
// replay and the other audit commands need from a log, whatever keeps it. Two implementations:
// the embedded log (audit/log.ts over audit/sqlite-store.ts, one writer per data directory) and
// the cluster log (audit/cluster/, PostgreSQL, every node appends, one sequencer signs).
//
// Reads may answer synchronously (SQLite) or asynchronously (PostgreSQL): callers await them,
// which costs the embedded store nothing and keeps its store usable unchanged.

import type { PolicySources } from '../core/compile.js';
import type { DecisionTrace } from '../core/engine.js';
import type { SigningKey } from '../audit/keys.js';
import type { Hash } from '../audit/merkle.js';
import type { AuditRecord } from '../audit/record.js';

export type Awaitable<T> = T | Promise<T>;

/** One record as stored: its canonical text, the columns queries use, its leaf hash. */
export interface StoredRecord {
  seq: number;
  decisionId: string;
  session: string | null;
  time: string;
  record: string;
  leafHash: Hash;
}

export interface StoredCheckpoint {
  size: number;
  time: string;
  note: string;
}

export interface RecordQuery {
  session?: string;
  since?: string;
  after?: number;
  limit?: number;
}

/**
 * Reading a log: the records in leaf order, its checkpoints, and the policy sets decisions
 * were made under (by version, for replay). The origin is the meta key "origin".
 */
export interface AuditReader {
  getMeta(key: string): Awaitable<string | undefined>;
  count(): Awaitable<number>;
  /** [seq, leaf hash] of every record in seq order. */
  leaves(): Iterable<[number, Hash]> | AsyncIterable<[number, Hash]>;
  /** Every record from seq `from` on, in seq order. */
  iterate(from?: number): Iterable<StoredRecord> | AsyncIterable<StoredRecord>;
  byDecisionId(id: string): Awaitable<StoredRecord | undefined>;
  query(opts: RecordQuery): Awaitable<StoredRecord[]>;
  /** The newest n records, oldest first. */
  tail(n: number): Awaitable<StoredRecord[]>;
  checkpoints(): Awaitable<StoredCheckpoint[]>;
  checkpointAt(size: number): Awaitable<StoredCheckpoint | undefined>;
  latestCheckpoint(): Awaitable<StoredCheckpoint | undefined>;
  policySet(version: string): Awaitable<PolicySources | undefined>;
  close(): Awaitable<void>;
}

export interface InclusionBundle {
  decisionId: string;
  index: number;
  record: AuditRecord;
  leafHash: string;
  treeSize: number;
  inclusion: string[];
  checkpoint: string;
  /** The log's verifier key, for reference: verify against a copy you trust. */
  verifierKey: string;
}

/**
 * An append's two stages. The index is known at once in the embedded log; in the cluster log
 * a sequencer assigns it later (undefined here: ask `proof(decisionId)` for it).
 */
export interface StagedAppend {
  /** The record survives a crash of this process. */
  written: Promise<number | undefined>;
  /** The record survives power loss too; rejects whenever `written` does. */
  durable: Promise<number | undefined>;
}

/** A running log, as the decision service, the HTTP routes and `cordon serve` use it. */
export interface AuditService {
  /** Resolves once the record is durable; rejects if it could not be made so (deny). */
  append(trace: DecisionTrace): Promise<number | undefined>;
  appendStaged(trace: DecisionTrace): StagedAppend;
  /** The newest checkpoint note this node can vouch for (signing one first where it can). */
  checkpoint(): Promise<string | undefined>;
  /** Inclusion proof of a decision; undefined when the log has no such decision. */
  proof(decisionId: string): Promise<InclusionBundle | undefined>;
  /** Records in the tree as this node sees it. */
  readonly size: number;
  readonly verifierKey: string;
  readonly signer: SigningKey;
  readonly origin: string;
  readonly store: AuditReader;
  close(): Promise<void>;
}

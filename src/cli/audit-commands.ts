// `cordon audit …` and `cordon policy whatif`: read the audit log in a data directory (read-only,
// so they are safe beside a running server), or a cluster's log in PostgreSQL (--postgres).

import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import type { InclusionBundle } from '../audit/log.js';
import type { AuditRecord } from '../audit/record.js';
import type { AuditReader } from '../store/audit-port.js';
import { parseDurationSeconds } from './durations.js';

/** The audit subsystem, loaded when an audit command runs (not for `cordon --help`). */
const lib = () => import('./audit-lib.js');

export class AuditCliError extends Error {}

type Exit = (code: number) => void;
const out = (s: string) => process.stdout.write(`${s}\n`);
const DEFAULT_DATA = './.cordon';
const VERSION = '0.1.0';

/** Where the log is: a data directory, or a cluster's PostgreSQL (and schema). */
interface LogSource {
  data: string;
  postgres?: string;
  schema?: string;
}

async function openStore(o: LogSource): Promise<AuditReader> {
  if (o.postgres !== undefined) {
    // PostgreSQL's client is loaded only for a cluster's log.
    const { openPgReader } = await import('../audit/cluster/schema.js');
    try {
      return await openPgReader({ url: o.postgres, schema: o.schema });
    } catch (e) {
      throw new AuditCliError(`audit log in PostgreSQL: ${(e as Error).message}`);
    }
  }
  const { AUDIT_DB, SqliteAuditStore } = await lib();
  const file = join(o.data, AUDIT_DB);
  if (!existsSync(file)) throw new AuditCliError(`no audit log in ${o.data} (looked for ${file})`);
  return new SqliteAuditStore(file, { readonly: true });
}

async function originOf(store: AuditReader): Promise<string> {
  const origin = await store.getMeta('origin');
  if (!origin) throw new AuditCliError('the audit log has no origin: not a Cordon log');
  return origin;
}

/**
 * The trusted key: --key when given, else the one beside the log (in the data directory, or the
 * one the cluster's nodes recorded in PostgreSQL).
 */
async function trustedKey(o: LogSource, key: string | undefined, store?: AuditReader) {
  const { keyPaths, parseVerifierKey, readVerifierKey } = await lib();
  if (key === undefined && o.postgres !== undefined && store) {
    const stored = await store.getMeta('verifier_key');
    if (!stored) throw new AuditCliError('the audit log in PostgreSQL records no verifier key');
    return parseVerifierKey(stored);
  }
  const source = key ?? keyPaths(o.data).verifier;
  try {
    return await readVerifierKey(source);
  } catch (e) {
    throw new AuditCliError(
      `verifier key ${key === undefined ? source : '(--key)'}: ${(e as Error).message}`,
    );
  }
}

/** The key was read from beside the log itself (no --key, or --key naming a file there). */
async function keyFromDataDir(o: LogSource, key: string | undefined): Promise<boolean> {
  const { isInside } = await lib();
  return (
    key === undefined || (o.postgres === undefined && existsSync(key) && isInside(key, o.data))
  );
}

function nonNegativeInteger(flag: string) {
  return (v: string): number => {
    if (!/^\d+$/.test(v)) throw new AuditCliError(`${flag} takes a record count, not "${v}"`);
    return Number(v);
  };
}

const collect = (v: string, all: string[] = []) => [...all, v];

interface VerifyCliOptions extends LogSource {
  key?: string;
  checkpoint?: string[];
  minSize?: number;
  saveCheckpoint?: string;
  json?: boolean;
}

/** "2026-11-01T00:00:00Z" as is, or a duration back from now: 90s, 15m, 24h, 7d. */
export function parseSince(since: string | undefined, now = new Date()): string | undefined {
  if (since === undefined) return undefined;
  const seconds = /[smhd]$/.test(since) ? parseDurationSeconds(since) : undefined;
  if (seconds !== undefined) return new Date(now.getTime() - seconds * 1000).toISOString();
  const t = Date.parse(since);
  if (Number.isNaN(t))
    throw new AuditCliError(`--since ${since}: give an ISO time or a duration like 24h`);
  return new Date(t).toISOString();
}

const parse = (row: { record: string }) => JSON.parse(row.record) as AuditRecord;
const dataOption = ['--data <dir>', 'data directory', DEFAULT_DATA] as const;
const postgresOption = [
  '--postgres <url>',
  "a cluster's log in PostgreSQL (storage.postgres) instead of the data directory",
] as const;
const schemaOption = [
  '--schema <name>',
  'with --postgres: the schema holding the log (storage.schema; default cordon)',
] as const;

export function registerAuditCommands(program: Command, policy: Command, exit: Exit): void {
  const audit = program
    .command('audit')
    .description('inspect, prove and replay the tamper-evident decision log');

  audit
    .command('verify')
    .description(
      'recompute the log and check it against checkpoints signed by a trusted key (exit 1 naming the first bad index)',
    )
    .option(...dataOption)
    .option(...postgresOption)
    .option(...schemaOption)
    .option(
      '--key <vkey>',
      'the verifier key you pinned (text or file), kept outside the data directory',
    )
    .option(
      '--checkpoint <file>',
      'checkpoints seen earlier (a witness file, a saved note): the log must extend each (repeatable)',
      collect,
    )
    .option(
      '--min-size <n>',
      'the newest checkpoint must cover at least n records',
      nonNegativeInteger('--min-size'),
    )
    .option(
      '--save-checkpoint <file>',
      'once verified, append the newest checkpoint to file (for --checkpoint next time)',
    )
    .option(
      '--json',
      'print one JSON object {ok, records, checkpoints, signedSize, key, problem?} (same exit codes)',
    )
    .action(async (o: VerifyCliOptions) => {
      const { appendWitnessFile, readWitnessFile, SingleBar, verifyStore } = await lib();
      const witnessed: string[] = [];
      for (const file of o.checkpoint ?? []) {
        try {
          witnessed.push(...(await readWitnessFile(file)));
        } catch (e) {
          throw new AuditCliError((e as Error).message);
        }
      }
      const store = await openStore(o);
      try {
        const key = await trustedKey(o, o.key, store);
        const bar = process.stderr.isTTY
          ? new SingleBar({
              format: 'verify [{bar}] {value}/{total} records',
              stream: process.stderr,
            })
          : undefined;
        bar?.start(await store.count(), 0);
        const report = await verifyStore(store, key, await originOf(store), {
          ...(o.minSize !== undefined ? { minSize: o.minSize } : {}),
          witnessed,
          progress: (done) => bar?.update(done),
        });
        bar?.stop();
        const keyName = `${key.name}+${key.id.toString('hex')}`;
        // For --json: one object whatever the outcome, so a script reads the reason without parsing prose.
        const json = (ok: boolean, problem?: { index?: number; message: string }) =>
          out(
            JSON.stringify({
              ok,
              records: report.records,
              checkpoints: report.checkpoints,
              signedSize: report.signedSize ?? null,
              key: keyName,
              ...(report.witnessed ? { witnessed: report.witnessed } : {}),
              ...(problem ? { problem } : {}),
            }),
          );
        if (!report.ok) {
          if (o.json) json(false, report.problem);
          else out(`TAMPERED at index ${report.problem!.index}: ${report.problem!.message}`);
          return exit(1);
        }
        if (await keyFromDataDir(o, o.key)) {
          // Whoever can write the data directory can replace this key and re-sign everything.
          const where = o.postgres === undefined ? o.data : 'the database';
          const message = `the log is consistent with the key stored in ${where}, which proves nothing against whoever can write ${where}: pass --key with the verifier key you keep elsewhere (${keyName})`;
          if (o.json) json(false, { message: `UNTRUSTED: ${message}` });
          else out(`UNTRUSTED: ${message}`);
          return exit(1);
        }
        const uncovered = report.records - report.signedSize!;
        if (o.json) json(true);
        else
          out(
            `ok: ${report.records} records, ${report.checkpoints} checkpoints verified with ${keyName}; newest at size ${report.signedSize}` +
              (uncovered > 0 ? ` (${uncovered} later records not signed yet)` : '') +
              (report.witnessed
                ? `; consistent with ${report.witnessed} witnessed checkpoints`
                : ''),
          );
        if (o.saveCheckpoint !== undefined)
          await appendWitnessFile(
            o.saveCheckpoint,
            (await store.checkpointAt(report.signedSize!))!.note,
          );
        if (o.minSize === undefined && witnessed.length === 0)
          (o.json ? (l: string) => process.stderr.write(`${l}\n`) : out)(
            'note: a rollback (newest records and checkpoints deleted) is caught only with --checkpoint or --min-size',
          );
      } finally {
        await store.close();
      }
    });

  audit
    .command('proof')
    .description('inclusion proof of a decision with the latest signed checkpoint, as JSON')
    .argument('<decisionId>')
    .option(...dataOption)
    .option(...postgresOption)
    .option(...schemaOption)
    .action(async (id: string, o: LogSource) => {
      const { inclusionBundle, keyPaths, treeFromReader } = await lib();
      const store = await openStore(o);
      try {
        const row = await store.byDecisionId(id);
        if (!row) throw new AuditCliError(`no decision ${id} in the log`);
        const vkey =
          o.postgres !== undefined
            ? ((await store.getMeta('verifier_key')) ?? '')
            : (await readFile(keyPaths(o.data).verifier, 'utf8')).trim();
        // The checkpoint first: the tree read after it covers it.
        const cp = await store.latestCheckpoint();
        const tree = await treeFromReader(store);
        out(JSON.stringify(inclusionBundle(cp, tree, row, vkey), null, 2));
      } finally {
        await store.close();
      }
    });

  audit
    .command('check-proof')
    .description("verify a proof offline with the log's public key (exit 0 valid, 1 not)")
    .argument('<file>')
    .option('--key <vkey>', 'trusted verifier key (text or file)')
    .option(...dataOption)
    .action(async (file: string, o: { key?: string; data: string }) => {
      let bundle: InclusionBundle;
      try {
        bundle = JSON.parse(await readFile(file, 'utf8')) as InclusionBundle;
      } catch (e) {
        throw new AuditCliError(`${file}: ${(e as Error).message}`);
      }
      const { checkInclusionBundle } = await lib();
      const r = checkInclusionBundle(bundle, await trustedKey(o, o.key));
      if (!r.ok) {
        out(`INVALID: ${r.reason}`);
        return exit(1);
      }
      out(
        `valid: decision ${bundle.decisionId} is record ${r.index} of the log signed at size ${r.treeSize}`,
      );
    });

  audit
    .command('show')
    .description('one decision record')
    .argument('<decisionId>')
    .option(...dataOption)
    .option(...postgresOption)
    .option(...schemaOption)
    .action(async (id: string, o: LogSource) => {
      const store = await openStore(o);
      try {
        const row = await store.byDecisionId(id);
        if (!row) throw new AuditCliError(`no decision ${id} in the log`);
        out(JSON.stringify(parse(row), null, 2));
      } finally {
        await store.close();
      }
    });

  audit
    .command('tail')
    .description('the latest records as JSON lines; -f follows new ones')
    .option('-n, --lines <n>', 'how many', (v) => Number(v), 10)
    .option('-f, --follow', 'keep printing new records')
    .option(...dataOption)
    .option(...postgresOption)
    .option(...schemaOption)
    .action(async (o: LogSource & { lines: number; follow?: boolean }) => {
      const store = await openStore(o);
      let last = -1;
      for (const row of await store.tail(o.lines)) {
        out(row.record);
        last = row.seq;
      }
      if (!o.follow) return store.close();
      const stop = new Promise<void>((resolve) => process.once('SIGINT', () => resolve()));
      let stopped = false;
      void stop.then(() => (stopped = true));
      while (!stopped) {
        for (const row of await store.query({ after: last, limit: 1000 })) {
          out(row.record);
          last = row.seq;
        }
        await Promise.race([stop, new Promise((r) => setTimeout(r, 250))]);
      }
      await store.close();
    });

  audit
    .command('export')
    .description('every record as JSON lines, raw or as OCSF API Activity events')
    .requiredOption('--format <format>', 'jsonl or ocsf')
    .option('--since <time>', 'ISO time or duration (24h, 7d)')
    .option(...dataOption)
    .option(...postgresOption)
    .option(...schemaOption)
    .action(async (o: LogSource & { format: string; since?: string }) => {
      if (o.format !== 'jsonl' && o.format !== 'ocsf')
        throw new AuditCliError('--format must be jsonl or ocsf');
      const { toOcsf } = await lib();
      const store = await openStore(o);
      try {
        const since = parseSince(o.since);
        const logName = await originOf(store);
        for await (const row of store.iterate()) {
          if (since && row.time < since) continue;
          out(
            o.format === 'jsonl'
              ? row.record
              : JSON.stringify(toOcsf(parse(row), { version: VERSION, logName })),
          );
        }
      } finally {
        await store.close();
      }
    });

  audit
    .command('replay')
    .description("re-evaluate a session's decisions against the policy versions recorded with them")
    .requiredOption('--session <id>')
    .option(...dataOption)
    .option(...postgresOption)
    .option(...schemaOption)
    .action(async (o: LogSource & { session: string }) => {
      const { replaySession } = await lib();
      const store = await openStore(o);
      try {
        const { results, failures } = await replaySession(store, o.session);
        if (results.length === 0 && failures.length === 0)
          throw new AuditCliError(`no decisions for session ${o.session}`);
        const differ = results.filter((r) => !r.reproduces);
        for (const r of results) {
          const mark = r.reproduces ? '✓' : '✗';
          const detail = r.reproduces
            ? r.decision
            : `recorded ${r.record.decision}, now ${r.decision} (${r.policies.join(', ') || 'no policies'})`;
          out(
            `${mark} ${r.record.seq} ${r.record.id} ${r.record.action} ${r.record.resource.type}::${r.record.resource.id}: ${detail}${r.caveat && !r.reproduces ? ` [${r.caveat}]` : ''}`,
          );
        }
        for (const f of failures) out(`✗ ${f}`);
        out(
          `${results.length - differ.length} reproduced, ${differ.length + failures.length} differ`,
        );
        if (differ.length + failures.length > 0) return exit(1);
      } finally {
        await store.close();
      }
    });

  policy
    .command('shadow-report')
    .description(
      'summarize from the audit log what each shadow policy (@mode("shadow")) would have changed',
    )
    .option('--since <time>', 'ISO time or duration (24h, 7d)')
    .option('--json', 'print the report as one JSON document')
    .option(...dataOption)
    .option(...postgresOption)
    .option(...schemaOption)
    .action(async (o: LogSource & { since?: string; json?: boolean }) => {
      const { formatShadowReport, shadowReport } = await lib();
      const since = parseSince(o.since);
      const store = await openStore(o);
      try {
        const rows = await store.query(since ? { since } : {});
        const report = shadowReport(rows.map(parse));
        if (o.json) out(JSON.stringify(report, null, 2));
        else for (const line of formatShadowReport(report)) out(line);
      } finally {
        await store.close();
      }
    });

  policy
    .command('whatif')
    .description(
      'replay recorded requests against a candidate policy set and show what would change',
    )
    .requiredOption('--candidate <dir>', 'the candidate policy directory')
    .option('--since <time>', 'ISO time or duration (24h, 7d)')
    .option(...dataOption)
    .option(...postgresOption)
    .option(...schemaOption)
    .option('--json', 'print the report as one JSON object')
    .action(async (o: LogSource & { candidate: string; since?: string; json?: boolean }) => {
      const { formatLocated, loadPolicyDir, whatIf, whatIfJson } = await lib();
      const compiled = await loadPolicyDir(o.candidate);
      if (!compiled.ok) {
        for (const e of compiled.errors) process.stderr.write(`${formatLocated(e)}\n`);
        return exit(1);
      }
      const store = await openStore(o);
      try {
        const report = await whatIf(store, compiled.set, parseSince(o.since));
        if (o.json) {
          const version = compiled.set.version;
          out(JSON.stringify({ candidate: o.candidate, version, ...whatIfJson(report) }));
          return;
        }
        out(
          `${report.total} recorded decisions replayed against ${o.candidate} (${compiled.set.version})`,
        );
        out(`${report.changed} would change`);
        for (const [transition, t] of [...report.transitions].sort(
          (a, b) => b[1].count - a[1].count,
        )) {
          out(`  ${transition}: ${t.count}`);
          for (const e of t.examples) {
            const r = e.record;
            out(
              `    ${r.id} ${r.agent ?? '?'}${r.user ? ` for ${r.user}` : ''} ${r.action} ${r.resource.type}::${r.resource.id} (now: ${e.policies.join(', ') || 'no policies'})`,
            );
          }
        }
      } finally {
        await store.close();
      }
    });
}

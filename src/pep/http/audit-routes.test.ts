import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { AuditLog } from '../../audit/log.js';
import { EXAMPLE_POLICIES, exampleEngine, tempDir } from '../../testing/fixtures.js';
import { testAuth } from '../../testing/auth.js';
import { Secret } from '../../identity/credentials.js';
import { runCli } from '../../testing/cli.js';
import { buildApp } from './app.js';
import { DecisionService } from '../../decision/service.js';
import { Metrics } from '../../decision/metrics.js';

const cordon = (...args: string[]) => runCli(args);

let app: FastifyInstance;
let audit: AuditLog;
let base: string;
let dataDir: string;
let admin: { authorization: string };
const PEP_SECRET = 'a-pep-credential-for-tests';
/** GET with the admin credential. */
const read = (path: string) => fetch(`${base}${path}`, { headers: admin });

before(async () => {
  dataDir = await tempDir('cordon-audit-http-');
  audit = await AuditLog.open(dataDir);
  const metrics = new Metrics();
  const logger = pino({ level: 'silent' });
  const t = testAuth(undefined, { peps: [{ name: 'sdk', secret: new Secret(PEP_SECRET) }] });
  admin = t.admin;
  app = buildApp({
    decisions: new DecisionService(await exampleEngine(), metrics, logger, audit),
    metrics,
    logger,
    auth: t.auth,
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const addr = app.server.address();
  base = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
});
after(async () => {
  await app.close();
  await audit.close();
});

const decide = async (body: unknown, headers: Record<string, string> = {}) =>
  (await (
    await fetch(`${base}/v1/decide`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    })
  ).json()) as {
    decision: string;
    decisionId: string;
  };

describe('audit over HTTP and from the CLI', () => {
  it("serves the checkpoint, proofs that verify offline, and a session's records", async () => {
    for (const path of ['/v1/audit/checkpoint', '/v1/audit/records', '/v1/audit/proof/x'])
      assert.equal((await fetch(`${base}${path}`)).status, 401, `${path} needs a credential`);
    assert.equal(audit.size, 0, 'a refused read is not even decided');
    assert.match(
      (await audit.checkpoint())!,
      /^cordon\.local\/audit\/[0-9a-f]{16}\n0\n/,
      'a new log has signed its empty tree',
    );
    const empty = await read('/v1/audit/checkpoint');
    assert.equal(empty.status, 200);
    const first = await decide({
      agent: 'ledger-bot',
      session: 'web-1',
      action: 'invokeTool',
      resource: { type: 'Tool', id: 'erp/read_ledger' },
    });
    // A PEP with its credential links the decision to its parent; it is recorded under its name.
    const second = await decide(
      {
        agent: 'director-agent',
        user: 'bob',
        session: 'web-1',
        parent: first.decisionId,
        pep: 'named-in-body',
        action: 'invokeTool',
        resource: { type: 'Tool', id: 'postgres/drop_table' },
      },
      { authorization: `Bearer ${PEP_SECRET}` },
    );
    // An anonymous caller cannot choose what the record says about where it came from.
    const third = await decide({
      agent: 'analyst-bot',
      session: 'other',
      parent: first.decisionId,
      pep: 'mcp',
      action: 'readFile',
      resource: { type: 'FilePath', id: '/etc/shadow' },
    });

    type Row = { id: string; parent?: string; pep?: string; decision: string };
    const records = (await (await read('/v1/audit/records?session=web-1')).json()) as {
      records: Row[];
    };
    assert.deepEqual(
      records.records.map((r) => r.id),
      [first.decisionId, second.decisionId],
    );
    assert.equal(
      records.records[1]?.parent,
      first.decisionId,
      'the execution graph edge is recorded',
    );
    assert.equal(records.records[1]?.pep, 'sdk', "the PEP's credential names it, not the body");
    assert.equal(records.records[1]?.decision, 'deny');
    const other = (await (await read('/v1/audit/records?session=other')).json()) as {
      records: Row[];
    };
    assert.equal(other.records[0]?.id, third.decisionId);
    assert.equal(other.records[0]?.pep, 'http', 'a body-named pep is ignored');
    assert.equal(other.records[0]?.parent, undefined, 'a body-named parent is ignored');
    // Reading the log is itself a decision in it, made for the admin.
    const reads = (await (await read('/v1/audit/records')).json()) as {
      records: { action: string; user?: string; decision: string }[];
    };
    assert.ok(
      reads.records.some(
        (r) => r.action === 'readAudit' && r.user === 'cordon-admin' && r.decision === 'allow',
      ),
    );

    const proofRes = await read(`/v1/audit/proof/${second.decisionId}`);
    assert.equal(proofRes.status, 200);
    const proofFile = join(await tempDir(), 'proof.json');
    await writeFile(proofFile, await proofRes.text());

    const note = await (await read('/v1/audit/checkpoint')).text();
    assert.match(
      note,
      /^cordon\.local\/audit\/[0-9a-f]{16}\n\d+\n[A-Za-z0-9+/=]{44}\n\n— cordon\.local\/audit\/[0-9a-f]{16} [A-Za-z0-9+/=]+\n$/,
    );

    // Offline: only the proof file and the public key.
    const vkey = audit.verifierKey;
    const ok = await cordon('audit', 'check-proof', proofFile, '--key', vkey);
    assert.equal(ok.status, 0, ok.stdout + ok.stderr);
    const proof = JSON.parse(await (await read(`/v1/audit/proof/${second.decisionId}`)).text()) as {
      record: { decision: string };
    };
    proof.record.decision = 'allow';
    await writeFile(proofFile, JSON.stringify(proof));
    const forged = await cordon('audit', 'check-proof', proofFile, '--key', vkey);
    assert.equal(forged.status, 1);
    assert.match(forged.stdout, /INVALID/);

    assert.equal((await read('/v1/audit/proof/nope')).status, 404);
    assert.equal((await read('/v1/audit/records?limit=0')).status, 400);
  });

  it('verify, show, export and replay read the same log beside the running server', async () => {
    await decide({
      agent: 'ledger-bot',
      session: 'cli-1',
      action: 'invokeTool',
      resource: { type: 'Tool', id: 'erp/wire_transfer' },
    });
    await audit.checkpoint();
    const v = await cordon('audit', 'verify', '--data', dataDir, '--key', audit.verifierKey);
    assert.equal(v.status, 0, v.stdout + v.stderr);
    assert.match(v.stdout, /^ok: \d+ records, \d+ checkpoints verified/);
    const vj = await cordon(
      'audit',
      'verify',
      '--json',
      '--data',
      dataDir,
      '--key',
      audit.verifierKey,
    );
    assert.equal(vj.status, 0, vj.stdout + vj.stderr);
    const report = JSON.parse(vj.stdout) as Record<string, unknown>;
    assert.equal(report.ok, true);
    assert.ok((report.records as number) >= 4 && (report.checkpoints as number) >= 1);
    assert.equal(typeof report.signedSize, 'number');
    assert.match(report.key as string, /\+[0-9a-f]{8}$/);
    assert.equal(report.problem, undefined);
    // The key beside the log proves nothing: exit 1, and the JSON says why.
    const untrusted = await cordon('audit', 'verify', '--json', '--data', dataDir);
    assert.equal(untrusted.status, 1);
    const u = JSON.parse(untrusted.stdout) as { ok: boolean; problem: { message: string } };
    assert.equal(u.ok, false);
    assert.match(u.problem.message, /^UNTRUSTED/);

    const whatif = await cordon(
      'policy',
      'whatif',
      '--json',
      '--candidate',
      EXAMPLE_POLICIES,
      '--data',
      dataDir,
    );
    assert.equal(whatif.status, 0, whatif.stdout + whatif.stderr);
    const w = JSON.parse(whatif.stdout) as {
      total: number;
      changed: number;
      transitions: unknown[];
    };
    assert.ok(w.total >= 1);
    assert.deepEqual([w.changed, w.transitions], [0, []], 'the same policies change nothing');

    const ocsf = (await cordon('audit', 'export', '--format', 'ocsf', '--data', dataDir)).stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.ok(ocsf.length >= 4);
    assert.equal(ocsf[0]!.class_uid, 6003);
    assert.ok(ocsf.some((e) => e.action === 'Denied' && e.disposition === 'Blocked'));
    assert.ok(
      ocsf.some((e) => e.disposition === 'Delayed'),
      'require_approval is a delayed disposition',
    );

    const replay = await cordon('audit', 'replay', '--session', 'cli-1', '--data', dataDir);
    assert.equal(replay.status, 0, replay.stdout);
    assert.match(replay.stdout, /1 reproduced, 0 differ/);
    assert.equal(
      (await cordon('audit', 'replay', '--session', 'none', '--data', dataDir)).status,
      1,
    );

    const tail = (await cordon('audit', 'tail', '-n', '2', '--data', dataDir)).stdout
      .trim()
      .split('\n');
    assert.equal(tail.length, 2);
    const last = JSON.parse(tail[1]!) as { id: string; session: string };
    assert.equal(last.session, 'cli-1');
    assert.equal(
      (
        JSON.parse((await cordon('audit', 'show', last.id, '--data', dataDir)).stdout) as {
          id: string;
        }
      ).id,
      last.id,
    );
    assert.equal((await cordon('audit', 'show', 'missing', '--data', dataDir)).status, 1);
    assert.equal(
      (
        await cordon(
          'audit',
          'export',
          '--format',
          'jsonl',
          '--since',
          '2999-01-01T00:00:00Z',
          '--data',
          dataDir,
        )
      ).stdout,
      '',
    );
    assert.equal((await cordon('audit', 'export', '--format', 'xml', '--data', dataDir)).status, 1);
  });

  it('verify exits 1 and names the index when a copy of the log is altered', async () => {
    await audit.checkpoint();
    const copy = await tempDir('cordon-audit-copy-');
    const { cp } = await import('node:fs/promises');
    const Database = (await import('better-sqlite3')).default;
    const src = new Database(join(dataDir, 'audit.db'), { readonly: true });
    await src.backup(join(copy, 'audit.db'));
    src.close();
    await cp(join(dataDir, 'keys'), join(copy, 'keys'), { recursive: true });
    const db = new Database(join(copy, 'audit.db'));
    const rec = db.prepare('SELECT record FROM records WHERE seq = 1').pluck().get() as string;
    const flipped = rec.includes('"decision":"allow"')
      ? rec.replace('"decision":"allow"', '"decision":"deny"')
      : rec.replace('"decision":"deny"', '"decision":"allow"');
    assert.notEqual(flipped, rec);
    db.prepare('UPDATE records SET record = ? WHERE seq = 1').run(flipped);
    db.close();
    const r = await cordon('audit', 'verify', '--data', copy, '--key', audit.verifierKey);
    assert.equal(r.status, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /^TAMPERED at index 1: record 1 does not match its stored hash/);
    const j = await cordon('audit', 'verify', '--json', '--data', copy, '--key', audit.verifierKey);
    assert.equal(j.status, 1);
    const report = JSON.parse(j.stdout) as {
      ok: boolean;
      problem: { index: number; message: string };
    };
    assert.equal(report.ok, false);
    assert.equal(report.problem.index, 1);
    assert.match(report.problem.message, /does not match its stored hash/);
  });
});

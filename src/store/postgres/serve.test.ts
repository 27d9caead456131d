// cordon serve on the PostgreSQL backend, as a user sees it: /healthz tells the state of each
// storage part, and a decision made while PostgreSQL is gone is denied with a reason (never
// allowed unrecorded), until the server is back. PostgreSQL is reached through a relay the test
// cuts; skipped, with the reason, without the test server.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { configSchema } from '../../config/config.js';
import { startServer, type RunningServer } from '../../runtime/start.js';
import { EXAMPLE_POLICIES, tempDir } from '../../testing/fixtures.js';
import {
  TEST_POSTGRES,
  cuttableLink,
  serviceSkips,
  throwawaySchema,
  type CuttableLink,
} from '../../testing/services.js';

const { postgres: pgMissing } = await serviceSkips();

describe('cordon serve on PostgreSQL', { skip: pgMissing }, () => {
  const schema = throwawaySchema('serve');
  let link: CuttableLink;
  let server: RunningServer;

  before(async () => {
    link = await cuttableLink(TEST_POSTGRES);
    server = await startServer(
      configSchema.parse({
        policies: EXAMPLE_POLICIES,
        data: await tempDir('cordon-pg-serve-'),
        port: 0,
        watch: false,
        log: { level: 'silent' },
        storage: { postgres: link.url, schema: schema.name },
      }),
    );
  });
  after(async () => {
    await server?.close();
    await link?.close();
    await schema.drop();
  });

  const health = async () =>
    ((await (await fetch(`${server.url}/healthz`)).json()) as { storage?: Record<string, string> })
      .storage;
  const decide = async () =>
    (await (
      await fetch(`${server.url}/v1/decide`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          agent: 'ledger-bot',
          session: 's-1',
          action: 'invokeTool',
          resource: { type: 'Tool', id: 'erp/read_ledger' },
          input: { query: 'select 1' },
        }),
      })
    ).json()) as { decision: string; reasons: { message?: string }[] };

  it('reports the storage parts in /healthz, denies while PostgreSQL is gone, and recovers', async () => {
    assert.deepEqual(await health(), { postgres: 'ok', notifications: 'ok' });
    assert.equal((await decide()).decision, 'allow');
    await link.cut();
    const denied = await decide();
    assert.equal(denied.decision, 'deny');
    assert.ok(
      denied.reasons.some((r) => r.message),
      'the deny says why',
    );
    assert.match((await health())?.postgres ?? '', /^down: PostgreSQL at /);
    await link.restore();
    const until = Date.now() + 20_000;
    while ((await decide()).decision !== 'allow') {
      if (Date.now() > until) throw new Error('decisions did not recover within 20 s');
      await new Promise((r) => setTimeout(r, 200));
    }
  });
});

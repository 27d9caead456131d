// What a command loads (issue 21: a fast CLI). A short command's time is mostly its imports, so
// these check that a command does not load a subsystem its run does not use.

import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { CLI } from '../testing/cli.js';
import { EXAMPLE_POLICIES, tempDir } from '../testing/fixtures.js';
import { loadedPackages } from '../testing/loaded-packages.js';

const REQUEST = fileURLToPath(new URL('../../examples/requests/side-door.json', import.meta.url));
const CEDAR = '@cedar-policy/cedar-wasm';

describe('what a command loads', () => {
  it('a warm `decide` does not compile cedar-wasm: the cached analysis and the compiled policies decide', async () => {
    const env = { ...process.env, CORDON_CACHE_DIR: await tempDir('cordon-cache-') };
    const decide = ['decide', '--policies', EXAMPLE_POLICIES, '--request', REQUEST];
    const cold = await loadedPackages([CLI, ...decide], { env });
    assert.ok(cold.packages.has(CEDAR), 'a cold run analyzes the set with cedar-wasm');
    const warm = await loadedPackages([CLI, ...decide], { env });
    assert.ok(!warm.packages.has(CEDAR), [...warm.packages].join(', '));
    const outcome = (s: string) => {
      const d = JSON.parse(s) as { decision: string; reasons: { policy: string }[] };
      return { decision: d.decision, reasons: d.reasons.map((r) => r.policy) };
    };
    assert.deepEqual(outcome(warm.stdout), outcome(cold.stdout));
  });

  it('`serve` without ext_authz, a bundle or a config file loads neither gRPC, protobuf, tar nor YAML', async () => {
    const data = await tempDir('cordon-data-');
    const env = { ...process.env, CORDON_CACHE_DIR: await tempDir('cordon-cache-') };
    const serve = ['serve', '--policies', EXAMPLE_POLICIES, '--port', '0', '--data', data];
    const { packages } = await loadedPackages([CLI, ...serve], {
      env,
      readyOn: /"msg":"cordon serving"/,
    });
    assert.ok(packages.has('fastify'), 'the tracer sees the server');
    const unused = ['@grpc/grpc-js', '@grpc/proto-loader', 'protobufjs', 'tar-stream', 'yaml'];
    assert.deepEqual(
      unused.filter((p) => packages.has(p)),
      [],
    );
  });
});

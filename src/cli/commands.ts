// The `cordon` command tree (DESIGN §3). Each action prints and returns an exit code;
// main.ts turns thrown user errors into a message and exit 1.

import { readFile } from 'node:fs/promises';
import { Command, Option } from 'commander';
import { configSchema, loadConfig } from '../config/config.js';
import type { EngineKind } from '../core/compiled/index.js';
import { Engine } from '../core/engine.js';
import { parseActionRequest } from '../core/request.js';
import { formatLocated } from '../core/source-location.js';
import { formatPolicyDir } from '../policy/format.js';
import { loadPolicyDir } from '../policy/load.js';
import { scaffold } from '../policy/scaffold.js';
import { readTestFiles, runCase } from '../policy/test-runner.js';
import { startServer } from '../server/start.js';
import { registerApprovalCommands } from './approval-commands.js';
import { registerAuditCommands } from './audit-commands.js';
import { engineOption } from './engine-option.js';
import { registerIdentityCommands } from './identity-commands.js';
import { registerMcpCommands } from './mcp-commands.js';
import { registerScanCommand } from './scan-command.js';
import { registerKernelCommands } from './kernel-commands.js';

export class UserError extends Error {}

type Exit = (code: number) => void;
const out = (s: string) => process.stdout.write(`${s}\n`);
const err = (s: string) => process.stderr.write(`${s}\n`);

async function compileOrReport(dir: string, engine?: EngineKind) {
  const r = await loadPolicyDir(dir, engine ? { engine } : {});
  for (const w of r.warnings) err(`${formatLocated(w)} (warning)`);
  if (!r.ok) {
    for (const e of r.errors) err(formatLocated(e));
    return undefined;
  }
  return r.set;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export function buildCli(exit: Exit): Command {
  const program = new Command('cordon')
    .description('Runtime policy engine for AI agents: Cedar policies enforced before every action')
    .version('0.1.0')
    .showHelpAfterError();

  program
    .command('serve')
    .description('run the PDP HTTP API (and configured gateways)')
    .option('--config <file>', 'cordon.yaml')
    .option('--policies <dir>', 'policy directory (default ./policies)')
    .addOption(new Option('--port <n>', 'listen port (default 7070)').argParser((v) => Number(v)))
    .option('--host <addr>', 'listen address (default 127.0.0.1)')
    .option('--data <dir>', 'data directory for embedded storage (default ./.cordon)')
    .addOption(
      new Option(
        '--engine <engine>',
        'Cedar evaluator (default compiled, or cordon.yaml engine)',
      ).choices(['compiled', 'wasm']),
    )
    .action(
      async (o: {
        config?: string;
        policies?: string;
        port?: number;
        host?: string;
        data?: string;
        engine?: EngineKind;
      }) => {
        const config = await loadConfig(o.config);
        const merged = configSchema.parse({
          ...config,
          ...(o.policies ? { policies: o.policies } : {}),
          ...(o.port !== undefined ? { port: o.port } : {}),
          ...(o.host ? { host: o.host } : {}),
          ...(o.data ? { data: o.data } : {}),
          ...(o.engine ? { engine: o.engine } : {}),
        });
        const server = await startServer(merged);
        const stop = async () => {
          await server.close();
          exit(0);
        };
        process.once('SIGINT', () => void stop());
        process.once('SIGTERM', () => void stop());
        process.on('SIGHUP', () => void server.policies.reload());
      },
    );

  program
    .command('init')
    .description('scaffold a policy directory: schema, example policies, entities, tests')
    .argument('[dir]', 'where to write it', 'policies')
    .option('--force', 'overwrite files that exist')
    .action(async (dir: string, o: { force?: boolean }) => {
      const written = await scaffold(dir, { force: o.force ?? false });
      for (const f of written) out(`wrote ${f}`);
      out(`next: npx cordon policy test ${dir}`);
    });

  const policy = program.command('policy').description('author and check policies');

  policy
    .command('validate')
    .description('parse and schema-validate a policy directory')
    .argument('<dir>')
    .addOption(engineOption())
    .action(async (dir: string, o: { engine: EngineKind }) => {
      const set = await compileOrReport(dir, o.engine);
      if (!set) return exit(1);
      if (set.engine === 'compiled') {
        for (const f of set.fallbacks)
          out(
            `policy "${f.policy}" is evaluated by cedar-wasm: the compiled engine does not accept ${f.reason}`,
          );
        out(`engine compiled: ${set.size - set.fallbacks.length} of ${set.size} policies compiled`);
      } else {
        out('engine wasm: every policy is evaluated by cedar-wasm');
      }
      const typed = set.schema
        ? 'type-checked against schema.cedarschema (strict)'
        : 'parsed only: no schema.cedarschema, so not type-checked';
      out(`valid: ${set.size} policies, ${set.store.listed} entities; ${typed}`);
      out(`version ${set.version}`);
    });

  policy
    .command('fmt')
    .description('format policy files with the official Cedar formatter')
    .argument('<dir>')
    .option('--check', 'only report files that would change (exit 1 if any)')
    .action(async (dir: string, o: { check?: boolean }) => {
      const r = await formatPolicyDir(dir, { write: !o.check });
      for (const e of r.errors) err(formatLocated(e));
      for (const f of r.changed) out(o.check ? `would reformat ${f}` : `formatted ${f}`);
      if (r.errors.length > 0 || (o.check && r.changed.length > 0)) return exit(1);
    });

  policy
    .command('test')
    .description('run the policy tests in DIR/tests/*.yaml')
    .argument('<dir>')
    .action(async (dir: string) => {
      const set = await compileOrReport(dir);
      if (!set) {
        out('0 passed, 1 failed');
        return exit(1);
      }
      const engine = new Engine({ policies: { current: () => set } });
      const { cases, errors } = await readTestFiles(dir);
      let passed = 0;
      let failed = errors.length;
      for (const e of errors) out(`✗ ${e.file}: ${e.message}`);
      for (const { file, c } of cases) {
        const r = await runCase(engine, file, c);
        if (r.passed) {
          passed++;
          out(`✓ ${file}: ${r.name}`);
          continue;
        }
        failed++;
        out(`✗ ${file}: ${r.name}`);
        for (const p of r.problems) out(`    ${p}`);
        for (const reason of r.decision?.reasons ?? []) {
          out(
            `    reason: ${reason.policy} (${reason.effect}${reason.principal ? `, ${reason.principal}` : ''})${reason.message ? `: ${reason.message}` : ''}`,
          );
        }
        for (const e of r.decision?.errors ?? [])
          out(`    error in ${e.policy} (${e.principal}): ${e.message}`);
      }
      out(`${passed} passed, ${failed} failed`);
      if (failed > 0) return exit(1);
    });

  program
    .command('decide')
    .description('make one decision; the request JSON comes from --request or stdin')
    .requiredOption('--policies <dir>', 'policy directory')
    .option('--request <file>', 'request JSON (default: stdin)')
    .addOption(engineOption())
    .action(async (o: { policies: string; request?: string; engine: EngineKind }) => {
      const text = o.request ? await readFile(o.request, 'utf8') : await readStdin();
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch (e) {
        throw new UserError(`request is not JSON: ${(e as Error).message}`);
      }
      const request = parseActionRequest(body);
      const set = await compileOrReport(o.policies, o.engine);
      if (!set) return exit(1);
      const engine = new Engine({ policies: { current: () => set } });
      // Local and offline, like a policy test: the request's parents are believed.
      const trusted = { trustedFor: [request.resource.type] };
      out(JSON.stringify(await engine.decide({ pep: 'cli', ...request, ...trusted }), null, 2));
    });

  registerAuditCommands(program, policy, exit);
  registerIdentityCommands(program, exit);
  registerMcpCommands(program, exit);
  registerApprovalCommands(program, exit);
  registerScanCommand(program, exit);
  registerKernelCommands(program, exit);
  return program;
}

// The `cordon` command tree (DESIGN §3). Each action prints and returns an exit code;
// main.ts turns thrown user errors into a message and exit 1. This module defines the
// commands and their options only: each action imports what it needs when it runs, so
// `--help`, `--version` and every command load only their own subsystems.

import { Argument, Command, Option } from 'commander';
import type { EngineKind } from '../core/compiled/index.js';
import type { ServeFlags } from './serve-action.js';
import { registerApprovalCommands } from './approval-commands.js';
import { registerAuditCommands } from './audit-commands.js';
import { registerBundleCommands } from './bundle-commands.js';
import { registerBaselineCommands } from './baseline-commands.js';
import { engineOption } from './engine-option.js';
import { UserError } from './errors.js';
import { registerIdentityCommands } from './identity-commands.js';
import { registerMcpCommands } from './mcp-commands.js';
import { registerScanCommand } from './scan-command.js';
import { registerKernelCommands } from './kernel-commands.js';
import { registerIsolationCommands } from './isolation-commands.js';

export { UserError };

export type Exit = (code: number) => void;

const policyActions = () => import('./policy-actions.js');

export function buildCli(exit: Exit): Command {
  const program = new Command('cordon')
    .description('Runtime policy engine for AI agents: Cedar policies enforced before every action')
    .version('0.1.0')
    .option('--debug', 'print the stack trace of an error')
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
    .action(async (o: ServeFlags) => (await import('./serve-action.js')).serve(o, exit));

  program
    .command('init')
    .description('scaffold a policy directory: schema, example policies, entities, tests')
    .argument('[dir]', 'where to write it', 'policies')
    .option('--force', 'overwrite files that exist')
    .option('--minimal', 'a schema, one policy and one test instead of the full example')
    .action(async (dir: string, o: { force?: boolean; minimal?: boolean }) =>
      (await policyActions()).init(dir, o, exit),
    );

  const policy = program.command('policy').description('author and check policies');

  policy
    .command('validate')
    .description('parse and schema-validate a policy directory')
    .argument('<dir>')
    .addOption(engineOption())
    .option('--json', 'print {valid, errors, warnings, policies, entities, version} as JSON')
    .action(async (dir: string, o: { engine: EngineKind; json?: boolean }) =>
      (await policyActions()).validate(dir, o, exit),
    );

  policy
    .command('fmt')
    .description('format policy files with the official Cedar formatter')
    .argument('<dir>')
    .option('--check', 'only report files that would change (exit 1 if any)')
    .action(async (dir: string, o: { check?: boolean }) =>
      (await policyActions()).fmt(dir, o, exit),
    );

  policy
    .command('test')
    .description('run the policy tests in DIR/tests/*.yaml')
    .argument('<dir>')
    .option('--json', 'print {passed, failed, cases} as JSON')
    .option('--junit <file>', 'also write the results as JUnit XML (for CI)')
    .action(async (dir: string, o: { json?: boolean; junit?: string }) =>
      (await policyActions()).test(dir, o, exit),
    );

  policy
    .command('explain')
    .description(
      'why a request is decided as it is: per policy, whether its scope matched and which condition held',
    )
    .argument('<dir>', 'policy directory')
    .option('--request <file>', 'request JSON, as for decide (default: stdin)')
    .addOption(engineOption())
    .option('--json', 'print {decision, evaluations} as JSON')
    .action(async (dir: string, o: { request?: string; engine: EngineKind; json?: boolean }) =>
      (await policyActions()).explain(dir, o, exit),
    );

  program
    .command('decide')
    .description('make one decision; the request JSON comes from --request or stdin')
    .requiredOption('--policies <dir>', 'policy directory')
    .option('--request <file>', 'request JSON (default: stdin)')
    .addOption(engineOption())
    .option('--fail', 'exit 2 on deny and 3 on require_approval (for scripts and CI)')
    .action(async (o: { policies: string; request?: string; engine: EngineKind; fail?: boolean }) =>
      (await policyActions()).decide(o, exit),
    );

  registerAuditCommands(program, policy, exit);
  registerBundleCommands(policy, exit);
  registerIdentityCommands(program, exit);
  registerMcpCommands(program, exit);
  registerApprovalCommands(program, exit);
  registerScanCommand(program, exit);
  registerKernelCommands(program, exit);
  registerIsolationCommands(program, exit);
  registerBaselineCommands(program, exit);
  program
    .command('demo')
    .description("run the problem statements' stories end to end on real components in a temp dir")
    .argument('[story]', 'run only this story (cordon demo --list)')
    .option('--list', 'list the stories')
    .option('--json', 'print the results as one JSON object')
    .option('--policies <dir>', 'run against this policy directory (default: the shipped examples)')
    .option('--dir <dir>', 'where to start everything (default: a new temp directory, kept)')
    .action(async (story: string | undefined, o: import('../demo/run.js').DemoFlags) =>
      (await import('../demo/run.js')).demo(story, o, exit),
    );
  program
    .command('completion')
    .description('print a shell completion script: eval "$(cordon completion bash)"')
    .addArgument(new Argument('<shell>').choices(['bash', 'zsh', 'fish']))
    .action(async (shell: string) => {
      const { completionScript } = await import('./completion.js');
      process.stdout.write(completionScript(shell, program));
    });
  return program;
}

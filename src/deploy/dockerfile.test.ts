// The Dockerfile, checked without docker (none on the development or CI machines): every path it
// copies from the repository exists and is not excluded by .dockerignore, the build stage copies
// what `npm run build` reads and runs that script, the runtime stage copies what the build
// produces and starts the CLI that package.json names as a non-root user, and its health check
// asks /healthz on the port of the configuration it ships. A broken Dockerfile is reported.

import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join, matchesGlob } from 'node:path';
import { describe, it } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { parseConfig } from '../config/config.js';
import { REPO } from '../testing/helm.js';

interface Instruction {
  stage: string;
  op: string;
  args: string;
}

/** The instructions, continuation lines joined, each with the stage it belongs to. */
function instructions(text: string): Instruction[] {
  const out: Instruction[] = [];
  let stage = '';
  const lines = text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  for (const line of lines) {
    const m = /^(\S+)\s+(.*)$/.exec(line);
    if (!m) continue;
    const op = m[1]!.toUpperCase();
    if (op === 'FROM') stage = /\bAS\s+(\S+)/i.exec(m[2]!)?.[1] ?? m[2]!;
    out.push({ stage, op, args: m[2]!.replace(/\s+/g, ' ') });
  }
  return out;
}

function ignored(path: string, patterns: string[]): boolean {
  return patterns.some(
    (p) =>
      path === p ||
      path.startsWith(`${p}/`) ||
      matchesGlob(path, p) ||
      matchesGlob(path, `${p}/**`),
  );
}

const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as {
  scripts: Record<string, string>;
  bin: Record<string, string>;
  dependencies: Record<string, string>;
  allowScripts: Record<string, boolean>;
};

/** What is wrong with a Dockerfile for this repository (empty: nothing found). */
function dockerfileProblems(text: string, dockerignore: string): string[] {
  const problems: string[] = [];
  const ignore = dockerignore
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const all = instructions(text);
  const stages = [...new Set(all.map((i) => i.stage).filter((s) => s !== ''))];
  const [build, runtime] = [stages[0]!, stages.at(-1)!];
  if (stages.length < 2) problems.push('not a multi-stage build');

  const copiedIntoBuild = new Set<string>();
  for (const i of all.filter((i) => i.op === 'COPY')) {
    const parts = i.args.split(' ').filter((a) => !a.startsWith('--chown'));
    const from = parts.find((a) => a.startsWith('--from='))?.slice('--from='.length);
    const paths = parts.filter((a) => !a.startsWith('--'));
    const sources = paths.slice(0, -1);
    if (from) {
      for (const s of sources) {
        const rel = s.replace(/^\/src\//, '');
        const produced = ['dist', 'node_modules', 'native/build'].includes(rel);
        if (!produced && !copiedIntoBuild.has(rel))
          problems.push(`COPY --from=${from} ${s}: the build stage neither copies nor builds it`);
      }
      continue;
    }
    for (const s of sources) {
      if (!existsSync(join(REPO, s))) problems.push(`COPY ${s}: no such path in the repository`);
      else if (ignored(s, ignore)) problems.push(`COPY ${s}: excluded by .dockerignore`);
      if (i.stage === build) copiedIntoBuild.add(s);
    }
  }

  const buildRuns = all.filter((i) => i.stage === build && i.op === 'RUN').map((i) => i.args);
  if (!buildRuns.some((r) => /\bnpm run build\b/.test(r)))
    problems.push('the build stage does not run `npm run build`');
  if (!pkg.scripts.build) problems.push('package.json defines no build script');
  // What `npm run build` reads: the TypeScript project and the native sources.
  const native = readFileSync(join(REPO, 'scripts/build-native.mjs'), 'utf8');
  const needed = [
    'tsconfig.json',
    'tsconfig.build.json',
    'src',
    'scripts/build-native.mjs',
    ...new Set(native.match(/native\/[\w.-]+\.c\b/g) ?? []),
  ];
  for (const n of needed)
    if (![...copiedIntoBuild].some((c) => c === n || n.startsWith(`${c}/`)))
      problems.push(`the build stage does not copy ${n}, which \`npm run build\` reads`);
  for (const p of ['gcc', 'linux-libc-dev', 'clang', 'libbpf-dev'])
    if (!buildRuns.some((r) => new RegExp(`install\\b.*\\b${p}\\b`).test(r)))
      problems.push(`the build stage does not install ${p} (the native kernel layer needs it)`);
  // Install scripts off, then exactly the approved production ones rebuilt.
  const approved = Object.entries(pkg.allowScripts)
    .filter(([name, ok]) => ok && name in pkg.dependencies)
    .map(([name]) => name);
  const rebuilt = buildRuns.flatMap(
    (r) => /npm rebuild ([^&;]+)/.exec(r)?.[1]?.trim().split(' ') ?? [],
  );
  if (!buildRuns.some((r) => /npm ci\b.*--ignore-scripts/.test(r)))
    problems.push('npm ci runs with install scripts on');
  if (rebuilt.sort().join() !== approved.sort().join())
    problems.push(
      `npm rebuild ${rebuilt.join(' ')}: the approved production scripts are ${approved.join(' ')}`,
    );

  const last = (op: string) => all.filter((i) => i.stage === runtime && i.op === op).at(-1)?.args;
  const user = last('USER');
  if (!user || !/^[1-9]\d*(:\d+)?$/.test(user))
    problems.push(`the runtime stage runs as ${user ?? 'root'}, not a numeric non-root user`);
  const entry = last('ENTRYPOINT') ?? '';
  if (!entry.includes(`/app/${pkg.bin.cordon}`))
    problems.push(`ENTRYPOINT ${entry} does not start ${pkg.bin.cordon}`);
  const cmd = last('CMD') ?? '';
  if (!/"serve".*"--config".*"\/etc\/cordon\/cordon\.yaml"/.test(cmd))
    problems.push(`CMD ${cmd} does not run serve with /etc/cordon/cordon.yaml`);
  const health = last('HEALTHCHECK') ?? '';
  const shipped = parseConfig(
    parseYaml(readFileSync(join(REPO, 'deploy/docker/cordon.yaml'), 'utf8')),
    'deploy/docker/cordon.yaml',
  );
  if (!health.includes(`127.0.0.1:${shipped.port}/healthz`))
    problems.push(`HEALTHCHECK does not ask /healthz on port ${shipped.port}`);
  return problems;
}

describe('the Dockerfile', () => {
  const dockerfile = readFileSync(join(REPO, 'Dockerfile'), 'utf8');
  const dockerignore = readFileSync(join(REPO, '.dockerignore'), 'utf8');

  it('copies paths that exist, builds with the package build script, runs serve as non-root', () => {
    assert.deepEqual(dockerfileProblems(dockerfile, dockerignore), []);
  });

  it('ships a configuration that listens on every address, so every route needs a credential', () => {
    const c = parseConfig(parseYaml(readFileSync(join(REPO, 'deploy/docker/cordon.yaml'), 'utf8')));
    assert.equal(c.host, '0.0.0.0');
    assert.equal(c.data, '/var/lib/cordon');
    assert.equal(c.policies, '/etc/cordon/policies');
  });

  it('keeps local state and keys out of the build context', () => {
    const ignore = dockerignore.split('\n').filter((l) => l && !l.startsWith('#'));
    for (const p of [
      '.cordon/admin.credential',
      'keys/audit.key',
      'node_modules/x',
      'dist/cli/main.js',
    ])
      assert.ok(ignored(p, ignore), p);
  });

  it('reports a missing path, a skipped build, a root user and an ignored source', () => {
    const broken = dockerfile
      .replace('COPY src src', 'COPY source source')
      .replace('npm run build', 'npm run compile')
      .replace('USER 10001:10001', 'USER root');
    const problems = dockerfileProblems(broken, dockerignore).join('\n');
    assert.match(problems, /COPY source: no such path/);
    assert.match(problems, /does not run `npm run build`/);
    assert.match(problems, /does not copy src, which `npm run build` reads/);
    assert.match(problems, /runs as root, not a numeric non-root user/);
    assert.match(
      dockerfileProblems(dockerfile, `${dockerignore}\nexamples\n`).join('\n'),
      /COPY examples: excluded/,
    );
  });
});

// Renders the Helm chart and checks the manifests, for the chart tests (docs/deploy.md says what
// this covers). There is no helm binary here: deploy/helm/render/main.go reproduces Helm 3's
// template engine (Go's text/template, Sprig v3, Helm's own functions) and is built with the Go
// toolchain and Sprig from Debian's packages. Every manifest is then checked twice: against the
// Kubernetes OpenAPI schemas compiled in `kubernetes-models` (types, required fields, formats),
// and by TypeScript against the same package's declared types, which reports what the schema
// check lets through: a field Kubernetes does not know (a typo such as `readinesProbe`), which
// the API server's strict field validation refuses.

import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { parseAllDocuments } from 'yaml';

export const REPO = resolve(fileURLToPath(new URL('../../', import.meta.url)));
export const CHART = join(REPO, 'deploy/helm/cordon');
const RENDER_SRC = join(REPO, 'deploy/helm/render/main.go');
const GOCODE = '/usr/share/gocode/src';
const DEBIAN_PACKAGES =
  'golang-go golang-github-masterminds-sprig-dev golang-github-ghodss-yaml-dev';

/** Why the renderer cannot be built here, or undefined when it can. */
export function rendererMissing(): string | undefined {
  if (spawnSync('go', ['version']).status !== 0)
    return `no Go toolchain to build the chart renderer (apt-get install ${DEBIAN_PACKAGES})`;
  for (const dir of ['github.com/Masterminds/sprig', 'github.com/ghodss/yaml'])
    if (!existsSync(join(GOCODE, dir)))
      return `${GOCODE}/${dir} missing (apt-get install ${DEBIAN_PACKAGES})`;
  return undefined;
}

let built: string | undefined;

/** Builds deploy/helm/render once per source version (cached in the temp directory). */
export function buildRenderer(): string {
  if (built) return built;
  const digest = createHash('sha256').update(readFileSync(RENDER_SRC)).digest('hex').slice(0, 12);
  const dir = join(tmpdir(), `cordon-helm-render-${digest}`);
  const bin = join(dir, 'render');
  if (!existsSync(bin)) {
    // Debian installs Sprig v3 and Semver v3 without their /v3 path suffix; GOPATH mode finds
    // them through these links.
    const gopath = join(dir, 'gopath');
    rmSync(gopath, { recursive: true, force: true });
    for (const pkg of ['sprig', 'semver']) {
      const base = join(gopath, 'src/github.com/Masterminds', pkg);
      mkdirSync(base, { recursive: true });
      symlinkSync(join(GOCODE, 'github.com/Masterminds', pkg), join(base, 'v3'));
    }
    const r = spawnSync('go', ['build', '-o', `${bin}.tmp`, RENDER_SRC], {
      encoding: 'utf8',
      env: {
        ...process.env,
        GO111MODULE: 'off',
        GOPATH: `${gopath}:/usr/share/gocode`,
        CGO_ENABLED: '0',
        // CI may run without HOME, where Go finds no build cache of its own.
        GOCACHE: process.env.GOCACHE ?? join(dir, 'gocache'),
      },
    });
    if (r.status !== 0) throw new Error(`building the chart renderer failed:\n${r.stderr}`);
    spawnSync('mv', [`${bin}.tmp`, bin]);
  }
  built = bin;
  return bin;
}

export type Rendered = { ok: true; text: string } | { ok: false; error: string };

/** `helm template RELEASE CHART -f FILE…`, as the renderer does it. */
export function renderChart(valueFiles: string[] = [], release = 'cordon'): Rendered {
  const args = [CHART, '--name', release];
  for (const f of valueFiles) args.push('-f', f);
  const r = spawnSync(buildRenderer(), args, { encoding: 'utf8' });
  return r.status === 0 ? { ok: true, text: r.stdout } : { ok: false, error: r.stderr.trim() };
}

export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; [k: string]: unknown };
  [k: string]: unknown;
}

/**
 * The documents of rendered output. YAML 1.1, as Kubernetes reads manifests (go-yaml v2), so a
 * mode written 0440 means what it means to the API server.
 */
export function parseManifests(text: string): Manifest[] {
  const out: Manifest[] = [];
  for (const doc of parseAllDocuments(text, { version: '1.1' })) {
    if (doc.errors.length > 0) throw new Error(doc.errors.map((e) => e.message).join('\n'));
    const v = doc.toJS() as Manifest | null;
    if (v !== null) out.push(v);
  }
  return out;
}

/** The kubernetes-models module of an apiVersion and kind: `apps/v1` → apps/v1/Deployment. */
function modelPath(m: Manifest): string {
  return `kubernetes-models/${m.apiVersion}/${m.kind}`;
}

const where = (m: Manifest) => `${m.kind}/${m.metadata?.name ?? '?'}`;

/** Schema check: every problem as `Kind/name: message`. */
export async function schemaProblems(manifests: Manifest[]): Promise<string[]> {
  const problems: string[] = [];
  for (const m of manifests) {
    if (typeof m.apiVersion !== 'string' || typeof m.kind !== 'string') {
      problems.push(`${where(m)}: no apiVersion/kind`);
      continue;
    }
    let mod: Record<string, new (d: unknown) => { validate(): void }>;
    try {
      mod = (await import(modelPath(m))) as typeof mod;
    } catch {
      problems.push(`${where(m)}: no Kubernetes schema for ${m.apiVersion} ${m.kind}`);
      continue;
    }
    const Model = mod[m.kind];
    if (!Model) {
      problems.push(`${where(m)}: no Kubernetes schema for ${m.apiVersion} ${m.kind}`);
      continue;
    }
    try {
      new Model(m).validate();
    } catch (e) {
      problems.push(`${where(m)}: ${(e as Error).message}`);
    }
  }
  return problems;
}

/** Field check: TypeScript's excess-property and type errors against the declared models. */
export function fieldProblems(manifests: Manifest[]): string[] {
  const file = join(REPO, 'src', '__rendered_manifests__.ts');
  const lines: string[] = [];
  manifests.forEach((m, i) => {
    lines.push(`import type { I${m.kind} as T${i} } from '${modelPath(m)}';`);
    lines.push(`export const m${i}: T${i} = ${JSON.stringify(m)};`);
  });
  const text = lines.join('\n');
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    skipLibCheck: true,
    types: [],
  };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (name, lang, ...rest) =>
    resolve(name) === file
      ? ts.createSourceFile(name, text, lang)
      : getSourceFile(name, lang, ...rest);
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (name) => resolve(name) === file || fileExists(name);
  const program = ts.createProgram([file], options, host);
  const source = program.getSourceFile(file)!;
  const diagnostics = [
    ...program.getSyntacticDiagnostics(source),
    ...program.getSemanticDiagnostics(source),
  ];
  return diagnostics.map((d) => {
    const line = d.start !== undefined ? source.getLineAndCharacterOfPosition(d.start).line : 0;
    const m = manifests[Math.floor(line / 2)];
    const msg = ts.flattenDiagnosticMessageText(d.messageText, ' ').replace(/\s+/g, ' ');
    return `${m ? where(m) : '?'}: ${msg}`;
  });
}

/** Both checks together. */
export async function manifestProblems(manifests: Manifest[]): Promise<string[]> {
  return [...(await schemaProblems(manifests)), ...fieldProblems(manifests)];
}

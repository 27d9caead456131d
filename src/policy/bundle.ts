// Policy bundles, in the spirit of OPA's: a gzipped tarball of a policy directory's sources (the
// files the loader reads: *.cedar, schema.cedarschema, entities.json) with a manifest naming the
// policy set's version (the sha256 the engine computes) and each file's digest. The manifest is a
// C2SP signed note (the audit log's checkpoint format) signed with an Ed25519 key; a bundle is
// opened only when the manifest verifies with the trusted verifier key, every file matches its
// digest, nothing is missing or extra, and the sources hash to the version the manifest states.

import { createHash, type KeyObject } from 'node:crypto';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { createGunzip, gzipSync } from 'node:zlib';
import { policyVersion, type PolicySources, type SourceFile } from '../core/compile.js';
import { openNote, signNote, type NoteKey } from '../audit/note.js';
import { ENTITIES_FILE, readPolicySources, SCHEMA_FILE } from './load.js';

export const MANIFEST_FILE = '.manifest';
const HEADER = 'cordon-policy-bundle v1';

/** Bounds on what a bundle may hold: it comes over the network. */
export const BUNDLE_LIMITS = { files: 10_000, fileBytes: 16 << 20, totalBytes: 64 << 20 };

export class BundleError extends Error {}

export interface BundleManifest {
  version: string;
  /** path → sha256 hex, in path order. */
  files: Map<string, string>;
}

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

function sourceFiles(src: PolicySources): SourceFile[] {
  return [
    ...src.policies,
    ...(src.schema ? [src.schema] : []),
    ...(src.entities ? [src.entities] : []),
  ].sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
}

export function manifestText(m: BundleManifest): string {
  const lines = [HEADER, `version ${m.version}`];
  for (const [path, digest] of m.files) lines.push(`file ${digest} ${path}`);
  return `${lines.join('\n')}\n`;
}

export function parseManifest(text: string): BundleManifest {
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  if (lines[0] !== HEADER) throw new BundleError(`manifest does not start with "${HEADER}"`);
  const v = /^version (sha256:[0-9a-f]{64})$/.exec(lines[1] ?? '');
  if (!v) throw new BundleError('manifest has no valid "version sha256:…" line');
  const files = new Map<string, string>();
  for (const line of lines.slice(2)) {
    const m = /^file ([0-9a-f]{64}) (\S+)$/.exec(line);
    if (!m) throw new BundleError(`malformed manifest line: ${line.slice(0, 80)}`);
    const path = m[2]!;
    if (!safePath(path)) throw new BundleError(`manifest names an unsafe path: ${path}`);
    if (files.has(path)) throw new BundleError(`manifest names ${path} twice`);
    files.set(path, m[1]!);
  }
  return { version: v[1]!, files };
}

/**
 * A path the loader would read, relative and without tricks: no absolute path, no `..`, no
 * segment starting with a dot, only *.cedar files and the two known files.
 */
function safePath(p: string): boolean {
  if (p.length > 1024 || p.startsWith('/') || p.includes('\\') || p.includes('\0')) return false;
  const parts = p.split('/');
  if (parts.some((s) => s === '' || s.startsWith('.'))) return false;
  if (parts.length === 1 && (p === SCHEMA_FILE || p === ENTITIES_FILE)) return true;
  if (parts[0] === 'tests' && parts.length > 1) return false; // the loader skips tests/
  return p.endsWith('.cedar');
}

/** A signed bundle of the policy directory `dir`, and the version it holds. */
export async function createBundle(
  dir: string,
  signer: { key: NoteKey; privateKey: KeyObject },
): Promise<{ tarball: Buffer; version: string; files: number }> {
  const src = await readPolicySources(dir);
  const files = sourceFiles(src);
  const version = policyVersion(src);
  const manifest: BundleManifest = {
    version,
    files: new Map(files.map((f) => [f.file, sha256(f.text)])),
  };
  const note = signNote(manifestText(manifest), signer.key, signer.privateKey);
  // tar-stream is loaded when a bundle is made or opened: `serve` from a directory never does.
  const { pack } = await import('tar-stream');
  const p = pack();
  const chunks: Buffer[] = [];
  p.on('data', (c: unknown) => chunks.push(c as Buffer));
  const done = new Promise<void>((resolve, reject) => {
    p.on('end', resolve);
    p.on('error', reject);
  });
  // Fixed owner, mode and time: the same directory always makes the same tarball.
  const entry = (name: string, text: string) =>
    p.entry({ name, mode: 0o644, mtime: new Date(0), uid: 0, gid: 0 }, text);
  entry(MANIFEST_FILE, note);
  for (const f of files) entry(f.file, f.text);
  p.finalize();
  await done;
  return { tarball: gzipSync(Buffer.concat(chunks)), version, files: files.length };
}

export interface OpenedBundle {
  version: string;
  sources: PolicySources;
}

/** Reads the tarball's regular files into memory, within BUNDLE_LIMITS. */
async function readEntries(tarball: Buffer): Promise<Map<string, Buffer>> {
  const entries = new Map<string, Buffer>();
  let total = 0;
  const { extract } = await import('tar-stream');
  const ex = extract();
  const work = new Promise<void>((resolve, reject) => {
    ex.on('entry', (header, stream, next) => {
      const fail = (msg: string) => {
        stream.resume();
        reject(new BundleError(msg));
        ex.destroy();
      };
      if (header.type === 'directory') {
        stream.resume();
        stream.on('end', next);
        return;
      }
      if (header.type !== 'file')
        return fail(`bundle entry ${header.name} is a ${header.type}, not a file`);
      const name = header.name.replace(/^\.\//, '');
      if (entries.has(name)) return fail(`bundle holds ${name} twice`);
      if (entries.size >= BUNDLE_LIMITS.files) return fail('bundle holds too many files');
      const chunks: Buffer[] = [];
      let size = 0;
      stream.on('data', (data: unknown) => {
        const c = data as Buffer;
        size += c.length;
        total += c.length;
        if (size > BUNDLE_LIMITS.fileBytes) fail(`bundle file ${name} is too large`);
        else if (total > BUNDLE_LIMITS.totalBytes) fail('bundle is too large');
        else chunks.push(c);
      });
      stream.on('end', () => {
        entries.set(name, Buffer.concat(chunks));
        next();
      });
      stream.on('error', reject);
    });
    ex.on('finish', resolve);
    ex.on('error', (e) => reject(e instanceof BundleError ? e : new BundleError(e.message)));
  });
  const gunzip = createGunzip();
  gunzip.on('error', (e) => ex.destroy(new BundleError(`not a gzipped tarball: ${e.message}`)));
  Readable.from([tarball]).pipe(gunzip).pipe(ex);
  await work;
  return entries;
}

/**
 * Verifies a bundle against the trusted verifier key and returns its sources. Throws a
 * BundleError saying what is wrong; nothing from a bundle that fails is ever used.
 */
export async function openBundle(tarball: Buffer, trusted: NoteKey): Promise<OpenedBundle> {
  const entries = await readEntries(tarball);
  const note = entries.get(MANIFEST_FILE);
  if (!note) throw new BundleError(`bundle has no ${MANIFEST_FILE}: unsigned bundles are refused`);
  const opened = openNote(note.toString('utf8'), trusted);
  if (!opened.ok) throw new BundleError(`bundle manifest: ${opened.reason}`);
  const manifest = parseManifest(opened.text);
  const policies: SourceFile[] = [];
  const src: PolicySources = { policies };
  for (const [name, data] of entries) {
    if (name === MANIFEST_FILE) continue;
    const digest = manifest.files.get(name);
    if (digest === undefined) throw new BundleError(`bundle file ${name} is not in the manifest`);
    if (sha256(data) !== digest)
      throw new BundleError(`bundle file ${name} does not match its manifest digest`);
    const file = { file: name, text: data.toString('utf8') };
    if (name === SCHEMA_FILE) src.schema = file;
    else if (name === ENTITIES_FILE) src.entities = file;
    else policies.push(file);
  }
  for (const name of manifest.files.keys())
    if (!entries.has(name))
      throw new BundleError(`bundle is missing ${name}, named in its manifest`);
  policies.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
  const version = policyVersion(src);
  if (version !== manifest.version)
    throw new BundleError(
      `bundle sources hash to ${version}, not the manifest's ${manifest.version}`,
    );
  return { version, sources: src };
}

/**
 * Writes verified sources as a policy directory under `root` (named by the version), complete
 * before it appears: a loader never sees half of it. Returns the directory.
 */
export async function writeBundleDir(root: string, b: OpenedBundle): Promise<string> {
  const dir = join(root, b.version.replace(':', '-'));
  const tmp = `${dir}.tmp-${process.pid}-${Date.now()}`;
  await rm(tmp, { recursive: true, force: true });
  for (const f of sourceFiles(b.sources)) {
    const path = join(tmp, f.file);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, f.text);
  }
  await mkdir(tmp, { recursive: true });
  await rm(dir, { recursive: true, force: true });
  await rename(tmp, dir);
  return dir;
}

// `cordon init`: copies the shipped example policy directory (schema, policies, entities,
// tests), which is the same directory the README's quick start and the test suite use; or,
// with --minimal, a schema, one policy, its entities and one test to start from.

import { cp, mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

export class ScaffoldError extends Error {}

export const EXAMPLE_POLICIES = fileURLToPath(new URL('../../examples/policies', import.meta.url));

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await listFiles(p)));
    else out.push(p);
  }
  return out;
}

/** `init --minimal`: a schema, one policy and one test, and nothing that applies to other agents. */
const MINIMAL: Record<string, string> = {
  'schema.cedarschema': `// Who acts, what they act on, and the actions. Extend it as your agents need.
entity User;
entity Agent { owner?: String };
entity McpServer;
entity Tool in [McpServer] { readOnly?: Bool };

action invokeTool appliesTo { principal: [Agent, User], resource: Tool };
`,
  'policies.cedar': `// Agents may call read-only tools; everything else is denied (no permit, no action).
@id("agents-call-read-only-tools")
permit (principal is Agent, action == Action::"invokeTool", resource is Tool)
when { resource has readOnly && resource.readOnly };
`,
  'entities.json': `[
  { "uid": { "type": "Agent", "id": "my-agent" }, "attrs": {}, "parents": [] },
  { "uid": { "type": "McpServer", "id": "files" }, "attrs": {}, "parents": [] },
  {
    "uid": { "type": "Tool", "id": "files/read_file" },
    "attrs": { "readOnly": true },
    "parents": [{ "type": "McpServer", "id": "files" }]
  },
  {
    "uid": { "type": "Tool", "id": "files/write_file" },
    "attrs": { "readOnly": false },
    "parents": [{ "type": "McpServer", "id": "files" }]
  }
]
`,
  'tests/policies.yaml': `cases:
  - name: my-agent reads a file
    request: { agent: my-agent, action: invokeTool, resource: { type: Tool, id: files/read_file } }
    expect: allow
  - name: my-agent may not write one
    request: { agent: my-agent, action: invokeTool, resource: { type: Tool, id: files/write_file } }
    expect: deny
`,
};

export async function scaffold(
  dir: string,
  opts: { force: boolean; minimal?: boolean },
): Promise<string[]> {
  if (opts.minimal) return writeMinimal(dir, opts.force);
  const files = (await listFiles(EXAMPLE_POLICIES))
    .map((f) => relative(EXAMPLE_POLICIES, f))
    .sort();
  if (!opts.force) {
    const clashes: string[] = [];
    for (const f of files) {
      try {
        await stat(join(dir, f));
        clashes.push(join(dir, f));
      } catch {
        /* absent: fine */
      }
    }
    if (clashes.length > 0)
      throw new ScaffoldError(`would overwrite ${clashes.join(', ')} (use --force)`);
  }
  await mkdir(dir, { recursive: true });
  await cp(EXAMPLE_POLICIES, dir, { recursive: true, force: true });
  return files.map((f) => join(dir, f));
}

async function clashes(dir: string, files: string[]): Promise<string[]> {
  const found: string[] = [];
  for (const f of files) {
    try {
      await stat(join(dir, f));
      found.push(join(dir, f));
    } catch {
      /* absent: fine */
    }
  }
  return found;
}

async function writeMinimal(dir: string, force: boolean): Promise<string[]> {
  const names = Object.keys(MINIMAL);
  const existing = force ? [] : await clashes(dir, names);
  if (existing.length > 0)
    throw new ScaffoldError(`would overwrite ${existing.join(', ')} (use --force)`);
  for (const [name, text] of Object.entries(MINIMAL)) {
    await mkdir(dirname(join(dir, name)), { recursive: true });
    await writeFile(join(dir, name), text);
  }
  return names.map((f) => join(dir, f));
}

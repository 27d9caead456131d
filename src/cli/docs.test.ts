// The documentation against the code it describes: every `cordon …` command line in README.md
// and docs/ names a command and options that exist, every repository path it names exists, and
// the full cordon.yaml in docs/operations.md is a valid configuration whose values are the
// defaults. A renamed flag or moved file then fails here instead of misleading a reader.

import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';
import { describe, it } from 'node:test';
import type { Command } from 'commander';
import { parse as parseYaml } from 'yaml';
import { parseConfig } from '../config/config.js';
import { buildCli } from './commands.js';

/** README.md and every page under docs/, as [name, text]. */
function pages(): [string, string][] {
  const out: [string, string][] = [['README.md', readFileSync(join(REPO, 'README.md'), 'utf8')]];
  const walk = (dir: string) => {
    for (const e of readdirSync(join(REPO, dir), { withFileTypes: true })) {
      const rel = `${dir}/${e.name}`;
      if (e.isDirectory()) walk(rel);
      else if (e.name.endsWith('.md')) out.push([rel, readFileSync(join(REPO, rel), 'utf8')]);
    }
  };
  walk('docs');
  return out;
}

/** Every command path ("cordon policy test") → its long options. */
function commandTree(): Map<string, Set<string>> {
  const tree = new Map<string, Set<string>>();
  const walk = (c: Command, path: string) => {
    tree.set(path, new Set(c.options.map((o) => o.long).filter((l): l is string => !!l)));
    for (const sub of c.commands) walk(sub, `${path} ${sub.name()}`);
  };
  walk(
    buildCli(() => {}),
    'cordon',
  );
  return tree;
}

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const GLOBAL = new Set(['--help', '--debug', '--version']);

describe('the documentation', () => {
  it('names only cordon commands and options that exist', () => {
    const tree = commandTree();
    const paths = [...tree.keys()].sort((a, b) => b.length - a.length);
    const tops = new Set([...tree.keys()].map((p) => p.split(' ')[1]).filter(Boolean));
    const wrong: string[] = [];
    for (const [page, text] of pages()) {
      text.split('\n').forEach((line, i) => {
        // A command runs to the end of its code span, table cell or comment.
        for (const m of line.matchAll(/\bcordon ((?:[a-z][a-z-]* ?){1,3})([^`|#]*)/g)) {
          const words = `cordon ${m[1]}`.trim();
          if (!tops.has(words.split(' ')[1])) continue; // prose: "cordon is", "cordon run's"
          const cmd = paths.find((p) => p !== 'cordon' && `${words} `.startsWith(`${p} `));
          if (!cmd) continue;
          const rest = `${words.slice(cmd.length)} ${m[2]}`;
          for (const [flag] of rest.matchAll(/--[a-z][a-z-]*/g))
            if (!tree.get(cmd)!.has(flag) && !GLOBAL.has(flag))
              wrong.push(`${page}:${i + 1}: ${cmd} has no ${flag}`);
        }
      });
    }
    assert.deepEqual(wrong, []);
  });

  it('names only repository files that exist', () => {
    const wrong: string[] = [];
    for (const [page, text] of pages()) {
      for (const [, path = ''] of text.matchAll(
        /`((?:src|scripts|native|deploy|examples)\/[\w./-]+)[` ]/g,
      )) {
        if (path.includes('*')) continue;
        if (!existsSync(join(REPO, path.replace(/[.:]$/, '')))) wrong.push(`${page}: ${path}`);
      }
    }
    assert.deepEqual(wrong, []);
  });

  it('shows in docs/operations.md a cordon.yaml that is valid and holds the defaults', () => {
    const text = readFileSync(join(REPO, 'docs/operations.md'), 'utf8');
    const yaml = /```yaml\n([\s\S]*?)```/.exec(text)?.[1];
    assert.ok(yaml, 'docs/operations.md has a yaml block');
    const documented = parseConfig(parseYaml(yaml), 'docs/operations.md');
    const defaults = parseConfig({});
    const differ = Object.keys(defaults).filter(
      (k) =>
        !isDeepStrictEqual(
          documented[k as keyof typeof documented],
          defaults[k as keyof typeof defaults],
        ),
    );
    assert.deepEqual(differ, []);
  });
});

// `cordon policy fmt`: the official Cedar formatter over every policy file of a directory.

import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { cedar } from '../core/cedar.js';
import { locateCedarError, type LocatedError } from '../core/source-location.js';
import { readPolicySources } from './load.js';

export interface FormatReport {
  changed: string[];
  errors: LocatedError[];
}

export async function formatPolicyDir(
  dir: string,
  opts: { write: boolean },
): Promise<FormatReport> {
  const src = await readPolicySources(dir);
  const report: FormatReport = { changed: [], errors: [] };
  for (const f of src.policies) {
    const r = cedar.formatPolicies({ policyText: f.text, lineWidth: 80, indentWidth: 2 });
    if (r.type === 'failure') {
      report.errors.push(...r.errors.map((e) => locateCedarError(f.file, f.text, e)));
      continue;
    }
    if (r.formatted_policy !== f.text) {
      report.changed.push(f.file);
      if (opts.write) await writeFile(join(dir, f.file), r.formatted_policy);
    }
  }
  return report;
}

// Where a policy's text is: the file, line and column of a policy id in a compiled set, for the
// serving set or a version recorded in the audit log (a decision's reasons link to the text that
// decided it, even after the policies changed). Recorded versions are compiled on first use and a
// few are kept.

import { lineCol } from '../../../core/source-location.js';
import type { CompiledPolicySet, PolicyMeta } from '../../../core/policy-set.js';
import { StoredPolicySets } from '../../../audit/replay.js';
import type { AuditReader } from '../../../store/audit-port.js';

export interface PolicyLocation {
  id: string;
  version: string;
  file: string;
  line: number;
  column: number;
  endLine: number;
}

export interface PolicySourceInfo extends PolicyLocation {
  effect: 'permit' | 'forbid';
  annotations: Record<string, string>;
  text: string;
  shadow: boolean;
}

/** The location of a policy in its set's sources (line 1 if the text cannot be found). */
export function locate(set: CompiledPolicySet, meta: PolicyMeta): PolicyLocation {
  const file = set.sources.policies.find((f) => f.file === meta.file);
  const at = file ? file.text.indexOf(meta.text) : -1;
  const start = at >= 0 && file ? lineCol(file.text, at) : { line: 1, col: 1 };
  const lines = meta.text.split('\n').length;
  return {
    id: meta.id,
    version: set.version,
    file: meta.file,
    line: start.line,
    column: start.col,
    endLine: start.line + lines - 1,
  };
}

export function sourceInfo(set: CompiledPolicySet, meta: PolicyMeta): PolicySourceInfo {
  return {
    ...locate(set, meta),
    effect: meta.effect,
    annotations: meta.annotations,
    text: meta.text,
    shadow: meta.shadow === true,
  };
}

/** Compiled sets by version: the serving one, else recorded ones from the log (up to `keep`). */
export class PolicyVersions {
  private stored: StoredPolicySets | undefined;
  private readonly versions = new Set<string>();

  constructor(
    private readonly serving: () => CompiledPolicySet,
    private readonly store: AuditReader | undefined,
    private readonly keep = 8,
  ) {}

  /** The set of `version` (the serving set without one), or a reason it is not available. */
  async get(version?: string): Promise<CompiledPolicySet | string> {
    const current = this.serving();
    if (version === undefined || version === current.version) return current;
    if (!this.store)
      return `policy version ${version} is not the serving one, and no audit log keeps others`;
    // A fresh cache once it holds `keep` versions: memory stays bounded, recent ones recompile.
    if (!this.stored || (!this.versions.has(version) && this.versions.size >= this.keep)) {
      this.stored = new StoredPolicySets(this.store);
      this.versions.clear();
    }
    this.versions.add(version);
    return this.stored.get(version);
  }
}

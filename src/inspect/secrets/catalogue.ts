// The secrets rule catalogue: gitleaks' default rules (MIT, see gitleaks-rules.json for the
// source commit and licence), compiled for linear-time matching. A rule runs only when one of
// its keywords occurs in the text; patterns are compiled on first use.

import { LinearRegex } from '../regex.js';
import data from './gitleaks-rules.json' with { type: 'json' };

export interface RuleAllowlist {
  condition: string;
  regexTarget: string;
  regexes: string[];
  stopwords: string[];
}

export interface RuleData {
  id: string;
  description: string;
  regex: string;
  secretGroup?: number;
  entropy?: number;
  keywords: string[];
  allowlists: RuleAllowlist[];
}

export interface CatalogueData {
  source: string;
  license: string;
  allowlist: { regexes: string[]; stopwords: string[] };
  rules: RuleData[];
}

export interface CompiledAllowlist {
  and: boolean;
  target: 'secret' | 'match' | 'line';
  regexes: LinearRegex[];
  stopwords: string[];
}

export class CompiledRule {
  private compiled: LinearRegex | undefined;
  private lists: CompiledAllowlist[] | undefined;

  constructor(readonly data: RuleData) {}

  get regex(): LinearRegex {
    return (this.compiled ??= new LinearRegex(this.data.regex));
  }

  get allowlists(): CompiledAllowlist[] {
    return (this.lists ??= this.data.allowlists.map(compileAllowlist));
  }
}

function compileAllowlist(a: RuleAllowlist): CompiledAllowlist {
  const target = a.regexTarget === 'match' || a.regexTarget === 'line' ? a.regexTarget : 'secret';
  return {
    and: a.condition === 'AND',
    target,
    regexes: a.regexes.map((r) => new LinearRegex(r)),
    stopwords: a.stopwords.map((s) => s.toLowerCase()),
  };
}

export class Catalogue {
  readonly rules: CompiledRule[];
  /** Rules by keyword (lower case): the pre-filter. */
  readonly byKeyword = new Map<string, CompiledRule[]>();
  /** Rules without keywords run on every text. */
  readonly always: CompiledRule[] = [];
  readonly global: CompiledAllowlist;

  constructor(readonly data: CatalogueData) {
    this.rules = data.rules.map((r) => new CompiledRule(r));
    for (const r of this.rules) {
      if (r.data.keywords.length === 0) this.always.push(r);
      for (const k of r.data.keywords) {
        const list = this.byKeyword.get(k) ?? [];
        list.push(r);
        this.byKeyword.set(k, list);
      }
    }
    this.global = compileAllowlist({
      condition: 'OR',
      regexTarget: 'secret',
      regexes: data.allowlist.regexes,
      stopwords: data.allowlist.stopwords,
    });
  }

  /** The rules whose keywords occur in the (lower-cased) text. */
  candidates(lower: string): CompiledRule[] {
    const out = new Set<CompiledRule>(this.always);
    for (const [k, rules] of this.byKeyword) {
      if (lower.includes(k)) for (const r of rules) out.add(r);
    }
    return [...out];
  }
}

let shipped: Catalogue | undefined;
/** The shipped gitleaks catalogue (built once). */
export function gitleaksCatalogue(): Catalogue {
  return (shipped ??= new Catalogue(data as CatalogueData));
}

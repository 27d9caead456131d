// The secrets rule catalogue: gitleaks' default rules (MIT, see gitleaks-rules.json for the
// source commit and licence), compiled for linear-time matching. A rule runs only when one of
// its keywords occurs in the text; patterns are compiled on first use.

import { KeywordSet } from '../keywords.js';
import { LinearRegex, mayMatchWhitespace } from '../regex.js';
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

/**
 * gitleaks' semi-generic rules share one shape: up to 50 characters, a keyword, up to 20
 * characters, quotes, an assignment operator, quotes, the secret, a terminator. A match of
 * such a rule sits next to an occurrence of its keyword, so it is matched in a small window
 * around each occurrence followed by an operator instead of across the whole text.
 */
const TEMPLATE_HEAD = String.raw`(?i)[\w.-]{0,50}?(?:`;
const TEMPLATE_OP = String.raw`(?:[ \t\w.-]{0,20})[\s'"]{0,3}(?:=|>|:{1,3}=|\|\||:|=>|\?=|,)`;

/** The terminator gitleaks puts after a secret: a quote, space, semicolon, "\\n" or the end. */
const TERMINATOR = String.raw`(?:[\x60'"\s;]|\\[nr]|$)`;
/**
 * The same, widened for provider rules: a token at the end of a sentence, inside parentheses,
 * a list, a tag or a query string ("npm_… ,", "(ghp_…)", "…&token=…") is still a token. Semi-generic
 * rules keep gitleaks' terminator (their values have no fixed shape to end them).
 */
const WIDE_TERMINATOR = String.raw`(?:[\x60'"\s;,.)\]}>|&<]|\\[nr]|$)`;

export function isTemplateRule(regex: string): boolean {
  const at = regex.indexOf(TEMPLATE_OP);
  return regex.startsWith(TEMPLATE_HEAD) && at > 0 && !regex.slice(at).includes(')|');
}

export class CompiledRule {
  private compiled: LinearRegex | undefined;
  private lists: CompiledAllowlist[] | undefined;
  readonly template: boolean;
  /** Indices of its keywords in the catalogue's keyword set. */
  keywordIds: number[] = [];

  /**
   * A match cannot contain whitespace (but for gitleaks' one-character terminator), so it lies
   * within the whitespace-delimited token around its keyword: matched in those tokens only.
   */
  readonly tokenBound: boolean;

  constructor(readonly data: RuleData) {
    this.template = isTemplateRule(data.regex);
    const body = data.regex.split(TERMINATOR).join('');
    this.tokenBound = !this.template && !mayMatchWhitespace(body) && !/(?<!\\)\^/.test(body);
  }

  get regex(): LinearRegex {
    const source = this.template
      ? this.data.regex
      : this.data.regex.split(TERMINATOR).join(WIDE_TERMINATOR);
    return (this.compiled ??= new LinearRegex(source));
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

export interface Candidates {
  rules: CompiledRule[];
  /** Where each keyword occurs: keyword index → starts (lower-cased text offsets). */
  positions: Map<number, number[]>;
}

export class Catalogue {
  readonly rules: CompiledRule[];
  /** Every rule keyword (lower case), found in one pass: the pre-filter. */
  readonly keywords: KeywordSet;
  private readonly byKeyword: CompiledRule[][];
  /** Rules without keywords run on every text. */
  readonly always: CompiledRule[] = [];
  readonly global: CompiledAllowlist;

  constructor(readonly data: CatalogueData) {
    this.rules = data.rules.map((r) => new CompiledRule(r));
    const ids = new Map<string, number>();
    for (const r of this.rules) {
      if (r.data.keywords.length === 0) this.always.push(r);
      for (const k of r.data.keywords) {
        if (!ids.has(k)) ids.set(k, ids.size);
        r.keywordIds.push(ids.get(k)!);
      }
    }
    this.keywords = new KeywordSet([...ids.keys()]);
    this.byKeyword = [...ids.keys()].map(() => []);
    for (const r of this.rules) for (const id of r.keywordIds) this.byKeyword[id]!.push(r);
    this.global = compileAllowlist({
      condition: 'OR',
      regexTarget: 'secret',
      regexes: data.allowlist.regexes,
      stopwords: data.allowlist.stopwords,
    });
  }

  /** The rules whose keywords occur in the (lower-cased) text, and where the keywords are. */
  candidates(lower: string): Candidates {
    const positions = new Map<number, number[]>();
    for (const [id, start] of this.keywords.occurrences(lower)) {
      const list = positions.get(id);
      if (list) list.push(start);
      else positions.set(id, [start]);
    }
    const out = new Set<CompiledRule>(this.always);
    for (const id of positions.keys()) for (const r of this.byKeyword[id]!) out.add(r);
    return { rules: [...out], positions };
  }
}

let shipped: Catalogue | undefined;
/** The shipped gitleaks catalogue (built once). */
export function gitleaksCatalogue(): Catalogue {
  return (shipped ??= new Catalogue(data as CatalogueData));
}

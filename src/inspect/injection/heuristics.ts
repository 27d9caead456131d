// Prompt injection and jailbreaks, the fast tier: phrasings that override instructions, role-play
// jailbreaks, text in tool output addressed to the model, invisible or bidirectional Unicode,
// and base64 payloads that decode to any of these. Each technique has a weight; the text's
// score combines them (1 - Π(1 - wᵢ)), so several weak signals add up.

import { KeywordSet } from '../keywords.js';
import { BoundedRegex } from '../regex.js';
import type { Detector, Finding } from '../types.js';

interface Pattern {
  type: string;
  weight: number;
  /** Groups of lower-case words: every match contains a word of each group. */
  triggers: string[][];
  triggerIds: number[][];
  regex: BoundedRegex;
}

const p = (
  type: string,
  weight: number,
  triggers: string[] | string[][],
  source: string,
): Pattern => ({
  type,
  weight,
  triggers: (Array.isArray(triggers[0]) ? triggers : [triggers]) as string[][],
  triggerIds: [],
  regex: new BoundedRegex(source, true),
});

const W = String.raw`[\s,.:;'"*_-]{1,5}`; // separators between words of a phrase
const PREVIOUS = String.raw`(?:(?:all|any|the|your|of|my|these|those)\s{1,3}){0,4}(?:previous|prior|above|earlier|preceding|former|original|initial|system|developer|safety|existing)`;
const INSTRUCTIONS = String.raw`(?:instructions?|prompts?|rules|directions|directives|guidelines|guardrails|messages|context|commands|constraints|restrictions|policies|programming)`;

const PATTERNS: Pattern[] = [
  p(
    'instruction-override',
    0.9,
    [
      ['ignore', 'disregard', 'forget', 'override', 'bypass', 'skip', 'drop', 'abandon', 'discard'],
      ['instruction', 'prompt', 'rule', 'direction', 'directive', 'guideline', 'guardrail'].concat([
        'message',
        'context',
        'command',
        'constraint',
        'restriction',
        'polic',
        'programming',
      ]),
    ],
    String.raw`\b(?:ignore|disregard|forget|override|bypass|skip|drop|abandon|discard)${W}${PREVIOUS}${W}${INSTRUCTIONS}\b`,
  ),
  p(
    'instruction-override',
    0.7,
    ['instruction', 'from now on', 'your new'],
    String.raw`\b(?:new|updated|real|actual|revised)\s{1,3}(?:system\s{1,3})?instructions?\s{0,3}:|\bfrom\s{1,3}now\s{1,3}on,?\s{1,3}you\s{1,3}(?:will|must|are|shall|should)\b|\byour\s{1,3}new\s{1,3}(?:task|goal|objective|instructions?)\s{1,3}(?:is|are)\b`,
  ),
  p(
    'jailbreak-roleplay',
    0.85,
    [
      'anything now',
      'dan mode',
      'developer mode',
      'jailbreak',
      'god mode',
      'unfiltered mode',
      'restrictions mode',
    ],
    String.raw`\b(?:do\s{1,3}anything\s{1,3}now|DAN\s{1,3}mode|developer\s{1,3}mode\s{1,3}(?:enabled|on|output)|jailbreak(?:ed|\s{1,3}mode)?|god\s{1,3}mode|unfiltered\s{1,3}mode|no\s{1,3}restrictions\s{1,3}mode)\b`,
  ),
  p(
    'jailbreak-roleplay',
    0.75,
    [
      ['you are now', 'pretend', 'act as', 'role', 'behave as'],
      ['unrestricted', 'unfiltered', 'uncensored', 'no ', 'without', 'evil', 'dan'],
    ],
    String.raw`\b(?:you\s{1,3}are\s{1,3}now|pretend\s{1,3}(?:that\s{1,3})?you\s{1,3}are|pretend\s{1,3}to\s{1,3}be|act\s{1,3}as|roleplay\s{1,3}as|role-play\s{1,3}as|behave\s{1,3}as)\b[^.\n]{0,80}\b(?:unrestricted|unfiltered|uncensored|no\s{1,3}(?:rules|restrictions|limits|filters|guidelines|ethics)|without\s{1,3}(?:any\s{1,3})?(?:rules|restrictions|limits|filters|guidelines|ethics|morals)|evil|DAN)\b`,
  ),
  p(
    'prompt-exfiltration',
    0.7,
    [
      'system prompt',
      'initial prompt',
      'hidden instructions',
      'system instructions',
      'system message',
    ],
    String.raw`\b(?:reveal|print|show|repeat|output|display|leak|tell\s{1,3}me|give\s{1,3}me|what\s{1,3}(?:is|are))\s{1,3}(?:me\s{1,3})?(?:your|the)\s{1,3}(?:full\s{1,3}|entire\s{1,3}|original\s{1,3}|hidden\s{1,3}|secret\s{1,3})?(?:system\s{1,3}prompt|initial\s{1,3}prompt|hidden\s{1,3}instructions|system\s{1,3}instructions|system\s{1,3}message)\b`,
  ),
  p(
    'addressed-to-model',
    0.75,
    [
      [
        'note',
        'message',
        'instruction',
        'attention',
        'important',
        'dear',
        'hey',
        'hello',
        'if you',
      ],
      ['ai', 'assistant', 'model', 'llm', 'agent', 'chatbot', 'chatgpt', 'claude'],
    ],
    String.raw`\b(?:note|message|instructions?|attention|important)\s{1,3}(?:to|for)\s{1,3}(?:the\s{1,3}|any\s{1,3}|all\s{1,3})?(?:ai|assistant|model|llm|agent|chatbot|language\s{1,3}model|ai\s{1,3}agent|ai\s{1,3}assistant)s?\b|\b(?:dear|hey|hello)\s{1,3}(?:ai|assistant|model|llm|agent|chatgpt|claude)\b|\bif\s{1,3}you\s{1,3}are\s{1,3}an?\s{1,3}(?:ai|llm|language\s{1,3}model|assistant|agent)\b`,
  ),
  p(
    'addressed-to-model',
    0.7,
    ['<|', '[inst]', '[/inst]', '<<sys>>', 'system', 'instruction', 'assistant'],
    String.raw`<\|im_start\|>|<\|im_end\|>|<\|system\|>|\[INST\]|\[/INST\]|<<SYS>>|</?system>|(?:^|\n)\s{0,3}#{2,6}\s{0,3}(?:system|instructions?)\b|(?:^|\n)\s{0,3}(?:system|assistant)\s{0,3}:\s`,
  ),
  p(
    'tool-hijack',
    0.6,
    [
      [
        'call',
        'invoke',
        'run',
        'use',
        'execute',
        'send',
        'forward',
        'email',
        'post',
        'upload',
      ].concat(['exfiltrate']),
      [
        'tool',
        'function',
        'command',
        'secret',
        'credential',
        'api key',
        'token',
        'password',
      ].concat([
        'conversation',
        'chat history',
        'private key',
        'environment variable',
        'env variable',
      ]),
    ],
    String.raw`\b(?:you\s{1,3}must|you\s{1,3}should|immediately|now)\s{1,3}(?:call|invoke|run|use|execute)\s{1,3}(?:the\s{1,3})?(?:tool|function|command)\b|\b(?:send|forward|email|post|upload|exfiltrate)\s{1,3}(?:(?:all|the|your|any|of)\s{1,3}){0,4}(?:secrets?|credentials?|api\s{1,3}keys?|tokens?|passwords?|conversation|chat\s{1,3}history|private\s{1,3}keys?|env(?:ironment)?\s{1,3}variables)\s{1,3}to\b`,
  ),
];

/** Every trigger word, found in one pass. */
const TRIGGER_WORDS = [...new Set(PATTERNS.flatMap((x) => x.triggers.flat()))];
const TRIGGERS = new KeywordSet(TRIGGER_WORDS);
for (const pat of PATTERNS)
  pat.triggerIds = pat.triggers.map((g) => g.map((w) => TRIGGER_WORDS.indexOf(w)));

/** Unicode tag characters (U+E0000–E007F): invisible ASCII smuggled past a human reader. */
const TAGS = /[\u{E0000}-\u{E007F}]{1,1024}/gu;
/** Bidirectional overrides and isolates: text that displays differently from what it says. */
const BIDI = /[\u202A-\u202E\u2066-\u2069]{1,1024}/g;
/** Zero-width characters, used to split trigger words. */
const ZERO_WIDTH = /[\u200B-\u200D\u2060\u180E]{1,1024}/g;
/** A base64 run long enough to carry a sentence. */
const BASE64_CHAR = new Uint8Array(128);
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/')
  BASE64_CHAR[c.charCodeAt(0)] = 1;

/** Runs of 24–4096 base64 characters (and their "=" padding): long enough to carry a sentence. */
function* base64Runs(text: string): Generator<[number, number]> {
  let i = 0;
  while (i < text.length) {
    if (!BASE64_CHAR[text.charCodeAt(i)]) {
      i++;
      continue;
    }
    const start = i;
    while (i < text.length && i - start < 4096 && BASE64_CHAR[text.charCodeAt(i)]) i++;
    let end = i;
    while (end < text.length && end - i < 2 && text[end] === '=') end++;
    if (i - start >= 24) yield [start, end];
    i = end;
  }
}

function decodeBase64(s: string): string | undefined {
  const text = Buffer.from(s, 'base64').toString('utf8');
  // Mostly printable text: an encoded message, not binary data.
  let printable = 0;
  for (const ch of text) if (/[\x20-\x7E\n\r\t]/.test(ch)) printable++;
  return text.length >= 12 && printable / text.length > 0.9 ? text : undefined;
}

export function combine(weights: number[]): number {
  return 1 - weights.reduce((acc, w) => acc * (1 - w), 1);
}

export class InjectionHeuristics implements Detector {
  readonly name = 'injection' as const;

  detect(text: string): Finding[] {
    return this.scan(text, true);
  }

  private scan(text: string, decode: boolean): Finding[] {
    const out: Finding[] = [];
    const add = (type: string, start: number, end: number, score: number) =>
      out.push({ detector: 'injection', type, start, end, score });
    // Words split by zero-width characters are matched as if the characters were not there.
    const visible = text.replace(ZERO_WIDTH, '');
    const offsets = visible.length === text.length ? undefined : originalOffsets(text);
    const at = (i: number) => (offsets ? offsets[i]! : i);
    const present = TRIGGERS.present(visible.toLowerCase());
    for (const pat of PATTERNS) {
      // A pattern runs only when its trigger words occur (gitleaks' keyword idea).
      if (!pat.triggerIds.every((group) => group.some((t) => present[t]))) continue;
      for (const m of pat.regex.matches(visible)) add(pat.type, at(m.start), at(m.end), pat.weight);
    }
    for (const m of text.matchAll(TAGS))
      add('invisible-unicode', m.index, m.index + m[0].length, 0.9);
    for (const m of text.matchAll(BIDI)) add('bidi-control', m.index, m.index + m[0].length, 0.6);
    for (const m of text.matchAll(ZERO_WIDTH)) {
      // A zero-width joiner between emoji is ordinary; inside a word it hides something.
      const around = text.slice(Math.max(0, m.index - 1), m.index + m[0].length + 1);
      if (/[A-Za-z].*[A-Za-z]/su.test(around))
        add('invisible-unicode', m.index, m.index + m[0].length, 0.4);
    }
    if (decode) {
      for (const [start, end] of base64Runs(text)) {
        const run = text.slice(start, end);
        // Encoded sentences mix cases; hex digests and identifiers do not.
        if (!/[a-z]/.test(run) || !/[A-Z]/.test(run)) continue;
        const decoded = decodeBase64(run);
        if (!decoded) continue;
        const inner = this.scan(decoded, false);
        if (inner.length > 0)
          add('encoded-instructions', start, end, Math.max(...inner.map((f) => f.score)));
      }
    }
    return out.sort((a, b) => a.start - b.start);
  }
}

/** offsets[i] = the index in `text` of the i-th character kept once zero-width ones are gone. */
function originalOffsets(text: string): number[] {
  const out: number[] = [];
  const zw = /[\u200B-\u200D\u2060\u180E]/;
  for (let i = 0; i < text.length; i++) if (!zw.test(text[i]!)) out.push(i);
  out.push(text.length);
  return out;
}

/** The score 0..1 of a text's injection findings, techniques combined. */
export function injectionScore(findings: Finding[]): number {
  const best = new Map<string, number>();
  for (const f of findings)
    if (f.detector === 'injection') best.set(f.type, Math.max(best.get(f.type) ?? 0, f.score));
  return combine([...best.values()]);
}

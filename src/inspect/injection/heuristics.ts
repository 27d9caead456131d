// Prompt injection and jailbreaks, the fast tier: phrasings that override instructions, role-play
// jailbreaks, text in tool output addressed to the model, invisible or bidirectional Unicode,
// and base64 payloads that decode to any of these. Each technique has a weight; the text's
// score combines them (1 - Π(1 - wᵢ)), so several weak signals add up.

import { LinearRegex } from '../regex.js';
import type { Detector, Finding } from '../types.js';

interface Pattern {
  type: string;
  weight: number;
  /** Lower-case words at least one of which every match contains. */
  triggers: string[];
  regex: LinearRegex;
}

const p = (type: string, weight: number, triggers: string[], source: string): Pattern => ({
  type,
  weight,
  triggers,
  regex: new LinearRegex(source, true),
});

const W = String.raw`[\s,.:;'"*_-]+`; // separators between words of a phrase
const PREVIOUS = String.raw`(?:all\s+|any\s+|the\s+|your\s+|of\s+|my\s+|these\s+|those\s+)*(?:previous|prior|above|earlier|preceding|former|original|initial|system|developer|safety|existing)`;
const INSTRUCTIONS = String.raw`(?:instructions?|prompts?|rules|directions|directives|guidelines|guardrails|messages|context|commands|constraints|restrictions|policies|programming)`;

const PATTERNS: Pattern[] = [
  p(
    'instruction-override',
    0.9,
    ['ignore', 'disregard', 'forget', 'override', 'bypass', 'skip', 'drop', 'abandon', 'discard'],
    String.raw`\b(?:ignore|disregard|forget|override|bypass|skip|drop|abandon|discard)${W}${PREVIOUS}${W}${INSTRUCTIONS}\b`,
  ),
  p(
    'instruction-override',
    0.7,
    ['instruction', 'from now on', 'your new'],
    String.raw`\b(?:new|updated|real|actual|revised)\s+(?:system\s+)?instructions?\s*:|\bfrom\s+now\s+on,?\s+you\s+(?:will|must|are|shall|should)\b|\byour\s+new\s+(?:task|goal|objective|instructions?)\s+(?:is|are)\b`,
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
    String.raw`\b(?:do\s+anything\s+now|DAN\s+mode|developer\s+mode\s+(?:enabled|on|output)|jailbreak(?:ed|\s+mode)?|god\s+mode|unfiltered\s+mode|no\s+restrictions\s+mode)\b`,
  ),
  p(
    'jailbreak-roleplay',
    0.75,
    ['you are now', 'pretend', 'act as', 'role', 'behave as'],
    String.raw`\b(?:you\s+are\s+now|pretend\s+(?:that\s+)?you\s+are|pretend\s+to\s+be|act\s+as|roleplay\s+as|role-play\s+as|behave\s+as)\b[^.\n]{0,80}\b(?:unrestricted|unfiltered|uncensored|no\s+(?:rules|restrictions|limits|filters|guidelines|ethics)|without\s+(?:any\s+)?(?:rules|restrictions|limits|filters|guidelines|ethics|morals)|evil|DAN)\b`,
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
    String.raw`\b(?:reveal|print|show|repeat|output|display|leak|tell\s+me|give\s+me|what\s+(?:is|are))\s+(?:me\s+)?(?:your|the)\s+(?:full\s+|entire\s+|original\s+|hidden\s+|secret\s+)?(?:system\s+prompt|initial\s+prompt|hidden\s+instructions|system\s+instructions|system\s+message)\b`,
  ),
  p(
    'addressed-to-model',
    0.75,
    [
      'note',
      'message',
      'instruction',
      'attention',
      'important',
      'dear',
      'hey',
      'hello',
      'if you are',
    ],
    String.raw`\b(?:note|message|instructions?|attention|important)\s+(?:to|for)\s+(?:the\s+|any\s+|all\s+)?(?:ai|assistant|model|llm|agent|chatbot|language\s+model|ai\s+agent|ai\s+assistant)s?\b|\b(?:dear|hey|hello)\s+(?:ai|assistant|model|llm|agent|chatgpt|claude)\b|\bif\s+you\s+are\s+an?\s+(?:ai|llm|language\s+model|assistant|agent)\b`,
  ),
  p(
    'addressed-to-model',
    0.7,
    ['<|', '[inst]', '[/inst]', '<<sys>>', 'system', 'instruction', 'assistant'],
    String.raw`<\|im_start\|>|<\|im_end\|>|<\|system\|>|\[INST\]|\[/INST\]|<<SYS>>|</?system>|(?:^|\n)\s*#{2,}\s*(?:system|instructions?)\b|(?:^|\n)\s*(?:system|assistant)\s*:\s`,
  ),
  p(
    'tool-hijack',
    0.6,
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
      'exfiltrate',
    ],
    String.raw`\b(?:you\s+must|you\s+should|immediately|now)\s+(?:call|invoke|run|use|execute)\s+(?:the\s+)?(?:tool|function|command)\b|\b(?:send|forward|email|post|upload|exfiltrate)\s+(?:all\s+|the\s+|your\s+|any\s+)*(?:secrets?|credentials?|api\s+keys?|tokens?|passwords?|conversation|chat\s+history|private\s+keys?|env(?:ironment)?\s+variables)\s+to\b`,
  ),
];

/** Unicode tag characters (U+E0000–E007F): invisible ASCII smuggled past a human reader. */
const TAGS = /[\u{E0000}-\u{E007F}]+/gu;
/** Bidirectional overrides and isolates: text that displays differently from what it says. */
const BIDI = /[\u202A-\u202E\u2066-\u2069]+/g;
/** Zero-width characters, used to split trigger words. */
const ZERO_WIDTH = /[\u200B-\u200D\u2060\u180E]+/g;
/** A base64 run long enough to carry a sentence. */
const BASE64 = new LinearRegex(String.raw`[A-Za-z0-9+/]{24,}={0,2}`);

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
    const lower = visible.toLowerCase();
    for (const pat of PATTERNS) {
      // A pattern runs only when one of its trigger words occurs (gitleaks' keyword idea).
      if (!pat.triggers.some((t) => lower.includes(t))) continue;
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
      for (const m of BASE64.matches(text)) {
        const decoded = decodeBase64(text.slice(m.start, m.end));
        if (!decoded) continue;
        const inner = this.scan(decoded, false);
        if (inner.length > 0)
          add('encoded-instructions', m.start, m.end, Math.max(...inner.map((f) => f.score)));
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

// Values that have a secret's shape but are documentation: "example", "your_key_here",
// "xxxxxxxx", "1234567890", "abcdefgh…". Reported as secrets they are false alarms, and a
// detector that cries wolf on every README gets switched off.

const WORDS =
  /example|sample|dummy|placeholder|fake|redacted|changeme|change_me|your[_-]?(?:api[_-]?)?(?:key|token|secret|password)|insert[_-]?(?:your|key|token)|xxxx|\*\*\*\*|<[a-z_ -]{1,40}>|\$\{|\{\{|%s/i;

const SEQUENCES = ['0123456789', 'abcdefghijklmnopqrstuvwxyz', 'qwertyuiop', 'asdfghjkl'];

/** A run of at least `n` characters that step through one of the sequences above (either way). */
function hasSequentialRun(s: string, n: number): boolean {
  const lower = s.toLowerCase();
  for (const seq of SEQUENCES) {
    for (const order of [seq, [...seq].reverse().join('')]) {
      for (let i = 0; i + n <= order.length; i++)
        if (lower.includes(order.slice(i, i + n))) return true;
    }
  }
  return false;
}

/** True when the value reads as a placeholder, an example or a test pattern, not a secret. */
export function isPlaceholder(value: string): boolean {
  if (WORDS.test(value)) return true;
  // The same character eight times ("00000000", "aaaaaaaa"): filler, not key material.
  if (/(.)\1{7}/.test(value)) return true;
  if (hasSequentialRun(value, 8)) return true;
  // Very few distinct characters for its length: "abababab…", "12121212…".
  const distinct = new Set(value).size;
  return value.length >= 16 && distinct <= 4;
}

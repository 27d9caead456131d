// Payment cards: which brand a number belongs to by its issuer prefix (IIN), and the lengths
// that brand issues (12 for some Maestro cards, up to 19 for Visa, Discover, UnionPay, JCB).

interface Brand {
  prefix: RegExp;
  lengths: number[];
}

const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => a + i);

const BRANDS: Brand[] = [
  { prefix: /^4/, lengths: [13, 16, 19] }, // Visa
  { prefix: /^(?:5[1-5]|222[1-9]|22[3-9]|2[3-6]|27[01]|2720)/, lengths: [16] }, // Mastercard
  { prefix: /^3[47]/, lengths: [15] }, // American Express
  { prefix: /^(?:30[0-5]|309|36|3[89])/, lengths: range(14, 19) }, // Diners Club
  { prefix: /^(?:6011|64[4-9]|65)/, lengths: range(16, 19) }, // Discover
  { prefix: /^35(?:2[89]|[3-8])/, lengths: range(16, 19) }, // JCB
  { prefix: /^62/, lengths: range(16, 19) }, // UnionPay
  { prefix: /^220[0-4]/, lengths: range(16, 19) }, // Mir
  { prefix: /^(?:50|5[6-9]|6[0-9])/, lengths: range(12, 19) }, // Maestro
];

/** Whether the digits have the prefix and length of a card brand. */
export function cardBrandFits(digits: string): boolean {
  return BRANDS.some((b) => b.prefix.test(digits) && b.lengths.includes(digits.length));
}

// Checksums that separate real identifiers from digit runs that merely look like them.

import { electronicFormatIBAN, getCountrySpecifications, isValidIBAN } from 'ibantools';

/** The Luhn check of payment card numbers (digits only). */
export function luhnValid(digits: string): boolean {
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return false;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return digits.length > 0 && sum % 10 === 0;
}

/** ISO 13616 IBAN check (country, length, national format, mod 97), any case, spaces or dashes. */
export function ibanValid(iban: string): boolean {
  return isValidIBAN(electronicFormatIBAN(iban.toUpperCase()) ?? '');
}

const IBAN_SPECS = getCountrySpecifications();

/**
 * The length of the IBAN at the start of a candidate that may run on into following words
 * ("DE89 3704 0044 0532 0130 00 and"): its country's IBAN length in characters, counted with
 * the separators, or undefined when no valid IBAN starts there.
 */
export function ibanAt(candidate: string): number | undefined {
  const spec = IBAN_SPECS[candidate.slice(0, 2).toUpperCase()];
  if (!spec?.chars) return undefined;
  let chars = 0;
  let i = 0;
  for (; i < candidate.length && chars < spec.chars; i++)
    if (/[A-Za-z0-9]/.test(candidate[i]!)) chars++;
  if (chars < spec.chars || !ibanValid(candidate.slice(0, i))) return undefined;
  return i;
}

/** US SSN structure: area not 000, 666 or 9xx; group not 00; serial not 0000. */
export function ssnValid(digits: string): boolean {
  if (!/^[0-9]{9}$/.test(digits)) return false;
  const area = digits.slice(0, 3);
  if (area === '000' || area === '666' || area[0] === '9') return false;
  if (digits.slice(3, 5) === '00' || digits.slice(5) === '0000') return false;
  // Runs used in examples and tests (123-45-6789, 111-11-1111 …) are not real numbers.
  return digits !== '123456789' && !/^(\d)\1{8}$/.test(digits);
}

// Phone numbers of every country, validated by libphonenumber-js (Google's libphonenumber
// metadata): a candidate with a "+" or "00" prefix is checked against its country's numbering
// plan; one without is checked as a national number of the configured regions. A digit run
// that no plan accepts (a part number, a ZIP+4 code, a date) is not a phone number.

import { parsePhoneNumberFromString, type CountryCode } from 'libphonenumber-js/max';

/** Regions whose national formats (no country code) are recognised by default. */
export const DEFAULT_PHONE_REGIONS: CountryCode[] = ['US', 'GB', 'DE', 'FR', 'IN', 'AU'];

const DATE_OR_ZIP =
  /^(?:[0-9]{5}-[0-9]{4}|[0-9]{4}[-/.][0-9]{1,2}[-/.][0-9]{1,2}|[0-9]{1,2}[-/.][0-9]{1,2}[-/.][0-9]{2,4}|[0-9]{1,2}:[0-9]{2})$/;

/**
 * A score for a phone-number candidate, or undefined when it is none. `context` says whether a
 * word such as "phone" or "tel" is near: a bare digit run is a number only then.
 */
export function phoneScore(
  candidate: string,
  context: () => boolean,
  regions: CountryCode[] = DEFAULT_PHONE_REGIONS,
): number | undefined {
  const digits = candidate.replace(/[^0-9]/g, '');
  if (digits.length < 7 || digits.length > 17) return undefined;
  if (DATE_OR_ZIP.test(candidate)) return undefined;
  const separated = /[ .()/-]/.test(candidate.trim());
  if (!separated && !candidate.startsWith('+') && !context()) return undefined;
  // Version strings and dotted numbers with many groups ("10.0.19041.1") are not phones.
  if (/^[0-9]{1,4}(?:\.[0-9]{1,6}){3,}$/.test(candidate)) return undefined;
  const international = candidate.startsWith('+') || /^00[1-9]/.test(candidate);
  if (international) {
    const e164 = '+' + (candidate.startsWith('+') ? digits : digits.slice(2));
    const n = parsePhoneNumberFromString(e164);
    if (n?.isValid()) return 0.85;
    return n?.isPossible() ? 0.4 : undefined;
  }
  for (const region of regions) {
    // Abroad, a national number is written with its trunk prefix 0 (020 7946 0958): without
    // one, a digit group such as a part number would be valid somewhere.
    if (region !== regions[0] && !/^\(?0/.test(candidate)) continue;
    const n = parsePhoneNumberFromString(candidate, region);
    if (n?.isValid()) {
      // The first region is the home one; a number valid only elsewhere is weaker evidence.
      if (region === regions[0]) return separated ? 0.6 : 0.25;
      return separated ? 0.45 : 0.2;
    }
  }
  // Not in any plan, but shaped like a NANP number written out: a fictional 555 number, say.
  return /^\(?[0-9]{3}\)?[ .-][0-9]{3}[ .-][0-9]{4}$/.test(candidate) ? 0.3 : undefined;
}

/**
 * Check digits of the two identifiers an applicant gives: the resident identity number
 * (GB 11643-1999, ISO 7064 MOD 11-2) and the unified social credit code (GB 32100-2015, a
 * weighted MOD 31 over its own 31-character alphabet). A typo at the counter is caught here,
 * before a case is made.
 */

const ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const ID_CHECK = '10X98765432';

/** True when an 18-character identity number has a valid birth date and check digit. */
export function isValidIdentityNumber(value: string): boolean {
  if (!/^\d{17}[\dX]$/.test(value)) return false;
  const birth = value.slice(6, 14);
  const year = Number(birth.slice(0, 4));
  const month = Number(birth.slice(4, 6));
  const day = Number(birth.slice(6, 8));
  const date = new Date(Date.UTC(year, month - 1, day));
  const realDate =
    date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
  if (!realDate || year < 1900) return false;
  const sum = ID_WEIGHTS.reduce((acc, w, i) => acc + w * Number(value[i]), 0);
  return ID_CHECK[sum % 11] === value[17];
}

// The credit code alphabet leaves out I, O, S, V and Z to avoid misreading.
const CREDIT_ALPHABET = '0123456789ABCDEFGHJKLMNPQRTUWXY';
const CREDIT_WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];

/** True when an 18-character unified social credit code has a valid check character. */
export function isValidCreditCode(value: string): boolean {
  if (value.length !== 18) return false;
  const values = [...value].map((c) => CREDIT_ALPHABET.indexOf(c));
  if (values.some((v) => v < 0)) return false;
  const sum = CREDIT_WEIGHTS.reduce((acc, w, i) => acc + w * values[i], 0);
  const check = (31 - (sum % 31)) % 31;
  return values[17] === check;
}

import test from 'ava';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { isValidCreditCode, isValidIdentityNumber } from '../lib/identity';

// Check digits worked out by hand. 11010519491231002X: weights 7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2
// over 1 1 0 1 0 5 1 9 4 9 1 2 3 1 0 0 2 give 7+9+0+5+0+20+2+9+24+27+7+18+30+5+0+0+4 = 167;
// 167 mod 11 = 2, and position 2 of "10X98765432" is X.
test('an identity number with the right check digit and birth date is valid', (t) => {
  t.true(isValidIdentityNumber('11010519491231002X'));
});

test('an identity number with a wrong check digit, a bad date or a bad length is not', (t) => {
  t.false(isValidIdentityNumber('110105194912310021'));
  t.false(isValidIdentityNumber('110105194902301234')); // 30 February
  t.false(isValidIdentityNumber('11010519491231002'));
  t.false(isValidIdentityNumber('11010519491231002x'));
});

// 91350100M000100Y43: the alphabet values of 9 1 3 5 0 1 0 0 M 0 0 0 1 0 0 Y 4 are
// 9 1 3 5 0 1 0 0 21 0 0 0 1 0 0 30 4; with weights 1 3 9 27 19 26 16 17 20 29 25 13 8 24 10 30 28
// the sum is 9+3+27+135+0+26+0+0+420+0+0+0+8+0+0+900+112 = 1640; 1640 mod 31 = 28; 31-28 = 3.
test('a credit code with the right check character is valid, one with another is not', (t) => {
  t.true(isValidCreditCode('91350100M000100Y43'));
  t.false(isValidCreditCode('91350100M000100Y44'));
  t.false(isValidCreditCode('91350100M000100Y4I')); // I is not in the alphabet
});

test('every applicant of the reference batch has valid identifiers', (t) => {
  const apps = (
    JSON.parse(readFileSync(path.join(__dirname, '..', 'data', 'applications.json'), 'utf8')) as {
      applications: unknown;
    }
  ).applications as {
    applicant: {
      idNumber?: string;
      creditCode?: string;
      legalRepresentative?: { idNumber: string };
    };
  }[];
  for (const { applicant } of apps) {
    if (applicant.idNumber) t.true(isValidIdentityNumber(applicant.idNumber), applicant.idNumber);
    if (applicant.creditCode) t.true(isValidCreditCode(applicant.creditCode), applicant.creditCode);
    if (applicant.legalRepresentative) {
      t.true(isValidIdentityNumber(applicant.legalRepresentative.idNumber));
    }
  }
});

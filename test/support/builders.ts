/**
 * Fixture factories: an application as a counter submits it, with valid identity numbers, and
 * overrides for what a test cares about.
 */

/** A company applicant with a valid credit code and legal representative ID (synthetic). */
export function buildCompany(overrides: Record<string, unknown> = {}) {
  return {
    type: 'company' as const,
    name: '深圳市测试餐饮有限公司',
    creditCode: '91440300MA5000022Q',
    legalRepresentative: { name: '高娜', idNumber: '440303196905095564' },
    phone: '13800000002',
    email: 'office@example.com',
    ...overrides,
  };
}

/** A natural-person applicant with a valid identity number (synthetic). */
export function buildPerson(overrides: Record<string, unknown> = {}) {
  return {
    type: 'person' as const,
    name: '李雷',
    idNumber: '44030419980914758X',
    phone: '13800000004',
    ...overrides,
  };
}

/** A submission of the food business licence (promised, market, 10 working days). */
export function buildApplication(overrides: Record<string, unknown> = {}) {
  return {
    item: 'market-food-business-licence',
    applicant: buildCompany(),
    channels: ['sms'],
    materials: [
      'application-form',
      'business-licence-copy',
      'layout-and-process',
      'food-safety-rules',
    ],
    ...overrides,
  };
}

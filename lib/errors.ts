/**
 * The closed set of domain errors. Each has a stable snake_case code, an HTTP status and whether
 * its message may be shown to the caller. Routes throw them; api/errors.ts maps them to responses;
 * workflow validators raise ApplicationFailure with the same code as its type, so a refusal that
 * comes back from Temporal maps to the same response.
 */

/** Every error code the hall can answer with. */
export const errorCatalog = {
  validation_failed: { status: 422, expose: true },
  unknown_item: { status: 422, expose: true },
  unknown_material: { status: 422, expose: true },
  invalid_identity_number: { status: 422, expose: true },
  invalid_credit_code: { status: 422, expose: true },
  unauthenticated: { status: 401, expose: true },
  forbidden: { status: 403, expose: true },
  wrong_department: { status: 403, expose: true },
  case_not_found: { status: 404, expose: true },
  task_not_found: { status: 404, expose: true },
  not_found: { status: 404, expose: true },
  already_decided: { status: 409, expose: true },
  invalid_state: { status: 409, expose: true },
  conflicting_conclusion: { status: 409, expose: true },
  task_cancelled: { status: 409, expose: true },
  extension_not_allowed: { status: 409, expose: true },
  extension_too_long: { status: 422, expose: true },
  not_suspended: { status: 409, expose: true },
  fee_not_in_catalog: { status: 422, expose: true },
  payment_pending: { status: 409, expose: true },
  catalog_invalid: { status: 500, expose: false },
  unavailable: { status: 503, expose: true },
  internal: { status: 500, expose: false },
} as const satisfies Record<string, { status: number; expose: boolean }>;

/** A stable error code of the hall. */
export type ErrorCode = keyof typeof errorCatalog;

/** One field-level problem of a rejected request. */
export interface FieldProblem {
  path: string;
  message: string;
}

/** A business error with a stable code; routes throw it and the error middleware answers it. */
export class DomainError extends Error {
  override readonly name = 'DomainError';
  readonly status: number;
  readonly expose: boolean;

  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: { problems?: FieldProblem[]; [key: string]: unknown },
  ) {
    super(message);
    this.status = errorCatalog[code].status;
    this.expose = errorCatalog[code].expose;
  }
}

/** True when the text is one of the hall's error codes (for failures coming back from Temporal). */
export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(errorCatalog, value);
}

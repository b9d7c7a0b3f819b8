import { z } from 'zod';

const materialCodes = z.array(z.string().min(1)).max(50);

const person = z.object({
  type: z.literal('person'),
  name: z.string().trim().min(1).max(100),
  idNumber: z.string().min(1),
  phone: z
    .string()
    .regex(/^1\d{10}$/, 'an 11-digit mobile number')
    .optional(),
  email: z.email().optional(),
  address: z.string().max(200).optional(),
});

const company = z.object({
  type: z.literal('company'),
  name: z.string().trim().min(1).max(200),
  creditCode: z.string().min(1),
  legalRepresentative: z.object({
    name: z.string().trim().min(1).max(100),
    idNumber: z.string().min(1),
  }),
  phone: z
    .string()
    .regex(/^1\d{10}$/, 'an 11-digit mobile number')
    .optional(),
  email: z.email().optional(),
  address: z.string().max(200).optional(),
});

/** POST /cases: an application handed in at a counter. */
export const submitBody = z.object({
  item: z.string().min(1),
  applicant: z.discriminatedUnion('type', [person, company]),
  channels: z.array(z.enum(['sms', 'email'])).default([]),
  materials: materialCodes,
  /** For a case taken over in progress from a department's own register: when it was received. */
  receivedAt: z.iso.datetime({ offset: true }).optional(),
});

/** The path of every case route. */
export const caseParams = z.object({ caseNumber: z.string().min(1).max(64) });

/** POST /cases/:caseNumber/intake: the clerk's decision on the application. */
export const intakeBody = z.discriminatedUnion('decision', [
  z.object({
    decision: z.literal('accept'),
    concludeAtIntake: z.enum(['approve', 'deny']).optional(),
    reasons: z.string().max(2000).optional(),
    /** The fee lines to charge, for an item with fees (a per-copy fee may appear twice). */
    fees: z.array(z.string().min(1)).max(20).optional(),
  }),
  z.object({ decision: z.literal('requestCorrection'), missing: materialCodes.min(1) }),
  z.object({
    decision: z.literal('refuseToAccept'),
    reasonCode: z.enum(['notLicensable', 'wrongOrgan', 'other']),
    reasons: z.string().trim().min(1).max(2000),
    competentOrgan: z.string().trim().min(1).max(200).optional(),
  }),
]);

/**
 * POST /cases/:caseNumber/supplement: materials handed in after a correction request, or after
 * a department asked for more on its task (`task` names it when several tasks wait).
 */
export const supplementBody = z.object({
  materials: materialCodes.min(1),
  task: z.string().min(1).max(100).optional(),
});

/** POST /cases/:caseNumber/tasks/:task/materialsRequest: a department asks for more materials. */
export const materialsRequestBody = z.object({
  materials: materialCodes.min(1),
  reason: z.string().trim().min(1).max(2000),
});

/** POST /cases/:caseNumber/conclusion: a department's decision on its task. */
export const conclusionBody = z
  .object({
    task: z.string().min(1).optional(),
    decision: z.enum(['approve', 'deny']),
    reasons: z.string().trim().max(4000).optional(),
  })
  .refine((b) => b.decision === 'approve' || (b.reasons ?? '').length > 0, {
    message: 'a denial needs its reasons',
    path: ['reasons'],
  });

/** POST /cases/:caseNumber/withdrawal: the applicant withdraws. */
export const withdrawalBody = z.object({ reasons: z.string().trim().min(1).max(2000) });

/** GET /cases: filters and paging. */
export const listQuery = z.object({
  status: z
    .enum([
      'submitted',
      'correctionRequested',
      'refusedToAccept',
      'accepted',
      'concluded',
      'collected',
      'withdrawn',
    ])
    .optional(),
  department: z.string().min(1).optional(),
  item: z.string().min(1).optional(),
  page: z.coerce.number().int().min(1).default(1),
  pageSize: z.coerce.number().int().min(1).max(200).default(50),
});

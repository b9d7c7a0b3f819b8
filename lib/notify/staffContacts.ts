/**
 * Who on the hall's side is told of a clock's warnings and urgings (电子监察): each department's
 * duty contact, the hall's supervisors and its leadership. They are hall settings, not legal
 * facts: an administrator keeps them in the `staffContacts` section of data/hall.json. A
 * department without a contact is not an error; the notifier records that its notification
 * could not be addressed, where supervisors see it.
 */
import { z } from 'zod';

/** The statutory-time events staff are told of. */
export const STAFF_NOTIFICATION_STEPS = [
  'reminder',
  'yellow',
  'red',
  'urged',
  'urgingEscalated',
] as const;

/** One statutory-time event told to staff (the warning levels, an urging, its escalation). */
export type StaffNotificationStep = (typeof STAFF_NOTIFICATION_STEPS)[number];

/** The kinds of staff recipient. */
export type StaffAudience = 'department' | 'supervisors' | 'leadership';

/**
 * Who gets what: the department of the task hears of everything about its own task; supervisors
 * from yellow on; leadership at red and when a department leaves an urging unanswered.
 */
export const STAFF_ROUTING: Record<StaffNotificationStep, readonly StaffAudience[]> = {
  reminder: ['department'],
  yellow: ['department', 'supervisors'],
  red: ['department', 'supervisors', 'leadership'],
  urged: ['department'],
  urgingEscalated: ['leadership'],
};

// Mainland mobile numbers; an e-mail address as the SMTP server will take it.
const mobile = z.string().regex(/^(\+?86)?1\d{10}$/, 'a mainland mobile number (11 digits)');
const email = z.email();

const contactFields = {
  /** How the messages and the register name the contact, e.g. 值班室, 督查科. */
  name: z.string().min(1).max(60),
  email: email.optional(),
  mobile: mobile.optional(),
};

const personSchema = z.object({
  /** Stable id of the person: part of each notification's key. */
  id: z.string().regex(/^[a-z0-9][a-z0-9-]{0,39}$/, 'lower-case letters, digits and dashes'),
  ...contactFields,
});

const directorySchema = z.object({
  description: z.string().optional(),
  departments: z.record(z.string(), z.object(contactFields)).default({}),
  supervisors: z.array(personSchema).default([]),
  leadership: z.array(personSchema).default([]),
});

/** A department's duty contact: a mailbox and/or a mobile; either may be missing. */
export type DutyContact = z.infer<z.ZodObject<typeof contactFields>>;

/** A supervisor or a leader of the hall. */
export type StaffPerson = z.infer<typeof personSchema>;

/** The hall's staff contacts, as data/hall.json gives them. */
export type StaffDirectory = z.infer<typeof directorySchema>;

/** The contacts are malformed: every problem, with its path in hall.json. */
export class StaffContactsInvalidError extends Error {
  override readonly name = 'StaffContactsInvalidError';
  constructor(readonly problems: string[]) {
    super(`data/hall.json staffContacts: ${problems.join('; ')}`);
  }
}

/**
 * Reads the `staffContacts` section (undefined: a hall with no staff contacts at all). Throws at
 * start-up with every problem at once, and on a duplicate person id within a group.
 */
export function parseStaffContacts(value: unknown): StaffDirectory {
  const parsed = directorySchema.safeParse(value ?? {});
  if (!parsed.success) {
    throw new StaffContactsInvalidError(
      parsed.error.issues.map((i) => `${['staffContacts', ...i.path].join('.')}: ${i.message}`),
    );
  }
  const problems: string[] = [];
  for (const group of ['supervisors', 'leadership'] as const) {
    const ids = parsed.data[group].map((p) => p.id);
    for (const id of new Set(ids.filter((id, i) => ids.indexOf(id) !== i))) {
      problems.push(`staffContacts.${group}: ${id} appears twice`);
    }
  }
  if (problems.length > 0) throw new StaffContactsInvalidError(problems);
  return parsed.data;
}

/** One addressee of a staff notification; `contact` is null when the hall has none on file. */
export interface StaffRecipient {
  audience: StaffAudience;
  /** Part of the notification key: `department:market`, `supervisor:duty-1`, `leadership:…`. */
  party: string;
  contact: DutyContact | null;
}

/** The addressees of one step about one department's task, in the order of STAFF_ROUTING. */
export function staffRecipientsOf(
  directory: StaffDirectory,
  step: StaffNotificationStep,
  department: string,
): StaffRecipient[] {
  const out: StaffRecipient[] = [];
  for (const audience of STAFF_ROUTING[step]) {
    if (audience === 'department') {
      const contact = directory.departments[department] ?? null;
      out.push({ audience, party: `department:${department}`, contact });
      continue;
    }
    const people = directory[audience];
    const prefix = audience === 'supervisors' ? 'supervisor' : 'leadership';
    // A group nobody is on file for is one unaddressed recipient, so it shows in the register.
    if (people.length === 0) out.push({ audience, party: `${prefix}:none`, contact: null });
    for (const person of people) {
      out.push({ audience, party: `${prefix}:${person.id}`, contact: person });
    }
  }
  return out;
}

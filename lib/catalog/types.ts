/**
 * The catalog as the hall uses it: departments and approval items with their limits, materials
 * and fees, normalised from the shipped reference data (data/catalog.json, data/promises.json).
 */

/** How a limit is counted: working days (LLA art. 82) or calendar days (a special law's 日). */
export type LimitUnit = 'workingDays' | 'calendarDays';

/** A time limit: a number of days in a unit. */
export interface Limit {
  days: number;
  unit: LimitUnit;
}

/** The kinds of approval item (GLOSSARY: immediate, promised, joint, reported). */
export type ItemKind = 'immediate' | 'promised' | 'joint' | 'reported';

/** Which moment a law counts its limit from: acceptance (受理) or receipt (收到申请). */
export type ClockStart = 'acceptance' | 'receipt';

/** Who may approve an extension: the head of the organ, or of the people's government (joint). */
export type ExtensionApprover = 'headOfOrgan' | 'headOfGovernment';

/** A government unit with counters in the hall. */
export interface Department {
  code: string;
  name: string;
  nameEn: string;
  hasOwnSystem: boolean;
}

/** A document an applicant must hand in for an item. */
export interface Material {
  code: string;
  name: string;
  nameEn: string;
}

/** A fee set by law for an item (LLA art. 58–59: only where a law sets it, at its rate). */
export interface Fee {
  code: string;
  name: string;
  amountCNY: number;
  per: string;
  legalBasis: string;
}

/** One department's part of a joint item; its code is the item it decides. */
export interface TaskTemplate {
  code: string;
  department: string;
  itemCode: string;
  role: 'lead' | 'related';
  title: string;
  statutoryLimit: Limit;
  promisedLimit: Limit;
  clockStartsAt: ClockStart;
  dependsOn: string[];
  /** The extension the task item's law allows, if any. */
  extension: (Limit & { approver: ExtensionApprover }) | null;
}

/** One kind of licence or permit the hall accepts. */
export interface Item {
  code: string;
  name: string;
  nameEn: string;
  department: string;
  kind: ItemKind;
  statutoryLimit: Limit;
  promisedLimit: Limit;
  onTheSpot: boolean;
  clockStartsAt: ClockStart;
  extension: (Limit & { approver: ExtensionApprover }) | null;
  legalBasis: { source: string; article?: string | null }[];
  materials: Material[];
  fees: Fee[];
  needsTicket: boolean;
  /** The department tasks; a non-joint item has exactly one, deciding the item itself. */
  tasks: TaskTemplate[];
}

/** The whole validated catalog, indexed for lookups. */
export interface Catalog {
  version: string;
  hall: { code: string; name: string; timezone: string };
  departments: Map<string, Department>;
  items: Map<string, Item>;
}

/**
 * The case model shared by the workflows, the activities and the API. Pure types and data: the
 * workflow sandbox imports this file, so it must stay free of I/O and Node built-ins.
 */
import type { ClockStart, ItemKind, Limit } from '../catalog/types';

/** Where a case stands, from submission to closure. */
export type CaseStatus =
  | 'submitted'
  | 'correctionRequested'
  | 'refusedToAccept'
  | 'accepted'
  | 'concluded'
  | 'collected'
  | 'withdrawn';

/** The result of a case once concluded (or ended otherwise). */
export type CaseOutcome = 'approved' | 'denied' | 'refusedToAccept' | 'withdrawn';

/** Where one department's task stands. */
export type TaskStatus = 'waiting' | 'open' | 'concluded' | 'cancelled';

/** A department's decision on its task. */
export type Decision = 'approve' | 'deny';

/** Why a counter refused to accept (LLA art. 32 ¶1). */
export type RefusalReasonCode = 'notLicensable' | 'wrongOrgan' | 'other';

/** The person who did something to a case, as recorded in the audit trail. */
export interface Actor {
  id: string;
  role: string;
  department?: string;
  counter?: string;
}

/** The applicant, as the register keeps them (full) and documents show them. */
export interface Applicant {
  type: 'person' | 'company';
  name: string;
  idNumber?: string;
  creditCode?: string;
  legalRepresentative?: { name: string; idNumber: string };
  phone?: string;
  email?: string;
  address?: string;
}

/** The part of a catalog entry a running case needs, frozen at submission. */
export interface ItemSnapshot {
  code: string;
  name: string;
  kind: ItemKind;
  department: string;
  statutoryLimit: Limit;
  promisedLimit: Limit;
  clockStartsAt: ClockStart;
  onTheSpot: boolean;
  materials: { code: string; name: string }[];
  tasks: TaskSpec[];
  /** The extension the item's law allows for the whole case, if any. */
  extension?: (Limit & { approver: 'headOfOrgan' | 'headOfGovernment' }) | null;
  /** Codes of the fees a law sets for the item (LLA art. 58–59); most items have none. */
  fees?: string[];
}

/** One department task a case will open, with its own limits and prerequisites. */
export interface TaskSpec {
  code: string;
  department: string;
  itemCode: string;
  role: 'lead' | 'related';
  title: string;
  statutoryLimit: Limit;
  promisedLimit: Limit;
  clockStartsAt: ClockStart;
  dependsOn: string[];
  extension: (Limit & { approver: 'headOfOrgan' | 'headOfGovernment' }) | null;
}

/** Everything the case workflow starts from. */
export interface CaseInput {
  caseNumber: string;
  item: ItemSnapshot;
  applicant: Applicant;
  channels: string[];
  materials: string[];
  receivedAt: string;
  source: 'counter' | 'takeover' | 'exchange';
  /** For a case accepted in a department's own system: when it was accepted there. */
  acceptedElsewhereAt?: string;
  submittedBy: Actor;
  /** Warning policy: working days before the promised due moment for the reminder. */
  reminderDays?: number;
  /** Calendar days the applicant has to pay a payment notice. */
  payByDays?: number;
}

/** Everything a department task workflow starts from. */
export interface TaskInput {
  caseNumber: string;
  task: TaskSpec;
  /** When the task's clock starts (the case's acceptance, or a prerequisite's conclusion). */
  openedAt: string;
  /** Receipt of the application, for tasks whose law counts from receipt. */
  receivedAt: string;
  /** The case has this one task only: its warnings are the case's warnings too. */
  soleTask?: boolean;
  /** Working days before the promised due moment that the reminder goes out (policy; 1). */
  reminderDays?: number;
}

/** What a department task ends with. */
export interface TaskResult {
  taskCode: string;
  department: string;
  outcome: 'approved' | 'denied' | 'cancelled';
  reasons?: string;
  officer?: string;
  at: string;
}

/** A department's conclusion, as sent to a task's update. */
export interface Conclusion {
  department: string;
  officer: string;
  decision: Decision;
  reasons?: string;
}

/** The clerk's intake decisions (acceptUpdate, requestCorrectionUpdate, refuseToAcceptUpdate). */
export interface AcceptRequest {
  actor: Actor;
  /** For immediate items: the decision made on the spot at acceptance. */
  concludeAtIntake?: Decision;
  reasons?: string;
  /** The fee lines to charge, for an item with fees (the clerk picks, e.g. residential). */
  fees?: string[];
}

/** A correction request: every missing material named at once (LLA art. 32 ¶4). */
export interface CorrectionRequest {
  actor: Actor;
  missing: string[];
}

/** A refusal to accept with its reasons and, for another organ's matter, that organ. */
export interface RefusalRequest {
  actor: Actor;
  reasonCode: RefusalReasonCode;
  reasons: string;
  competentOrgan?: string;
}

/** The task as the case workflow sees it, returned by the status query. */
export interface TaskView {
  code: string;
  department: string;
  title: string;
  role: 'lead' | 'related';
  status: TaskStatus;
  dependsOn: string[];
  result?: TaskResult;
  /** Set while the department waits for the applicant's materials (its clock suspended). */
  awaiting?: 'applicant';
  /** Codes of the materials the department asked for and the applicant has not handed in. */
  requestedMaterials?: string[];
}

/** A material a department asks for on its task, by its catalog code and printed name. */
export interface RequestedMaterial {
  code: string;
  name: string;
}

/**
 * A department asks the applicant for more materials on its task (补充材料): the task's clock
 * stops until the applicant hands them in at the lead counter.
 */
export interface MaterialsRequest {
  actor: Actor;
  materials: RequestedMaterial[];
  reason: string;
}

/** The suspension procedure of a task waiting for the applicant's materials. */
export const SUPPLEMENT_PROCEDURE = 'supplementRequested';

/** The live state of a case, answered by caseStatusQuery. */
export interface CaseView {
  caseNumber: string;
  itemCode: string;
  status: CaseStatus;
  outcome?: CaseOutcome;
  acceptedAt?: string;
  statutoryDueAt?: string;
  promisedDueAt?: string;
  dueProvisional?: boolean;
  missing?: string[];
  tasks: TaskView[];
}

/** The state of one department task, answered by taskStatusQuery. */
export interface TaskStateView {
  caseNumber: string;
  taskCode: string;
  department: string;
  status: TaskStatus;
  statutoryDueAt?: string;
  promisedDueAt?: string;
  /** The warning levels fired so far, in order. */
  warnings: WarningLevel[];
  result?: TaskResult;
  /** The materials request the task waits on, with the codes still to come. */
  materialsRequest?: { materials: RequestedMaterial[]; reason: string; outstanding: string[] };
}

/** The due moments of a clock, as the calendar activity answers them. */
export interface ClockDue {
  clockStartedAt: string;
  /** Absent while the clock is suspended with no end yet. */
  statutoryDueAt?: string;
  promisedDueAt?: string;
  /** True while an open suspension stops the clock. */
  suspended?: boolean;
  /** When the reminder before the promised due moment goes out (预警). */
  reminderAt?: string;
  provisional: boolean;
  calendarVersion: string;
}

/** The warning levels of electronic supervision (电子监察), in the order they fire. */
export type WarningLevel = 'reminder' | 'yellow' | 'red';

/** Fields of the case row an event sets. */
export interface CaseChanges {
  status?: CaseStatus;
  outcome?: CaseOutcome;
  acceptedAt?: string;
  clockStartedAt?: string;
  statutoryDueAt?: string;
  promisedDueAt?: string;
  dueProvisional?: boolean;
  concludedAt?: string;
  closedAt?: string;
  reasonCode?: string;
  reasons?: string;
  competentOrgan?: string;
  missingMaterials?: string[];
  materials?: string[];
  counter?: string;
  clerk?: string;
  warningLevel?: string;
}

/** A department task row an event creates or changes. */
export interface TaskChanges {
  taskCode: string;
  department?: string;
  itemCode?: string;
  role?: string;
  title?: string;
  status?: TaskStatus;
  decision?: Decision;
  reasons?: string;
  officer?: string;
  openedAt?: string;
  concludedAt?: string;
  cancelledAt?: string;
  cancelReason?: string;
  statutoryDueAt?: string;
  promisedDueAt?: string;
  dueProvisional?: boolean;
  warningLevel?: string;
  deliveryChannel?: string;
  deliveredAt?: string;
  /** Who the task waits for: the applicant's materials; null when it waits for nobody. */
  awaiting?: 'applicant' | null;
}

/**
 * One event of a case as the register records it. (stream, seq) is its key: the workflow id and
 * that workflow's own event counter, identical on every replay, so a second write is a no-op.
 */
export interface RegisterEvent {
  caseNumber: string;
  stream: string;
  seq: number;
  at: string;
  actor: Actor;
  action: string;
  taskCode?: string;
  details?: Record<string, unknown>;
  newCase?: CaseInput;
  caseChanges?: CaseChanges;
  task?: TaskChanges;
  /** Several task rows at once (the plan of a case's tasks at acceptance). */
  tasks?: TaskChanges[];
}

/** The child workflow id of a department task (DESIGN: `<caseNumber>/<taskCode>`). */
export function taskWorkflowId(caseNumber: string, taskCode: string): string {
  return `${caseNumber}/${taskCode}`;
}

/** The system itself, as the actor of automatic steps. */
export const SYSTEM_ACTOR: Actor = { id: 'onedoor', role: 'system' };

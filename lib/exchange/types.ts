/**
 * The messages of the hall's XML exchange (数据交换) with department systems, as typed values.
 * exchange/onedoor-exchange-1.1.xsd is the contract; these types mirror it field for field.
 */
import type { Decision } from '../case/model';
import type { SuspendingProcedure } from '../../workflows/messages';

/** The namespace of version 1.0 of the format. */
export const EXCHANGE_NAMESPACE = 'urn:onedoor:exchange:1.0';
/** The version attribute of the messages of 1.0 (and of a batch): what a 1.0 system reads. */
export const EXCHANGE_VERSION = '1.0';
/** The latest minor version: 1.1 adds taskCancelled in the same namespace, nothing else. */
export const EXCHANGE_LATEST_VERSION = '1.1';
/** The sender code of the hall itself in the messages it sends. */
export const HALL_SENDER = 'hall';

/** Every kind of message of the format. */
export const MESSAGE_TYPES = [
  'caseAccepted',
  'statusChanged',
  'suspended',
  'resumed',
  'caseConcluded',
  'taskAssigned',
  'taskCancelled',
  'acknowledgement',
] as const;

/** One kind of message. */
export type MessageType = (typeof MESSAGE_TYPES)[number];

/** True when the element name is one of the format's messages. */
export function isMessageType(name: string): name is MessageType {
  return (MESSAGE_TYPES as readonly string[]).includes(name);
}

/** What every message starts with. */
export interface MessageHeader {
  messageId: string;
  /** The sender: a department code, or `hall`. */
  department: string;
  /** The sender's own counter: strictly increasing, gaps allowed. */
  sequence: number;
  caseNumber: string;
  timestamp: string;
}

/** The applicant as a department system reports it (personal data). */
export interface ExchangeApplicant {
  type: 'person' | 'company';
  name: string;
  idNumber?: string;
  creditCode?: string;
  phone?: string;
  email?: string;
}

/** A department accepted a case in its own system (受理). */
export interface CaseAcceptedMessage extends MessageHeader {
  type: 'caseAccepted';
  itemCode: string;
  receivedAt?: string;
  acceptedAt: string;
  counter?: string;
  clerk?: string;
  applicant: ExchangeApplicant;
  materials: string[];
  channels: ('sms' | 'email')[];
}

/** Where a case stands inside the department's system, for the public status lookup. */
export type CaseProgress = 'examining' | 'inspecting' | 'reviewing' | 'awaitingDecision' | 'other';

/** The case, or one task of it, moved on in the department's system. */
export interface StatusChangedMessage extends MessageHeader {
  type: 'statusChanged';
  taskCode?: string;
  status: CaseProgress;
  description?: string;
  at: string;
}

/** The clock stops for a procedure of LLA art. 45 (中止计时). */
export interface SuspendedMessage extends MessageHeader {
  type: 'suspended';
  taskCode?: string;
  procedure: SuspendingProcedure;
  reason: string;
  at: string;
  expectedDays?: number;
}

/** The clock runs again (恢复计时). */
export interface ResumedMessage extends MessageHeader {
  type: 'resumed';
  taskCode?: string;
  at: string;
}

/** The department decided (办结). */
export interface CaseConcludedMessage extends MessageHeader {
  type: 'caseConcluded';
  taskCode?: string;
  decision: Decision;
  reasons?: string;
  officer?: string;
  licenceNumber?: string;
  concludedAt: string;
}

/** The hall gives a department its task of a joint case (抄告相关). */
export interface TaskAssignedMessage extends MessageHeader {
  type: 'taskAssigned';
  recipient: string;
  taskCode: string;
  itemCode: string;
  title: string;
  role: 'lead' | 'related';
  openedAt?: string;
  statutoryDueAt?: string;
  promisedDueAt?: string;
}

/** The hall tells a department its task need not be decided any more (since 1.1). */
export interface TaskCancelledMessage extends MessageHeader {
  type: 'taskCancelled';
  recipient: string;
  taskCode: string;
  /** The messageId of the taskAssigned this ends, when one was sent. */
  assignment?: string;
  reason?: string;
  cancelledAt: string;
}

/** The version attribute a message is written with: the version that defines its kind. */
export function versionOf(type: MessageType): string {
  return type === 'taskCancelled' ? EXCHANGE_LATEST_VERSION : EXCHANGE_VERSION;
}

/** How a message was taken: applied (or applied before), refused for good, or to send again. */
export type AckStatus = 'accepted' | 'refused' | 'retry';

/** The answer to one message, from the hall or from a department. */
export interface AcknowledgementMessage extends MessageHeader {
  type: 'acknowledgement';
  recipient: string;
  acknowledges: string;
  status: AckStatus;
  reason?: string;
  detail?: string;
  hallCaseNumber?: string;
  receiptNumber?: string;
}

/** The messages that move a supervised case on (signalStatus). */
export type StatusMessage =
  StatusChangedMessage | SuspendedMessage | ResumedMessage | CaseConcludedMessage;

/** Any message of the format. */
export type ExchangeMessage =
  | CaseAcceptedMessage
  | StatusMessage
  | TaskAssignedMessage
  | TaskCancelledMessage
  | AcknowledgementMessage;

/** The messages of the hall to a department about its task. */
export type TaskMessageOfHall = TaskAssignedMessage | TaskCancelledMessage;

/** A message as built by its sender, before the header's type-specific fields are checked. */
export type MessageOf<T extends MessageType> = Extract<ExchangeMessage, { type: T }>;

/** HMAC secrets of the exchange, one per department code. */
export type ExchangeSecrets = Record<string, string>;

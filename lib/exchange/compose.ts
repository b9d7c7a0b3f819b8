/**
 * Writes exchange messages as XML, in the schema's field order, and signs them. Used by the hall
 * for what it sends (acknowledgements, taskAssigned, taskCancelled) and by the department
 * simulator for what a department sends. Every message element declares the namespace itself,
 * so its signed bytes are the same alone or inside a batch.
 */
import { signElement } from './sign';
import {
  EXCHANGE_NAMESPACE,
  EXCHANGE_VERSION,
  versionOf,
  type ExchangeMessage,
  type MessageType,
} from './types';

/** The header fields, first in every message. */
export const HEADER_FIELDS = [
  'messageId',
  'department',
  'sequence',
  'caseNumber',
  'timestamp',
] as const;

/** The fields of each message after the header, in the schema's order. */
export const BODY_FIELDS: { [T in MessageType]: readonly string[] } = {
  caseAccepted: [
    'itemCode',
    'receivedAt',
    'acceptedAt',
    'counter',
    'clerk',
    'applicant',
    'materials',
    'channels',
  ],
  statusChanged: ['taskCode', 'status', 'description', 'at'],
  suspended: ['taskCode', 'procedure', 'reason', 'at', 'expectedDays'],
  resumed: ['taskCode', 'at'],
  caseConcluded: ['taskCode', 'decision', 'reasons', 'officer', 'licenceNumber', 'concludedAt'],
  taskAssigned: [
    'recipient',
    'taskCode',
    'itemCode',
    'title',
    'role',
    'openedAt',
    'statutoryDueAt',
    'promisedDueAt',
  ],
  taskCancelled: ['recipient', 'taskCode', 'assignment', 'reason', 'cancelledAt'],
  acknowledgement: [
    'recipient',
    'acknowledges',
    'status',
    'reason',
    'detail',
    'hallCaseNumber',
    'receiptNumber',
  ],
};

/** The applicant's fields, in the schema's order. */
export const APPLICANT_FIELDS = ['type', 'name', 'idNumber', 'creditCode', 'phone', 'email'];

/** The list fields and the name of their items. */
export const LIST_ITEMS: Record<string, string> = { materials: 'material', channels: 'channel' };

// Characters XML 1.0 cannot carry at all; replaced so that the hall never writes an invalid
// document whatever a free-text field holds.
const NOT_XML = /[^\x09\x0a\x20-\ud7ff\ue000-\ufffd\u{10000}-\u{10ffff}]/gu;

/** Escapes text content: markup characters, and CR so that it survives line-end normalisation. */
export function escapeText(value: string): string {
  return value
    .replace(NOT_XML, '\ufffd')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/\r/g, '&#13;');
}

function leaf(name: string, value: unknown, indent: string): string {
  return `${indent}<${name}>${escapeText(String(value))}</${name}>\n`;
}

function field(name: string, value: unknown, indent: string): string {
  if (value === undefined || value === null) return '';
  if (name === 'applicant') {
    const applicant = value as Record<string, unknown>;
    const inner = APPLICANT_FIELDS.map((f) => field(f, applicant[f], `${indent}  `)).join('');
    return `${indent}<applicant>\n${inner}${indent}</applicant>\n`;
  }
  const item = LIST_ITEMS[name];
  if (item) {
    const values = value as unknown[];
    if (values.length === 0) return '';
    const inner = values.map((v) => leaf(item, v, `${indent}  `)).join('');
    return `${indent}<${name}>\n${inner}${indent}</${name}>\n`;
  }
  return leaf(name, value, indent);
}

/** Writes one message element with an empty signature, ready for signElement. */
export function unsignedElement(message: ExchangeMessage, keyId?: string): string {
  const record = message as unknown as Record<string, unknown>;
  const fields = [...HEADER_FIELDS, ...BODY_FIELDS[message.type]];
  const body = fields.map((f) => field(f, record[f], '  ')).join('');
  const key = keyId ? ` keyId="${keyId}"` : '';
  return (
    `<${message.type} xmlns="${EXCHANGE_NAMESPACE}" version="${versionOf(message.type)}">\n` +
    body +
    `  <signature algorithm="HMAC-SHA256"${key}></signature>\n` +
    `</${message.type}>`
  );
}

/** Writes and signs one message element with the secret shared with its department. */
export function composeMessage(message: ExchangeMessage, secret: string, keyId?: string): string {
  return signElement(unsignedElement(message, keyId), secret);
}

/** A whole document of one element. */
export function xmlDocument(element: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n${element}\n`;
}

/** A batch document of signed message elements, each one kept byte for byte. */
export function composeBatch(
  envelope: { batchId: string; department: string; timestamp: string },
  elements: string[],
): string {
  return xmlDocument(
    `<batch xmlns="${EXCHANGE_NAMESPACE}" version="${EXCHANGE_VERSION}">\n` +
      leaf('batchId', envelope.batchId, '  ') +
      leaf('department', envelope.department, '  ') +
      leaf('timestamp', envelope.timestamp, '  ') +
      elements.map((e) => `${e}\n`).join('') +
      `</batch>`,
  );
}

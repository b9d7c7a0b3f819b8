/**
 * Safe reading of an exchange body, in an order where each step only sees what the previous
 * ones let through: the size cap; strict UTF-8; refusal of every DTD, entity declaration and
 * xsi: schema hint (so no XXE and no entity expansion can happen in any later step, whatever its
 * options); a bounded structure scan (depth, batch size, element spans for the signature);
 * validation against the XSD by xmllint; and only then fast-xml-parser, on each message element
 * alone. Nothing is written by this module: it answers typed messages or an ExchangeRefusal.
 */
import { createHash } from 'node:crypto';
import { XMLParser } from 'fast-xml-parser';
import { APPLICANT_FIELDS, BODY_FIELDS, HEADER_FIELDS, LIST_ITEMS } from './compose';
import { ExchangeRefusal } from './reasons';
import { ScanError, scanElements, type ElementSpan } from './scan';
import { canonicalForm, signatureSpanOf } from './sign';
import { isMessageType, type ExchangeMessage, type MessageType } from './types';
import { validateAgainstSchema } from './xsd';

/** The caps on what one body may hold. */
export interface ExchangeLimits {
  /** Largest body, in bytes. */
  maxBodyBytes: number;
  /** Deepest element nesting (the format itself needs 4). */
  maxDepth: number;
  /** Most messages in one batch. */
  maxBatch: number;
  /** How long xmllint may take over one body. */
  validationTimeoutMs: number;
}

/** The limits the hall runs with unless configured otherwise. */
export const DEFAULT_LIMITS: ExchangeLimits = {
  maxBodyBytes: 1024 * 1024,
  maxDepth: 16,
  maxBatch: 500,
  validationTimeoutMs: 5000,
};

/** One message of a body, with what its signature is checked over. */
export interface ReceivedMessage {
  message: ExchangeMessage;
  /** The message element exactly as received. */
  element: string;
  /** The signed text: the element with its signature's content removed. */
  canonical: string;
  /** The signature value as sent. */
  signature: string;
  keyId?: string;
  /** sha256 of the message's fields (canonical JSON): what "the same content" means. */
  contentSha256: string;
}

/** A body read and validated: one message, or a batch of them. */
export interface ParsedBody {
  kind: 'single' | 'batch';
  batch?: { batchId: string; department: string; timestamp: string };
  messages: ReceivedMessage[];
}

// Matched on the whole body, comments and CDATA included: a declaration has no business in any
// exchange message, and refusing it wherever it stands leaves no parser a way to honour one.
const DECLARATION = /<!\s*(DOCTYPE|ENTITY|ELEMENT|ATTLIST|NOTATION)/i;
const SCHEMA_HINT = /XMLSchema-instance/;
const ENCODING = /^\s*<\?xml[^>]*\bencoding\s*=\s*["']([^"']+)["']/;
const decoder = new TextDecoder('utf-8', { fatal: true });

const xml = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@',
  removeNSPrefix: true,
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
  processEntities: true,
  htmlEntities: false,
  ignoreDeclaration: true,
  ignorePiTags: true,
  isArray: (name) => name === 'material' || name === 'channel',
});

/** Reads a body into messages, or throws an ExchangeRefusal saying why not. */
export async function parseExchangeBody(
  body: Buffer,
  limits: ExchangeLimits = DEFAULT_LIMITS,
): Promise<ParsedBody> {
  const text = checkedText(body, limits);
  const root = scanned(text, limits);
  const isBatch = root.localName === 'batch';
  if (!isBatch && !isMessageType(root.localName)) {
    throw new ExchangeRefusal('schema_invalid', `<${root.name}> is not an exchange message`);
  }
  const spans = isBatch ? root.children.filter((c) => isMessageType(c.localName)) : [root];
  if (isBatch && spans.length > limits.maxBatch) {
    throw new ExchangeRefusal(
      'batch_too_large',
      `the batch holds ${spans.length} messages; at most ${limits.maxBatch} are taken at once`,
    );
  }

  const verdict = await validateAgainstSchema(body, { timeoutMs: limits.validationTimeoutMs });
  if (!verdict.valid) {
    throw new ExchangeRefusal('schema_invalid', verdict.errors.slice(0, 5).join('\n') || 'invalid');
  }

  const messages = spans.map((span) => readMessage(text, span));
  if (!isBatch) return { kind: 'single', messages };
  const [batchId, department, timestamp] = root.children
    .slice(0, 3)
    .map((c) => leafValue(text.slice(c.start, c.end), c.localName));
  return { kind: 'batch', batch: { batchId, department, timestamp }, messages };
}

/** The text of one leaf element, entities and character references decoded. */
function leafValue(element: string, name: string): string {
  return String((xml.parse(element) as Record<string, unknown>)[name]);
}

function checkedText(body: Buffer, limits: ExchangeLimits): string {
  if (body.length > limits.maxBodyBytes) {
    throw new ExchangeRefusal(
      'too_large',
      `the body has ${body.length} bytes; at most ${limits.maxBodyBytes} are taken`,
    );
  }
  let text: string;
  try {
    text = decoder.decode(body);
  } catch {
    throw new ExchangeRefusal('encoding', 'the body is not valid UTF-8');
  }
  // NUL is valid UTF-8 but never XML: UTF-16 sent as if it were UTF-8 shows up this way.
  if (text.includes('\u0000'))
    throw new ExchangeRefusal('encoding', 'the body holds NUL characters');
  const declared = ENCODING.exec(text)?.[1];
  if (declared && !/^utf-?8$/i.test(declared)) {
    throw new ExchangeRefusal('encoding', `encoding "${declared}" is not taken: send UTF-8`);
  }
  const declaration = DECLARATION.exec(text);
  if (declaration) {
    throw new ExchangeRefusal(
      'dtd_forbidden',
      `a <!${declaration[1].toUpperCase()} declaration was found: DTDs and entities are refused`,
    );
  }
  if (SCHEMA_HINT.test(text)) {
    throw new ExchangeRefusal(
      'schema_hint_forbidden',
      'the XMLSchema-instance namespace is refused',
    );
  }
  return text;
}

function scanned(text: string, limits: ExchangeLimits): ElementSpan {
  try {
    return scanElements(text, { maxDepth: limits.maxDepth, keepDepth: 3 });
  } catch (err) {
    if (err instanceof ScanError) throw new ExchangeRefusal(err.reason, err.message);
    throw err;
  }
}

function readMessage(text: string, span: ElementSpan): ReceivedMessage {
  const element = text.slice(span.start, span.end);
  const signature = signatureSpanOf(span);
  if (!signature) throw new ExchangeRefusal('schema_invalid', 'the message has no signature');
  const type = span.localName as MessageType;
  const parsed = (xml.parse(element) as Record<string, Record<string, unknown>>)[type];
  const signatureNode = parsed.signature as Record<string, string>;
  const message = toMessage(type, parsed);
  return {
    message,
    element,
    canonical: canonicalForm(element, signature),
    signature: element.slice(signature.contentStart, signature.contentEnd),
    keyId: signatureNode['@keyId'],
    contentSha256: contentHash(message),
  };
}

const NUMERIC = new Set(['sequence', 'expectedDays']);

function toMessage(type: MessageType, node: Record<string, unknown>): ExchangeMessage {
  const out: Record<string, unknown> = { type };
  for (const name of [...HEADER_FIELDS, ...BODY_FIELDS[type]]) {
    const value = node[name];
    if (value === undefined || value === '') continue;
    if (name === 'applicant') {
      const applicant = value as Record<string, string>;
      out.applicant = Object.fromEntries(
        APPLICANT_FIELDS.filter((f) => applicant[f] !== undefined).map((f) => [f, applicant[f]]),
      );
    } else if (LIST_ITEMS[name]) {
      out[name] = ((value as Record<string, string[]>)[LIST_ITEMS[name]] ?? []).map(String);
    } else {
      out[name] = NUMERIC.has(name) ? Number(value) : String(value);
    }
  }
  if (type === 'caseAccepted') {
    out.materials ??= [];
    out.channels ??= [];
  }
  return out as unknown as ExchangeMessage;
}

/** JSON with sorted keys and no undefined: equal for equal content, whatever the XML layout. */
export function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** The content fingerprint of a message. */
export function contentHash(message: ExchangeMessage): string {
  return createHash('sha256').update(stableJson(message)).digest('hex');
}

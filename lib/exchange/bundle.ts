/**
 * Spool bundles (exchange/onedoor-bundle-1.0.xsd): the one file that crosses between the
 * isolated networks. Writing one is pure (no I/O); reading one runs the same guarded order as an
 * exchange body: size cap, strict UTF-8, refusal of every declaration, a bounded scan, xmllint
 * against the bundle schema, and only then the route key's signature and the content's hash.
 * What a bundle carries is answered typed, or a BundleRefusal says why not.
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import { XMLParser } from 'fast-xml-parser';
import { escapeText, xmlDocument } from './compose';
import { ScanError, scanElements, type ElementSpan } from './scan';
import { canonicalForm, isValidSignature, signatureSpanOf, signElement } from './sign';
import { isMessageType } from './types';
import { validateAgainstSchema } from './xsd';

/** The namespace of version 1.0 of the bundle. */
export const BUNDLE_NAMESPACE = 'urn:onedoor:bundle:1.0';
/** The schema of a bundle file (it imports the exchange schema for the batches it carries). */
export const BUNDLE_XSD_PATH = path.join(
  __dirname,
  '..',
  '..',
  'exchange',
  'onedoor-bundle-1.0.xsd',
);

/** What a bundle carries. */
export type BundleKind = 'messages' | 'publicStatus' | 'acknowledgement';

/** The signed header of a bundle. */
export interface BundleHeader {
  /** The side that wrote the bundle (`hall`, `outer`...). */
  sender: string;
  receiver: string;
  /** The bundle's number on its route (sender → receiver): 1, 2, 3... */
  number: number;
  createdAt: string;
  kind: BundleKind;
  /** Messages, case statuses or bundle acknowledgements in the content. */
  count: number;
  contentSha256: string;
}

/** What the public case lookup may show of a case (api/portal/router.ts), nothing personal. */
export interface PublicCaseStatus {
  caseNumber: string;
  item: string;
  status: string;
  outcome: string | null;
  receivedAt: string;
  acceptedAt: string | null;
  promisedDueAt: string | null;
  dueProvisional: boolean;
  concludedAt: string | null;
  departments: { task: string; department: string; status: string }[];
  /** sha256 hex of `caseNumber:CODE` for each document's verification code. */
  codeDigests: string[];
}

/** How a bundle was taken by its receiver. */
export type BundleOutcome = 'imported' | 'duplicate' | 'refused';

/** The answer to one bundle, carried back on the reverse route. */
export interface BundleAck {
  acknowledges: number;
  contentSha256: string;
  outcome: BundleOutcome;
  reason?: string;
  detail?: string;
}

/** The content of a bundle read and checked. */
export type BundleContent =
  | { kind: 'messages'; batchDocument: Buffer }
  | { kind: 'publicStatus'; statuses: PublicCaseStatus[] }
  | { kind: 'acknowledgement'; acks: BundleAck[]; batchDocument?: Buffer };

/** A bundle read, verified and checked against its own header. */
export interface ReadBundle {
  header: BundleHeader;
  content: BundleContent;
}

/** Every reason a bundle file is refused, and whether it is flagged for supervisors. */
export const bundleRefusalReasons = {
  too_large: { flagged: false, means: 'the file is over the size limit' },
  encoding: { flagged: false, means: 'the file is not UTF-8' },
  dtd_forbidden: { flagged: true, means: 'DOCTYPE and entity declarations are refused' },
  schema_hint_forbidden: { flagged: true, means: 'xsi: schema hints are refused' },
  malformed: { flagged: false, means: 'not well-formed XML (a truncated file reads so)' },
  too_deep: { flagged: true, means: 'elements nest deeper than the depth limit' },
  schema_invalid: { flagged: false, means: 'the file does not validate against the schema' },
  unknown_route: { flagged: true, means: 'no key is configured for the route, or not for us' },
  bad_signature: { flagged: true, means: "the header's signature does not match the route key" },
  hash_mismatch: { flagged: true, means: 'the content does not match the signed sha256' },
  count_mismatch: { flagged: true, means: 'the content does not hold the count of the header' },
  number_reused: {
    flagged: true,
    means: 'the bundle number was taken before with other content',
  },
} as const satisfies Record<string, { flagged: boolean; means: string }>;

/** A reason a bundle file is refused. */
export type BundleRefusalReason = keyof typeof bundleRefusalReasons;

/** A bundle refused, with its reason; `header` is set when the signature held. */
export class BundleRefusal extends Error {
  override readonly name = 'BundleRefusal';
  constructor(
    readonly reason: BundleRefusalReason,
    readonly detail: string,
    readonly header?: BundleHeader,
  ) {
    super(`${reason}: ${detail}`);
  }
}

/** The id of a route, as the route keys are configured: `hall->outer`. */
export function routeId(sender: string, receiver: string): string {
  return `${sender}->${receiver}`;
}

/** The file name of a bundle: sorted by name, a route's bundles come in number order. */
export function bundleFileName(h: Pick<BundleHeader, 'sender' | 'receiver' | 'number'>): string {
  return `${h.sender}.${h.receiver}.${String(h.number).padStart(12, '0')}.bundle.xml`;
}

/** True for a finished bundle's file name; temporary names of a copy start with a dot. */
export function isBundleFileName(name: string): boolean {
  return /^[a-z][a-z0-9-]{1,31}\.[a-z][a-z0-9-]{1,31}\.\d{12,16}\.bundle\.xml$/.test(name);
}

const sha256 = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');

/** The digest the outer portal checks a verification code against. */
export function codeDigest(caseNumber: string, code: string): string {
  return sha256(`${caseNumber}:${code.toUpperCase()}`);
}

const leaf = (name: string, value: unknown, indent: string): string =>
  value === undefined || value === null
    ? ''
    : `${indent}<${name}>${escapeText(String(value))}</${name}>\n`;

/** The content of a publicStatus bundle. */
export function composeStatuses(statuses: PublicCaseStatus[]): string {
  return statuses
    .map((s) => {
      const i = '      ';
      const tasks = s.departments
        .map(
          (d) =>
            `${i}<task>\n` +
            leaf('title', d.task, `${i}  `) +
            leaf('department', d.department, `${i}  `) +
            leaf('status', d.status, `${i}  `) +
            `${i}</task>\n`,
        )
        .join('');
      return (
        `    <caseStatus>\n` +
        leaf('caseNumber', s.caseNumber, i) +
        leaf('item', s.item, i) +
        leaf('status', s.status, i) +
        leaf('outcome', s.outcome, i) +
        leaf('receivedAt', s.receivedAt, i) +
        leaf('acceptedAt', s.acceptedAt, i) +
        leaf('promisedDueAt', s.promisedDueAt, i) +
        leaf('dueProvisional', s.dueProvisional, i) +
        leaf('concludedAt', s.concludedAt, i) +
        tasks +
        s.codeDigests.map((d) => leaf('codeDigest', d, i)).join('') +
        `    </caseStatus>\n`
      );
    })
    .join('');
}

/** The content of an acknowledgement bundle: the answers, then the messages' own acks if any. */
export function composeAcks(acks: BundleAck[], batchElement?: string): string {
  const i = '      ';
  const answers = acks
    .map(
      (a) =>
        `    <bundleAck>\n` +
        leaf('acknowledges', a.acknowledges, i) +
        leaf('contentSha256', a.contentSha256, i) +
        leaf('outcome', a.outcome, i) +
        leaf('reason', a.reason, i) +
        leaf('detail', a.detail?.slice(0, 4000), i) +
        `    </bundleAck>\n`,
    )
    .join('');
  return answers + (batchElement ? `${batchElement}\n` : '');
}

/** The batch element of an exchange document, without its XML declaration. */
export function batchElementOf(document: string): string {
  return document.replace(/^\s*<\?xml[^>]*\?>\s*/, '').trimEnd();
}

/**
 * Writes a bundle: the content as given (one batch element, caseStatus elements, or bundleAck
 * elements and a batch), its hash in the header, the header signed with the route's key.
 */
export function composeBundle(
  header: Omit<BundleHeader, 'contentSha256'>,
  content: string,
  key: string,
): { document: string; header: BundleHeader } {
  const body = `\n${content.replace(/\n*$/, '\n')}  `;
  const contentSha256 = sha256(body);
  const i = '    ';
  const unsigned =
    `<header>\n` +
    leaf('sender', header.sender, i) +
    leaf('receiver', header.receiver, i) +
    leaf('number', header.number, i) +
    leaf('createdAt', header.createdAt, i) +
    leaf('kind', header.kind, i) +
    leaf('count', header.count, i) +
    leaf('contentSha256', contentSha256, i) +
    `${i}<signature algorithm="HMAC-SHA256"></signature>\n` +
    `  </header>`;
  const document = xmlDocument(
    `<bundle xmlns="${BUNDLE_NAMESPACE}" version="1.0">\n` +
      `  ${signElement(unsigned, key)}\n` +
      `  <content>${body}</content>\n` +
      `</bundle>`,
  );
  return { document, header: { ...header, contentSha256 } };
}

/** What reading a bundle needs. */
export interface ReadBundleOptions {
  /** This side: a bundle for another receiver is refused. */
  receiver: string;
  /** The key of a route id (`routeId`), or undefined when the route is not configured. */
  keyOf: (route: string) => string | undefined;
  /** Largest file taken, in bytes. */
  maxBytes: number;
  validationTimeoutMs?: number;
}

const DECLARATION = /<!\s*(DOCTYPE|ENTITY|ELEMENT|ATTLIST|NOTATION)/i;
const decoder = new TextDecoder('utf-8', { fatal: true });

const xml = new XMLParser({
  ignoreAttributes: true,
  removeNSPrefix: true,
  parseTagValue: false,
  trimValues: true,
  processEntities: true,
  htmlEntities: false,
  ignoreDeclaration: true,
  ignorePiTags: true,
  isArray: (name) => ['caseStatus', 'bundleAck', 'task', 'codeDigest'].includes(name),
});

/** Reads and checks one bundle file; throws a BundleRefusal saying why it is not taken. */
export async function readBundle(bytes: Buffer, opts: ReadBundleOptions): Promise<ReadBundle> {
  const text = checkedText(bytes, opts.maxBytes);
  const root = scanned(text);
  if (root.localName !== 'bundle') {
    throw new BundleRefusal('schema_invalid', `<${root.name}> is not a bundle`);
  }
  const verdict = await validateAgainstSchema(bytes, {
    xsdPath: BUNDLE_XSD_PATH,
    timeoutMs: opts.validationTimeoutMs ?? 5000,
  });
  if (!verdict.valid) {
    throw new BundleRefusal('schema_invalid', verdict.errors.slice(0, 5).join('\n') || 'invalid');
  }

  // The schema fixes the order: header, then content.
  const [headerSpan, contentSpan] = root.children;
  const headerText = text.slice(headerSpan.start, headerSpan.end);
  const fields = (xml.parse(headerText) as { header: Record<string, string> }).header;
  const header: BundleHeader = {
    sender: fields.sender,
    receiver: fields.receiver,
    number: Number(fields.number),
    createdAt: fields.createdAt,
    kind: fields.kind as BundleKind,
    count: Number(fields.count),
    contentSha256: fields.contentSha256,
  };
  const route = routeId(header.sender, header.receiver);
  const key = header.receiver === opts.receiver ? opts.keyOf(route) : undefined;
  if (!key)
    throw new BundleRefusal('unknown_route', `no key for route ${route} at ${opts.receiver}`);
  const signature = signatureSpanOf(headerSpan)!;
  const given = headerText.slice(signature.contentStart, signature.contentEnd);
  if (!isValidSignature(key, canonicalForm(headerText, signature), given)) {
    throw new BundleRefusal('bad_signature', `the header does not match the key of ${route}`);
  }

  const body = text.slice(contentSpan.contentStart, contentSpan.contentEnd);
  const actual = sha256(body);
  if (actual !== header.contentSha256) {
    throw new BundleRefusal(
      'hash_mismatch',
      `bundle ${header.number} of ${route}: content sha256 ${actual}, header says ` +
        header.contentSha256,
      header,
    );
  }
  const content = contentOf(text, contentSpan, header);
  const count = countOf(content, contentSpan);
  if (count !== header.count) {
    throw new BundleRefusal(
      'count_mismatch',
      `the header counts ${header.count}, the content holds ${count}`,
      header,
    );
  }
  return { header, content };
}

function checkedText(bytes: Buffer, maxBytes: number): string {
  if (bytes.length > maxBytes) {
    throw new BundleRefusal('too_large', `the file has ${bytes.length} bytes, at most ${maxBytes}`);
  }
  let text: string;
  try {
    text = decoder.decode(bytes);
  } catch {
    throw new BundleRefusal('encoding', 'the file is not valid UTF-8');
  }
  if (text.includes('\u0000')) throw new BundleRefusal('encoding', 'the file holds NUL');
  const declaration = DECLARATION.exec(text);
  if (declaration) {
    throw new BundleRefusal('dtd_forbidden', `a <!${declaration[1].toUpperCase()} was found`);
  }
  if (/XMLSchema-instance/.test(text)) {
    throw new BundleRefusal('schema_hint_forbidden', 'the XMLSchema-instance namespace is refused');
  }
  return text;
}

function scanned(text: string): ElementSpan {
  try {
    // bundle > content > batch > message > applicant > field, and a little room.
    return scanElements(text, { maxDepth: 16, keepDepth: 4 });
  } catch (err) {
    if (err instanceof ScanError) throw new BundleRefusal(err.reason, err.message);
    throw err;
  }
}

function batchOf(text: string, contentSpan: ElementSpan): Buffer | undefined {
  const batch = contentSpan.children.find((c) => c.localName === 'batch');
  return batch ? Buffer.from(xmlDocument(text.slice(batch.start, batch.end)), 'utf8') : undefined;
}

function contentOf(text: string, contentSpan: ElementSpan, header: BundleHeader): BundleContent {
  const first = contentSpan.children[0].localName;
  const expected = { messages: 'batch', publicStatus: 'caseStatus', acknowledgement: 'bundleAck' };
  if (expected[header.kind] !== first) {
    throw new BundleRefusal('schema_invalid', `a ${header.kind} bundle starts with <${first}>`);
  }
  if (header.kind === 'messages') {
    return { kind: 'messages', batchDocument: batchOf(text, contentSpan)! };
  }
  // Only our own elements are parsed here; an exchange batch goes on as its exact bytes.
  const own = contentSpan.children
    .filter((c) => c.localName !== 'batch')
    .map((c) => text.slice(c.start, c.end))
    .join('\n');
  const parsed = xml.parse(`<content>${own}</content>`) as {
    content: { caseStatus?: Record<string, unknown>[]; bundleAck?: Record<string, string>[] };
  };
  if (header.kind === 'publicStatus') {
    return { kind: 'publicStatus', statuses: (parsed.content.caseStatus ?? []).map(toStatus) };
  }
  const acks = (parsed.content.bundleAck ?? []).map((a) => ({
    acknowledges: Number(a.acknowledges),
    contentSha256: a.contentSha256,
    outcome: a.outcome as BundleOutcome,
    ...(a.reason ? { reason: a.reason } : {}),
    ...(a.detail ? { detail: a.detail } : {}),
  }));
  return { kind: 'acknowledgement', acks, batchDocument: batchOf(text, contentSpan) };
}

function toStatus(node: Record<string, unknown>): PublicCaseStatus {
  const text = (name: string): string | null =>
    node[name] === undefined ? null : String(node[name]);
  const tasks = (node.task ?? []) as Record<string, string>[];
  return {
    caseNumber: String(node.caseNumber),
    item: String(node.item),
    status: String(node.status),
    outcome: text('outcome'),
    receivedAt: String(node.receivedAt),
    acceptedAt: text('acceptedAt'),
    promisedDueAt: text('promisedDueAt'),
    dueProvisional: node.dueProvisional === 'true' || node.dueProvisional === '1',
    concludedAt: text('concludedAt'),
    departments: tasks.map((t) => ({ task: t.title, department: t.department, status: t.status })),
    codeDigests: ((node.codeDigest ?? []) as unknown[]).map(String),
  };
}

function countOf(content: BundleContent, contentSpan: ElementSpan): number {
  if (content.kind === 'publicStatus') return content.statuses.length;
  if (content.kind === 'acknowledgement') return content.acks.length;
  const batch = contentSpan.children[0];
  return batch.children.filter((c) => isMessageType(c.localName)).length;
}

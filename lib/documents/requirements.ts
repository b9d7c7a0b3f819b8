// The data each formal document needs, and the check that refuses to issue one with a legally
// required field missing. Dates arrive already formatted (e.g. '2026年10月30日'): the documents
// layer prints, it does not compute deadlines.
import { isValidNoticeNumber } from '../bank/client';

/** Fields every document carries: identity, verification and the issuing organ. */
export interface DocumentBase {
  /** The document's own number, e.g. '深政务受〔2026〕第000123号'. */
  documentNumber: string;
  /** The case this document belongs to. */
  caseNumber: string;
  /** Short code printed under the QR code, entered on the verification page. */
  verificationCode: string;
  /** The verification address in the QR code, e.g. 'http://127.0.0.1:3000/verify/<no>?code=<c>'. */
  verifyUrl: string;
  /** The organ in whose name the document is issued (落款). */
  issuingOrgan: string;
  /** Date of issue as printed under the signature. */
  issuedDate: string;
  /** The seal the paper copy carries, e.g. '深圳市行政服务大厅受理专用章'. */
  sealName: string;
  /** Supervision and complaint telephone printed in the footer, e.g. '12345'. */
  complaintPhone: string;
  /** The applicant as named on the application. */
  applicant: Applicant;
  /** Name of the approval item applied for. */
  itemName: string;
}

/** The applicant as printed; the caller masks identity numbers before they get here. */
export interface Applicant {
  /** Person's or organisation's name, printed literally (never interpreted as markup). */
  name: string;
  /** Identity document or unified social credit code, already masked if need be. */
  idNumber?: string;
}

/** One legal fee on a receipt. */
export interface Fee {
  /** What the fee is for. */
  name: string;
  /** Amount as printed, e.g. '50.00元'. */
  amount: string;
  /** Legal basis of the fee, when known. */
  basis?: string;
}

/** 受理通知书: the application is accepted and the clock runs. */
export interface ReceiptData extends DocumentBase {
  /** When the hall received the application (收到申请). */
  receivedAt: string;
  /** When it was accepted (受理). */
  acceptedAt: string;
  /** Which of the two moments the statutory limit counts from; omitted when not stated. */
  limitCountsFrom?: 'received' | 'accepted';
  /** Statutory limit as printed, e.g. '20个工作日'. */
  statutoryLimit: string;
  /** The hall's promised limit, e.g. '10个工作日'. */
  promisedLimit: string;
  /** Date by which the hall promises a result. */
  promisedDate: string;
  /** True while the promised date rests on holidays not yet published; prints （暂定）. */
  promisedDateProvisional?: boolean;
  /** Legal fees; an empty list prints 无. */
  fees: Fee[];
  /** Extra ways to follow progress, e.g. 'i深圳 App 办事进度查询'; the QR code is always given. */
  progressChannels?: string[];
  /** Counter that took the application, e.g. '综合受理区 A12号窗口'. */
  counter: string;
  /** Clerk who took it (name or staff number). */
  clerk: string;
}

/** One material the applicant still has to hand in. */
export interface MissingMaterial {
  /** Name of the material. */
  name: string;
  /** What exactly is missing or wrong, e.g. '原件及复印件各1份，复印件加盖公章'. */
  requirement?: string;
}

/** 补正材料通知书: everything missing, told once (行政许可法第三十二条). */
export interface CorrectionNoticeData extends DocumentBase {
  /** When the hall received the application. */
  receivedAt: string;
  /** Every missing material, all at once. */
  missingMaterials: MissingMaterial[];
  /** Date by which to hand them in. */
  correctionDeadline: string;
  /** Counter that handles the correction. */
  counter: string;
  /** Clerk who issued the notice. */
  clerk: string;
}

/** The remedies every adverse decision must name (行政许可法第三十八条). */
export interface Remedies {
  /** Organ that hears an administrative review, e.g. '深圳市人民政府'. */
  reviewOrgan: string;
  /** Court that hears an administrative suit, e.g. '深圳市福田区人民法院'. */
  court: string;
}

/** 不予受理通知书: the application is not accepted. */
export interface RefusalNoticeData extends DocumentBase, Remedies {
  /** When the hall received the application. */
  receivedAt: string;
  /** Every reason for not accepting it. */
  reasons: string[];
  /** Legal provision relied on, e.g. '《中华人民共和国行政许可法》第三十二条第一款第（二）项'. */
  legalBasis?: string;
  /** The organ competent for the matter when it is not this one's (第三十二条第一款第（二）项). */
  competentOrgan?: string;
}

/** 不予许可决定书: the licence is denied after examination. */
export interface DenialDecisionData extends DocumentBase, Remedies {
  /** When the application was accepted. */
  acceptedAt: string;
  /** Every reason for the denial. */
  reasons: string[];
  /** Legal provision relied on. */
  legalBasis?: string;
}

/** 准予许可决定书 with the notice to collect the licence. */
export interface ApprovalNoticeData extends DocumentBase {
  /** When the application was accepted. */
  acceptedAt: string;
  /** What is granted, e.g. '准予核发《食品经营许可证》'. */
  grant: string;
  /** Licence number, when already assigned. */
  licenceNumber?: string;
  /** Validity of the licence, e.g. '自2026年10月30日至2031年10月29日'. */
  validity?: string;
  /** Where to collect the licence. */
  collectionPlace: string;
  /** Opening hours of the collection place. */
  collectionHours?: string;
  /** What to bring, e.g. '本通知书及申请人身份证件原件'. */
  collectionRequirements?: string;
}

/** 延期告知书: the limit is extended once, with the head's approval (行政许可法第四十二条). */
export interface ExtensionNoticeData extends DocumentBase {
  /** When the application was accepted. */
  acceptedAt: string;
  /** The limit before the extension, e.g. '20个工作日'; printed when known. */
  statutoryLimit?: string;
  /** What the extension adds, e.g. '10个工作日'. */
  extension: string;
  /** Every reason for the extension: art. 42 requires the applicant be told them. */
  reasons: string[];
  /** Who approved it, e.g. '本机关负责人' (art. 42 ¶1) or '本级人民政府负责人' (¶2). */
  approver: string;
  /** The new statutory date by which the decision is made. */
  statutoryDueDate: string;
  /** The hall's new promised date, when it keeps one. */
  promisedDueDate?: string;
  /** True while the new dates rest on holidays not yet published; prints （暂定）. */
  dueDateProvisional?: boolean;
}

/** 特别程序告知书: a procedure whose time is not counted (行政许可法第四十五条). */
export interface SuspensionNoticeData extends DocumentBase {
  /** When the application was accepted. */
  acceptedAt: string;
  /** The procedure in Chinese: 听证, 招标, 拍卖, 检验, 检测, 检疫, 鉴定 or 专家评审. */
  procedure: string;
  /** Every reason the procedure is needed. */
  reasons: string[];
  /** The time the procedure is expected to take, e.g. '30日': art. 45 requires it in writing. */
  expectedDuration: string;
}

/** 督办通知单: the hall's supervisor urges a department on a case; addressed to the department. */
export interface UrgingNoticeData extends DocumentBase {
  /** The department urged, by name; the notice is addressed to it, not to the applicant. */
  department: string;
  /** The task urged, e.g. '食品经营许可审查', or the item when the whole case is urged. */
  taskName: string;
  /** The supervisor's message, as written. */
  message: string;
  /** When the department must reply by. */
  replyBy: string;
  /** The supervisor who urged, by name or staff number. */
  urgedBy: string;
  /** When the case was accepted, when it was. */
  acceptedAt?: string;
  /** The task's promised (or else statutory) date, for the department's attention. */
  dueDate?: string;
}

/** One fee line of a payment notice, as the item's catalog entry sets it. */
export interface PaymentNoticeLine {
  /** What the fee is for, e.g. '普通护照工本费'. */
  name: string;
  /** The law or regulation that sets it (LLA art. 58: no fee without one). */
  basis: string;
  /** How many, with the unit the rate is per, e.g. '1本'. */
  quantity: string;
  /** The line's amount as printed, e.g. '120.00元'. */
  amount: string;
}

/** 缴款通知书: what the applicant owes, under which law, to whom and by when (LLA art. 58–59). */
export interface PaymentNoticeData extends DocumentBase {
  /** The notice number the payer keys in at the bank; its last two digits are MOD 97-10. */
  noticeNumber: string;
  /** Who pays: the applicant, by the name on the application. */
  payer: string;
  /** Every fee line. */
  lines: PaymentNoticeLine[];
  /** The total in figures, e.g. '120.00元'. */
  totalAmount: string;
  /** The total in capital numerals, e.g. '壹佰贰拾元整'. */
  totalInWords: string;
  /** The last day to pay, e.g. '2026年12月18日'. */
  payByDate: string;
  /** The collecting bank. */
  bankName: string;
  /** The ways to pay at that bank, one per entry. */
  paymentMethods: string[];
}

/** Every document kind and the data its template takes. */
export interface DocumentDataMap {
  receipt: ReceiptData;
  correctionNotice: CorrectionNoticeData;
  refusalNotice: RefusalNoticeData;
  denialDecision: DenialDecisionData;
  approvalNotice: ApprovalNoticeData;
  extensionNotice: ExtensionNoticeData;
  suspensionNotice: SuspensionNoticeData;
  urgingNotice: UrgingNoticeData;
  paymentNotice: PaymentNoticeData;
}

/** Name of a document kind; also the name of its template in templates/. */
export type DocumentKind = keyof DocumentDataMap;

/** The data of one document kind. */
export type DocumentData<K extends DocumentKind> = DocumentDataMap[K];

// A required field: a non-blank string (that passes `check`, when given: a wrong value is as
// good as none), or a list that must be non-empty and whose elements must each have the listed
// non-blank fields ('' for a list of strings).
type Requirement =
  | { path: string; type: 'text'; check?: (value: string) => boolean }
  | { path: string; type: 'list'; each: readonly string[]; allowEmpty?: boolean };

const BASE: readonly Requirement[] = [
  { path: 'documentNumber', type: 'text' },
  { path: 'caseNumber', type: 'text' },
  { path: 'verificationCode', type: 'text' },
  { path: 'verifyUrl', type: 'text' },
  { path: 'issuingOrgan', type: 'text' },
  { path: 'issuedDate', type: 'text' },
  { path: 'sealName', type: 'text' },
  { path: 'complaintPhone', type: 'text' },
  { path: 'applicant.name', type: 'text' },
  { path: 'itemName', type: 'text' },
];

const REMEDIES: readonly Requirement[] = [
  { path: 'reviewOrgan', type: 'text' },
  { path: 'court', type: 'text' },
];

const text = (...paths: string[]): Requirement[] => paths.map((path) => ({ path, type: 'text' }));

/**
 * The legally required fields of each document kind. Adding a kind means adding its data type
 * to DocumentDataMap, an entry here and a template.
 */
export const REQUIRED_FIELDS: { readonly [K in DocumentKind]: readonly Requirement[] } = {
  // 行政许可法第三十二条: a written, sealed and dated acceptance; the hall's promise adds its limit.
  receipt: [
    ...BASE,
    ...text('receivedAt', 'acceptedAt', 'statutoryLimit', 'promisedLimit', 'promisedDate'),
    // No fees is a legal answer (printed 无), but the caller must say so explicitly.
    { path: 'fees', type: 'list', each: ['name', 'amount'], allowEmpty: true },
    ...text('counter', 'clerk'),
  ],
  // 第三十二条第一款第（四）项: all the missing content, told at once.
  correctionNotice: [
    ...BASE,
    ...text('receivedAt'),
    { path: 'missingMaterials', type: 'list', each: ['name'] },
    ...text('correctionDeadline', 'counter', 'clerk'),
  ],
  // 第三十二条 and 第三十八条: reasons in writing and the remedies.
  refusalNotice: [
    ...BASE,
    ...text('receivedAt'),
    { path: 'reasons', type: 'list', each: [''] },
    ...REMEDIES,
  ],
  // 第三十八条第二款: reasons and the right to review or sue.
  denialDecision: [
    ...BASE,
    ...text('acceptedAt'),
    { path: 'reasons', type: 'list', each: [''] },
    ...REMEDIES,
  ],
  // 第三十八条第一款 and 第三十九条: what is granted and where to get the licence.
  approvalNotice: [...BASE, ...text('acceptedAt', 'grant', 'collectionPlace')],
  // 第四十二条: the extension needs the head's approval and its reasons told to the applicant;
  // the new date is what the applicant now holds the organ to.
  extensionNotice: [
    ...BASE,
    ...text('acceptedAt', 'extension'),
    { path: 'reasons', type: 'list', each: [''] },
    ...text('approver', 'statutoryDueDate'),
  ],
  // 第四十五条: which procedure, and the time it needs, told in writing.
  suspensionNotice: [
    ...BASE,
    ...text('acceptedAt', 'procedure'),
    { path: 'reasons', type: 'list', each: [''] },
    ...text('expectedDuration'),
  ],
  // The hall's supervision: what is urged, on whom, and by when the department answers.
  urgingNotice: [...BASE, ...text('department', 'taskName', 'message', 'replyBy', 'urgedBy')],
  // 第五十八条、第五十九条: a fee only under a law that sets it, at its rate, paid to the bank;
  // a mistyped notice number would send the money nowhere, so its check digits must hold.
  paymentNotice: [
    ...BASE,
    { path: 'noticeNumber', type: 'text', check: isValidNoticeNumber },
    ...text('payer'),
    { path: 'lines', type: 'list', each: ['name', 'basis', 'quantity', 'amount'] },
    ...text('totalAmount', 'totalInWords', 'payByDate', 'bankName'),
    { path: 'paymentMethods', type: 'list', each: [''] },
  ],
};

/** Thrown when a document lacks legally required fields; lists all of them at once. */
export class DocumentIncompleteError extends Error {
  /** Stable machine-readable code for API responses. */
  readonly code = 'document_incomplete';

  /** Document kind that was being issued. */
  readonly kind: string;

  /** Every missing, blank or invalid field, as a path such as 'missingMaterials[1].name'. */
  readonly missing: string[];

  /** Builds the error for one kind and its missing fields. */
  constructor(kind: string, missing: string[]) {
    super(`${kind} cannot be issued: missing ${missing.join(', ')}`);
    this.name = 'DocumentIncompleteError';
    this.kind = kind;
    this.missing = missing;
  }
}

/** True for a name of a known document kind. */
export function isDocumentKind(kind: string): kind is DocumentKind {
  return Object.prototype.hasOwnProperty.call(REQUIRED_FIELDS, kind);
}

function lookup(data: unknown, path: string): unknown {
  let value: unknown = data;
  for (const key of path.split('.')) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

function isBlank(value: unknown): boolean {
  return typeof value !== 'string' || value.trim() === '';
}

/** Lists the missing or blank required fields of a document, in declaration order. */
export function missingFields(kind: DocumentKind, data: unknown): string[] {
  const missing: string[] = [];
  for (const req of REQUIRED_FIELDS[kind]) {
    const value = lookup(data, req.path);
    if (req.type === 'text') {
      if (isBlank(value) || (req.check && !req.check((value as string).trim()))) {
        missing.push(req.path);
      }
      continue;
    }
    if (!Array.isArray(value) || (value.length === 0 && !req.allowEmpty)) {
      missing.push(req.path);
      continue;
    }
    value.forEach((element: unknown, index) => {
      for (const field of req.each) {
        const inner = field === '' ? element : lookup(element, field);
        if (isBlank(inner)) missing.push(`${req.path}[${index}]${field === '' ? '' : `.${field}`}`);
      }
    });
  }
  return missing;
}

/**
 * Throws DocumentIncompleteError unless every legally required field of the kind is present and
 * non-blank; an unknown kind is a programming error and throws a plain Error.
 */
export function assertComplete<K extends DocumentKind>(
  kind: K,
  data: unknown,
): asserts data is DocumentData<K> {
  if (!isDocumentKind(kind)) throw new Error(`unknown document kind: ${String(kind)}`);
  const missing = missingFields(kind, data);
  if (missing.length > 0) throw new DocumentIncompleteError(kind, missing);
}

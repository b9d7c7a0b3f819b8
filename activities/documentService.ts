import { ApplicationFailure } from '@temporalio/activity';
import { createHash, createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Config } from '../lib/config';
import { PdfRenderer } from '../lib/documents/renderer';
import {
  DocumentIncompleteError,
  type DocumentDataMap,
  type DocumentBase,
} from '../lib/documents/requirements';
import { TemplateSet } from '../lib/documents/templates';
import { dateInZone } from '../lib/calendar';
import type { Runtime } from '../lib/runtime';
import type { CaseRecord } from '../lib/store';
import type { DocumentKind, DocumentService, IssuedDocument, IssueRequest } from './documents';
import { SnapshotCalendar } from './calendarService';
import type { Limit } from '../lib/catalog/types';
import type { SuspendingProcedure } from '../workflows/messages';
import { amountInWords, yuanOf } from '../lib/bank/money';
import { PaymentLedger } from './payments';

/** The hall's document settings (data/hall.json): seal, telephone, review organ and court. */
export interface HallSettings {
  documentPrefix: string;
  sealName: string;
  complaintPhone: string;
  reviewOrgan: string;
  court: string;
  collectionPlace: string;
  collectionHours: string;
  correctionPeriod: Limit;
  progressChannels: string[];
}

/** Reads data/hall.json. */
export function loadHallSettings(dataPath: string): HallSettings {
  return JSON.parse(readFileSync(path.join(dataPath, 'hall.json'), 'utf8')) as HallSettings;
}

const KIND_PREFIX: Record<DocumentKind, string> = {
  receipt: 'SL',
  correctionNotice: 'BZ',
  refusalNotice: 'BY',
  denialDecision: 'BX',
  approvalNotice: 'ZX',
  extensionNotice: 'YQ',
  suspensionNotice: 'TB',
  urgingNotice: 'DB',
  paymentNotice: 'JK',
};

// LLA art. 32 ¶1: (1) no licence is needed for the matter; (2) it is another organ's matter.
const REFUSAL_BASIS: Record<string, string> = {
  notLicensable: '《中华人民共和国行政许可法》第三十二条第一款第（一）项',
  wrongOrgan: '《中华人民共和国行政许可法》第三十二条第一款第（二）项',
};

const UNIT_NAMES = { workingDays: '个工作日', calendarDays: '日' } as const;

// LLA art. 42: ¶1 the head of the organ approves an extension, ¶2 (joint cases) the head of the
// people's government at the same level.
const APPROVER_NAMES: Record<string, string> = {
  headOfOrgan: '本机关负责人',
  headOfGovernment: '本级人民政府负责人',
};

// The procedures of LLA art. 45 whose time is not counted, as the law names them.
const PROCEDURE_NAMES: Record<SuspendingProcedure, string> = {
  hearing: '听证',
  tendering: '招标',
  auction: '拍卖',
  inspection: '检验',
  testing: '检测',
  quarantine: '检疫',
  appraisal: '鉴定',
  expertReview: '专家评审',
};

// One field of an event's details as text. A missing or mistyped field reads as blank, so the
// document is refused as incomplete instead of printed with a wrong value.
function detailText(details: Record<string, unknown>, key: string): string {
  const value = details[key];
  if (typeof value === 'string') return value.trim();
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return '';
}

// A number of days with its unit as printed ('10个工作日'); blank unless both are valid.
function daysText(days: unknown, unit: unknown): string {
  if (typeof days !== 'number' || !Number.isInteger(days) || days < 1) return '';
  const name = UNIT_NAMES[unit as keyof typeof UNIT_NAMES];
  return name ? `${days}${name}` : '';
}

// Reasons as stored (one per line) become the list the templates number.
function reasonList(text: string | null | undefined): string[] {
  return (text ?? '')
    .split('\n')
    .map((r) => r.trim())
    .filter(Boolean);
}

/** Formats an instant as the documents print it: 2026年10月30日 14:05 in the hall's zone. */
export function formatChineseDate(iso: string, timeZone: string, withTime = false): string {
  const parts = new Intl.DateTimeFormat('en-CA', {
    timeZone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  }).formatToParts(new Date(iso));
  const get = (type: string): string => parts.find((p) => p.type === type)!.value;
  const date = `${get('year')}年${Number(get('month'))}月${Number(get('day'))}日`;
  return withTime ? `${date} ${get('hour')}:${get('minute')}` : date;
}

/**
 * The short code printed beside the QR code; only the hall, holding the secret, can make it. It
 * signs the document and case numbers (it is printed inside the document, so it cannot sign the
 * file's own hash; the verify answer gives that hash for electronic copies).
 */
export function verificationCodeOf(
  secret: string,
  documentNumber: string,
  caseNumber: string,
): string {
  return createHmac('sha256', secret)
    .update(`${documentNumber}|${caseNumber}`)
    .digest('base64url')
    .replace(/[-_]/g, '')
    .slice(0, 8)
    .toUpperCase();
}

/** How documents are produced: HTML always, PDF through the shared browser when enabled. */
export interface DocumentServiceOptions {
  pdf: boolean;
  secret: string;
}

/**
 * Issues documents: gathers the case's data from the register, renders the template, prints
 * it to PDF, and stores it under a new number, once per (case event, kind).
 */
export class RegisterDocumentService implements DocumentService {
  constructor(
    private readonly runtime: Runtime,
    private readonly templates: TemplateSet,
    private readonly renderer: PdfRenderer | null,
    private readonly settings: HallSettings,
    private readonly calendar: SnapshotCalendar,
    private readonly config: Pick<Config, 'PUBLIC_URL' | 'HALL_TIME_ZONE' | 'BANK_NAME'>,
    private readonly secret: string,
  ) {}

  async issue(req: IssueRequest): Promise<IssuedDocument> {
    const db = this.runtime.db;
    const existing = await db('documents')
      .where({ event_key: req.eventKey, kind: req.kind })
      .first();
    if (existing) return this.issued(existing as Record<string, unknown>);

    const record = await this.runtime.store.getCase(req.caseNumber);
    if (!record)
      throw ApplicationFailure.nonRetryable(`no case ${req.caseNumber}`, 'case_not_found');
    const [{ nextval }] = (await db.raw("SELECT nextval('document_numbers') AS nextval")).rows as {
      nextval: string;
    }[];
    const issuedAt = new Date().toISOString();
    const day = dateInZone(new Date(issuedAt), this.config.HALL_TIME_ZONE).replaceAll('-', '');
    const serial = String(nextval).padStart(6, '0');
    const prefix = `${this.settings.documentPrefix}-${KIND_PREFIX[req.kind]}`;
    const documentNumber = `${prefix}-${day}-${serial}`;

    // The verification code signs the number and the case, so it is known before rendering.
    const verificationCode = verificationCodeOf(this.secret, documentNumber, req.caseNumber);
    let html: string;
    try {
      html = await this.renderHtml(req.kind, record, req.details ?? {}, {
        documentNumber,
        verificationCode,
        issuedAt,
      });
    } catch (err) {
      if (err instanceof DocumentIncompleteError) {
        // A document missing a legally required field is never printed; retrying won't help.
        throw ApplicationFailure.nonRetryable(err.message, 'document_incomplete');
      }
      throw err;
    }
    const content = this.renderer ? await this.renderer.render(html) : Buffer.from(html, 'utf8');
    const sha256 = createHash('sha256').update(content).digest('hex');
    await db('documents')
      .insert({
        document_number: documentNumber,
        case_number: req.caseNumber,
        kind: req.kind,
        event_key: req.eventKey,
        media_type: this.renderer ? 'application/pdf' : 'text/html; charset=utf-8',
        content,
        sha256,
        verification_code: verificationCode,
        issued_at: issuedAt,
      })
      .onConflict('event_key')
      .ignore();
    // Whoever won a race for this event key, that row is the document.
    const row = await db('documents').where({ event_key: req.eventKey }).first();
    return this.issued(row as Record<string, unknown>);
  }

  private issued(row: Record<string, unknown>): IssuedDocument {
    return {
      id: String(row.id),
      documentNumber: String(row.document_number),
      kind: row.kind as DocumentKind,
      issuedAt: (row.issued_at as Date).toISOString(),
    };
  }

  /**
   * Assembles a document's data from the register and renders it. The case row gives what every
   * document needs; the event's own details give the rest:
   * - extensionNotice: `{ days, unit, reason, statutoryDueAt, promisedDueAt?, dueProvisional?,
   *   approver }`, approver 'headOfOrgan' | 'headOfGovernment' (or a title, printed as given);
   * - suspensionNotice: `{ procedure, reason, expectedDays, unit? }`, procedure one of art. 45's
   *   (SUSPENDING_PROCEDURES), unit 'calendarDays' when absent;
   * - urgingNotice: `{ taskCode?, department?, message, replyBy, urgedBy }`, the department
   *   being the task's when only taskCode is given, the case's when neither is;
   * - paymentNotice: `{ noticeNumber }`, the rest read from the register's notice of this case.
   * A task's extension or suspension may add `taskCode` or `department`, so that the notice is
   * issued in the name of the task's department and states the task's own limit.
   */
  private async renderHtml(
    kind: DocumentKind,
    record: CaseRecord,
    details: Record<string, unknown>,
    meta: { documentNumber: string; verificationCode: string; issuedAt: string },
  ): Promise<string> {
    const tz = this.config.HALL_TIME_ZONE;
    const { catalog } = this.runtime;
    const item = catalog.items.get(record.itemCode)!;
    const department = catalog.departments.get(record.department)!;
    const applicant = (await this.runtime.store.getApplicant(record.caseNumber)) as {
      name: string;
    };
    const base: DocumentBase = {
      documentNumber: meta.documentNumber,
      caseNumber: record.caseNumber,
      verificationCode: meta.verificationCode,
      verifyUrl:
        `${this.config.PUBLIC_URL}/verify/${meta.documentNumber}` +
        `?code=${meta.verificationCode}`,
      issuingOrgan: department.name,
      issuedDate: formatChineseDate(meta.issuedAt, tz),
      sealName: this.settings.sealName,
      complaintPhone: this.settings.complaintPhone,
      applicant: { name: applicant.name },
      itemName: item.name,
    };
    const date = (iso: string | null, withTime = true): string =>
      iso ? formatChineseDate(iso, tz, withTime) : '';
    const limitText = (l: Limit): string => `${l.days}${UNIT_NAMES[l.unit]}`;
    const remedies = { reviewOrgan: this.settings.reviewOrgan, court: this.settings.court };
    const reasons = reasonList(record.reasons);
    // The task an event concerns, from the item's plan, and the department acting on it.
    const taskCode = detailText(details, 'taskCode');
    const taskTemplate = item.tasks.find((t) => t.code === taskCode);
    const departmentName = (code: string): string => catalog.departments.get(code)?.name ?? '';
    const detailDate = (key: string, withTime: boolean): string => {
      const iso = detailText(details, key);
      return Number.isNaN(Date.parse(iso)) ? '' : formatChineseDate(iso, tz, withTime);
    };
    const actingDepartment =
      detailText(details, 'department') || taskTemplate?.department || record.department;

    switch (kind) {
      case 'receipt': {
        const data: DocumentDataMap['receipt'] = {
          ...base,
          receivedAt: date(record.receivedAt),
          acceptedAt: date(record.acceptedAt),
          limitCountsFrom: item.clockStartsAt === 'receipt' ? 'received' : 'accepted',
          statutoryLimit: limitText(item.statutoryLimit),
          promisedLimit: limitText(item.promisedLimit),
          promisedDate: date(record.promisedDueAt, false),
          promisedDateProvisional: record.dueProvisional,
          fees: item.fees.map((f) => ({
            name: f.name,
            amount: `${f.amountCNY}元/${f.per}`,
            basis: f.legalBasis,
          })),
          progressChannels: this.settings.progressChannels,
          counter: record.counter ?? '',
          clerk: record.clerk ?? '',
        };
        return this.templates.render('receipt', data);
      }
      case 'correctionNotice': {
        const byCode = new Map(item.materials.map((m) => [m.code, m]));
        const deadline = await this.calendar.due(
          new Date().toISOString(),
          this.settings.correctionPeriod,
        );
        const data: DocumentDataMap['correctionNotice'] = {
          ...base,
          receivedAt: date(record.receivedAt),
          missingMaterials: (record.missingMaterials ?? []).map((code) => ({
            name: byCode.get(code)?.name ?? code,
          })),
          correctionDeadline: date(deadline.dueAt, false),
          counter: record.counter ?? '',
          clerk: record.clerk ?? '',
        };
        return this.templates.render('correctionNotice', data);
      }
      case 'refusalNotice': {
        const data: DocumentDataMap['refusalNotice'] = {
          ...base,
          ...remedies,
          receivedAt: date(record.receivedAt),
          reasons,
          competentOrgan: record.competentOrgan ?? undefined,
          legalBasis: REFUSAL_BASIS[record.reasonCode ?? ''],
        };
        return this.templates.render('refusalNotice', data);
      }
      case 'denialDecision': {
        const data: DocumentDataMap['denialDecision'] = {
          ...base,
          ...remedies,
          acceptedAt: date(record.acceptedAt),
          reasons,
        };
        return this.templates.render('denialDecision', data);
      }
      case 'approvalNotice': {
        const tasks = await this.runtime.store.getTasks(record.caseNumber);
        const granted = tasks.filter((t) => t.decision === 'approve').map((t) => t.title);
        const data: DocumentDataMap['approvalNotice'] = {
          ...base,
          acceptedAt: date(record.acceptedAt),
          grant: granted.length > 0 ? granted.join('；') : item.name,
          collectionPlace: this.settings.collectionPlace,
          collectionHours: this.settings.collectionHours,
        };
        return this.templates.render('approvalNotice', data);
      }
      case 'extensionNotice': {
        const approver = detailText(details, 'approver');
        const data: DocumentDataMap['extensionNotice'] = {
          ...base,
          issuingOrgan: departmentName(actingDepartment),
          acceptedAt: date(record.acceptedAt),
          statutoryLimit: limitText(taskTemplate?.statutoryLimit ?? item.statutoryLimit),
          extension: daysText(details.days, details.unit),
          reasons: reasonList(detailText(details, 'reason')),
          approver: Object.hasOwn(APPROVER_NAMES, approver) ? APPROVER_NAMES[approver] : approver,
          statutoryDueDate: detailDate('statutoryDueAt', false),
          promisedDueDate: detailDate('promisedDueAt', false) || undefined,
          dueDateProvisional: details.dueProvisional === true,
        };
        return this.templates.render('extensionNotice', data);
      }
      case 'suspensionNotice': {
        const procedure = detailText(details, 'procedure');
        const data: DocumentDataMap['suspensionNotice'] = {
          ...base,
          issuingOrgan: departmentName(actingDepartment),
          acceptedAt: date(record.acceptedAt),
          procedure: Object.hasOwn(PROCEDURE_NAMES, procedure)
            ? PROCEDURE_NAMES[procedure as SuspendingProcedure]
            : '',
          reasons: reasonList(detailText(details, 'reason')),
          expectedDuration: daysText(details.expectedDays, details.unit ?? 'calendarDays'),
        };
        return this.templates.render('suspensionNotice', data);
      }
      case 'urgingNotice': {
        const task = taskCode
          ? (await this.runtime.store.getTasks(record.caseNumber)).find(
              (t) => t.taskCode === taskCode,
            )
          : undefined;
        const due = task
          ? (task.promisedDueAt ?? task.statutoryDueAt)
          : (record.promisedDueAt ?? record.statutoryDueAt);
        const data: DocumentDataMap['urgingNotice'] = {
          ...base,
          // The hall's supervision urges; the department is the addressee.
          issuingOrgan: this.templates.hallName,
          department: departmentName(
            detailText(details, 'department') || task?.department || record.department,
          ),
          taskName: taskCode ? (task?.title ?? taskTemplate?.title ?? '') : item.name,
          message: detailText(details, 'message'),
          replyBy: detailDate('replyBy', true),
          urgedBy: detailText(details, 'urgedBy'),
          acceptedAt: date(record.acceptedAt) || undefined,
          dueDate: date(due, false) || undefined,
        };
        return this.templates.render('urgingNotice', data);
      }
      case 'paymentNotice': {
        // A notice of another case reads as none: the document is refused as incomplete.
        const found = await new PaymentLedger(this.runtime.db).notice(
          detailText(details, 'noticeNumber'),
        );
        const notice = found?.caseNumber === record.caseNumber ? found : undefined;
        const bankName = this.config.BANK_NAME;
        const data: DocumentDataMap['paymentNotice'] = {
          ...base,
          noticeNumber: notice?.noticeNumber ?? '',
          payer: applicant.name,
          lines: (notice?.lines ?? []).map((l) => ({
            name: l.name,
            basis: l.legalBasis,
            quantity: `${l.quantity}${l.per}`,
            amount: `${yuanOf(l.amountFen)}元`,
          })),
          totalAmount: notice ? `${yuanOf(notice.amountFen)}元` : '',
          totalInWords: notice ? amountInWords(notice.amountFen) : '',
          payByDate: date(notice?.payBy ?? null, false),
          bankName,
          paymentMethods: notice
            ? [
                `到${bankName}任一营业网点柜台，出示本通知书或告知通知书编号缴纳`,
                `登录${bankName}网上银行或手机银行，在“非税缴款”中输入通知书编号` +
                  `${notice.noticeNumber}，核对金额无误后缴纳`,
              ]
            : [],
        };
        return this.templates.render('paymentNotice', data);
      }
    }
  }
}

/** Builds the document service of a worker and what must be closed with it. */
export async function createDocumentService(
  config: Config,
  runtime: Runtime,
  calendar: SnapshotCalendar,
): Promise<{ service: DocumentService; close: () => Promise<void> }> {
  const renderer = config.DOCUMENTS_PDF ? new PdfRenderer({ poolSize: 2 }) : null;
  const service = new RegisterDocumentService(
    runtime,
    TemplateSet.load(),
    renderer,
    loadHallSettings(config.DATA_PATH),
    calendar,
    config,
    config.DOCUMENT_SECRET,
  );
  return { service, close: async () => renderer?.close() };
}

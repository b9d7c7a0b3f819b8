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
};

// LLA art. 32 ¶1: (1) no licence is needed for the matter; (2) it is another organ's matter.
const REFUSAL_BASIS: Record<string, string> = {
  notLicensable: '《中华人民共和国行政许可法》第三十二条第一款第（一）项',
  wrongOrgan: '《中华人民共和国行政许可法》第三十二条第一款第（二）项',
};

const UNIT_NAMES = { workingDays: '个工作日', calendarDays: '日' } as const;

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
    private readonly config: Pick<Config, 'PUBLIC_URL' | 'HALL_TIME_ZONE'>,
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
    const documentNumber = `${this.settings.documentPrefix}-${KIND_PREFIX[req.kind]}-${day}-${String(nextval).padStart(6, '0')}`;

    // The verification code signs the number and the case, so it is known before rendering.
    const verificationCode = verificationCodeOf(this.secret, documentNumber, req.caseNumber);
    let html: string;
    try {
      html = await this.renderHtml(req.kind, record, {
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

  private async renderHtml(
    kind: DocumentKind,
    record: CaseRecord,
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
      verifyUrl: `${this.config.PUBLIC_URL}/verify/${meta.documentNumber}?code=${meta.verificationCode}`,
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
    const reasons = (record.reasons ?? '')
      .split('\n')
      .map((r) => r.trim())
      .filter(Boolean);

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

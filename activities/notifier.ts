/**
 * The notifier: tells the applicant of each step of their case, on the channels they chose, once;
 * and tells staff (the department's duty contact, supervisors, leadership) of the clock's
 * warnings and urgings, once per recipient (notifyStaff; who gets what: lib/notify/staffContacts).
 *
 * Exactly once rests on the register, not on Temporal: every notification has a row keyed by
 * (case, event, channel, recipient), inserted before anything is sent. The send happens under
 * that row's lock and only while the row is pending; the provider gets the row's reference with
 * it. A retried activity finds its row (and sends nothing if the provider took it); a worker
 * that died after the provider took the message but before the register heard of it resends
 * with the same reference, which the SMS gateway answers as a duplicate and the mailbox knows
 * by its Message-ID.
 */
import { ApplicationFailure } from '@temporalio/activity';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import Handlebars from 'handlebars';
import type { Knex } from 'knex';
import type pino from 'pino';
import type { Applicant } from '../lib/case/model';
import type { Limit } from '../lib/catalog/types';
import { HALL_NAME, TEMPLATE_DIR } from '../lib/documents/templates';
import { MailRejectedError, type MailAttachment, type Mailer } from '../lib/notify/mailer';
import {
  segmentsOf,
  SmsRejectedError,
  toE164,
  type DeliveryReport,
  type SmsGateway,
} from '../lib/notify/smsGateway';
import {
  parseStaffContacts,
  STAFF_NOTIFICATION_STEPS,
  staffRecipientsOf,
  type DutyContact,
  type StaffDirectory,
  type StaffNotificationStep,
  type StaffRecipient,
} from '../lib/notify/staffContacts';
import { dateInZone, workingDaysBetween, type CalendarSnapshot } from '../lib/calendar';
import type { CaseRecord, RegisterStore } from '../lib/store';
import { yuanOf } from '../lib/bank/money';
import { SnapshotCalendar } from './calendarService';
import { formatChineseDate, type HallSettings } from './documentService';

/** Every step of a case the applicant is told of. */
export const NOTIFICATION_STEPS = [
  'submitted',
  'correctionRequested',
  'accepted',
  'refusedToAccept',
  'suspended',
  'resumed',
  'extended',
  'denied',
  'approved',
  'readyToCollect',
  'withdrawn',
  'taskConcluded',
  'paymentNotice',
  'paymentReminder',
  'taskMaterialsRequested',
] as const;

/** A step of a case the applicant is told of (taskConcluded: one department of a joint case). */
export type NotificationStep = (typeof NOTIFICATION_STEPS)[number];

/** How an applicant can be told. */
export type NotificationChannel = 'sms' | 'email';

/** Where a notification stands: accepted by the provider, then delivered or failed. */
export type NotificationStatus = 'pending' | 'accepted' | 'delivered' | 'failed';

const CHANNELS: NotificationChannel[] = ['sms', 'email'];

/**
 * What a step may tell beyond the register's case row; each field overrides the register's
 * value. Unknown fields are ignored: a template shows only what it names.
 */
export interface NotificationDetails {
  [key: string]: unknown;
  /** The promised due moment (ISO), e.g. after an extension or a resumption. */
  promisedDueAt?: string;
  /** Reasons of a refusal or a denial, one per line. */
  reasons?: string;
  /** Codes of the missing materials (correctionRequested). */
  missing?: string[];
  /** The end of the correction period (ISO). */
  correctionDeadline?: string;
  /** Why the clock stopped (suspended): hearing, testing, expert review, public notice. */
  suspensionReason?: string;
  /** The extension granted (extended). */
  extension?: Limit;
  /** The department whose task concluded, and the task's title (taskConcluded). */
  department?: string;
  taskTitle?: string;
  decision?: 'approve' | 'deny';
  /** Names of the materials a department asks for on its task (taskMaterialsRequested). */
  requestedMaterials?: string[];
}

/** One step of a case to tell the applicant of. */
export interface NotifyRequest {
  caseNumber: string;
  step: NotificationStep;
  /** Stable across retries and replays (e.g. the register event's stream and seq). */
  eventKey: string;
  /** The document of the step (documents.id), attached to the e-mail. */
  documentId?: string;
  details?: NotificationDetails;
}

/** One notification's state after the call. */
export interface SentNotification {
  channel: NotificationChannel;
  status: NotificationStatus;
  clientReference: string;
  /** SMS only. */
  segments?: number;
  /** False when an earlier attempt had already handed it to the provider. */
  sentNow: boolean;
}

/** A chosen channel that could not be used, and why. */
export interface SkippedChannel {
  channel: NotificationChannel;
  /** noAddress: the applicant gave no number or address; channelOff: the hall runs without it. */
  reason: 'noAddress' | 'channelOff';
}

/** What notify did, per channel the applicant chose. */
export interface NotifyResult {
  caseNumber: string;
  eventKey: string;
  step: NotificationStep;
  notifications: SentNotification[];
  skipped: SkippedChannel[];
}

/**
 * One statutory-time event to tell staff of (电子监察): a warning level of a clock, an urging
 * of a department, or an urging left unanswered. STAFF_ROUTING says who is told.
 */
export interface StaffNotifyRequest {
  caseNumber: string;
  step: StaffNotificationStep;
  /** Stable across retries and replays: the register event's stream and seq. */
  eventKey: string;
  /** The department whose task it is; a joint case's own clock names its lead department. */
  department?: string;
  taskCode?: string;
  taskTitle?: string;
  /** The moment warned of (ISO): the promised due moment, or the statutory one for red. */
  dueAt?: string;
  /** An urging's reply deadline (ISO) (urged, urgingEscalated). */
  replyBy?: string;
  /** The supervisor's words (urged); e-mail only, never in an SMS. */
  message?: string;
}

/** A party that could not be told, and why (recorded in the register as a failed row). */
export interface UnaddressedParty {
  party: string;
  channel: NotificationChannel;
  /** noContact: none on file in staffContacts; channelOff: the hall runs without its channel. */
  reason: 'noContact' | 'channelOff';
}

/** What notifyStaff did, per party and channel. */
export interface StaffNotifyResult {
  caseNumber: string;
  eventKey: string;
  step: StaffNotificationStep;
  notifications: (SentNotification & { party: string })[];
  unaddressed: UnaddressedParty[];
}

/** The logger the notifier writes to (pino's shape). */
export type NotifierLog = Pick<pino.Logger, 'info' | 'warn'>;

/** What the notifier needs; a hall without SMS or e-mail passes null for it. */
export interface NotifierDeps {
  db: Knex;
  store: RegisterStore;
  mailer: Mailer | null;
  sms: SmsGateway | null;
  log: NotifierLog;
  /** Zone of the dates in messages (HALL_TIME_ZONE); Asia/Shanghai by default. */
  timeZone?: string;
  /** Name in the SMS signature and under e-mails; HALL_NAME by default. */
  hallName?: string;
  /**
   * Settings the messages name: telephone, collection place and hours, review organ, court; and
   * data/hall.json's `staffContacts`, unless `staffContacts` is given.
   */
  hall?: Partial<HallSettings> & { staffContacts?: unknown };
  /** Who is told of warnings and urgings; by default hall.staffContacts, else nobody. */
  staffContacts?: StaffDirectory;
  /** The working-day calendar staff messages count lateness on; the register's by default. */
  calendar?: { snapshot(): Promise<CalendarSnapshot> };
  /** The present moment of a message (tests fix it); the system clock by default. */
  now?: () => Date;
  /** Folder of `<step>.<channel>.hbs`; templates/notifications by default. */
  templatesDir?: string;
}

/** A notification row of the register. */
export interface NotificationRecord {
  id: string;
  caseNumber: string;
  eventKey: string;
  step: NotificationStep;
  channel: NotificationChannel;
  recipient: string;
  /** Who the recipient is: `applicant`, `department:<code>`, `supervisor:<id>`, `leadership:…`. */
  recipientParty: string;
  clientReference: string;
  providerReference: string | null;
  status: NotificationStatus;
  segments: number | null;
  attempts: number;
  lastError: string | null;
  createdAt: string;
  updatedAt: string;
}

/** Filters of the notification list. */
export interface NotificationFilter {
  status?: NotificationStatus;
  caseNumber?: string;
  channel?: NotificationChannel;
  page: number;
  pageSize: number;
}

/** The short, stable id of a notification: its key hashed; the provider's client reference. */
export function notificationReferenceOf(
  caseNumber: string,
  eventKey: string,
  channel: NotificationChannel,
  recipient: string,
  party = 'applicant',
): string {
  // A JSON array, so no choice of separator can make two keys collide; an applicant's key keeps
  // the four parts it was first made of.
  const parts = [caseNumber, eventKey, channel, recipient];
  const key = JSON.stringify(party === 'applicant' ? parts : [...parts, party]);
  return createHash('sha256').update(key).digest('hex').slice(0, 32);
}

/** A recipient as staff see it: 138****0004, o****@example.com ('' for none on file). */
export function maskRecipient(channel: NotificationChannel, recipient: string): string {
  if (recipient === '') return '';
  if (channel === 'sms') return recipient.replace(/(\d{3})\d{4}(\d{4})$/, '$1****$2');
  const [local, domain] = recipient.split('@');
  return `${local.slice(0, 1)}****@${domain ?? ''}`;
}

/** A person's name as messages show it: 李*, 张*丰 (a company's registered name is public). */
export function maskPersonName(name: string): string {
  const chars = Array.from(name.trim());
  if (chars.length <= 1) return chars.join('');
  if (chars.length === 2) return `${chars[0]}*`;
  return `${chars[0]}${'*'.repeat(chars.length - 2)}${chars[chars.length - 1]}`;
}

// Resident ID numbers (18 characters, GB 11643) and mainland mobile numbers, wherever they
// appear: a reason typed by an officer may quote one.
const ID_NUMBER = /(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])/g;
const MOBILE = /(?<!\d)(?:\+?86)?1\d{10}(?!\d)/g;

/**
 * The last guard before a text leaves the hall: the applicant's own identity and phone numbers,
 * and anything shaped like one, are masked, whatever a template or a reason let through.
 */
export function redactPersonalData(text: string, applicant: Partial<Applicant>): string {
  let out = text;
  for (const secret of [applicant.idNumber, applicant.legalRepresentative?.idNumber]) {
    if (secret) out = out.split(secret).join(`${secret.slice(0, 3)}***********${secret.slice(-4)}`);
  }
  out = out.replace(ID_NUMBER, (id) => `${id.slice(0, 3)}***********${id.slice(-4)}`);
  return out.replace(MOBILE, (m) => `${m.slice(0, -8)}****${m.slice(-4)}`);
}

const toCamel = (key: string): string =>
  key.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

function recordOf(row: Record<string, unknown>): NotificationRecord {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(row)) {
    out[toCamel(key)] = value instanceof Date ? value.toISOString() : value;
  }
  out.id = String(row.id);
  return out as unknown as NotificationRecord;
}

/** How one send ended, as the ledger records it. */
type SendOutcome =
  | { kind: 'accepted'; providerReference: string; status: NotificationStatus; segments?: number }
  | { kind: 'rejected'; error: string }
  | { kind: 'unavailable'; error: Error };

// A second attempt at a notification being sent waits this long for the row, then retries later.
const LOCK_TIMEOUT = '10s';
// A worker that hangs mid-send would hold the row; PostgreSQL ends its session after this.
const SEND_TIMEOUT = '120s';

/** The notifications table: its intent-named reads and writes. */
export class NotificationLedger {
  constructor(private readonly db: Knex) {}

  /** Opens the row of a notification unless it exists; a retry finds the row it opened. */
  async open(entry: {
    caseNumber: string;
    eventKey: string;
    step: NotificationStep | StaffNotificationStep;
    channel: NotificationChannel;
    recipient: string;
    recipientParty?: string;
    clientReference: string;
    segments: number | null;
    /** A notification that cannot be sent at all: recorded failed at once, with the reason. */
    unaddressed?: string;
  }): Promise<void> {
    await this.db('notifications')
      .insert({
        case_number: entry.caseNumber,
        event_key: entry.eventKey,
        step: entry.step,
        channel: entry.channel,
        recipient: entry.recipient,
        recipient_party: entry.recipientParty ?? 'applicant',
        client_reference: entry.clientReference,
        segments: entry.segments,
        ...(entry.unaddressed ? { status: 'failed', last_error: entry.unaddressed } : {}),
      })
      .onConflict()
      .ignore();
  }

  /**
   * Sends a notification at most once while the register knows: under the row's lock, and only
   * if it is still pending; the provider's answer is written in the same transaction. Concurrent
   * attempts queue on the lock and find it sent. If the process dies mid-way, PostgreSQL drops
   * the lock with the connection and the row stays pending for the retry.
   */
  async sendOnce(
    clientReference: string,
    send: () => Promise<SendOutcome>,
  ): Promise<{ status: NotificationStatus; sentNow: boolean; retry?: Error }> {
    return this.db.transaction(async (trx) => {
      // Both settings end with the transaction (is_local = true).
      await trx.raw(
        "SELECT set_config('lock_timeout', ?, true), " +
          "set_config('idle_in_transaction_session_timeout', ?, true)",
        [LOCK_TIMEOUT, SEND_TIMEOUT],
      );
      const row = (await trx('notifications')
        .where({ client_reference: clientReference })
        .forUpdate()
        .first('status')) as { status: NotificationStatus } | undefined;
      if (!row) throw new Error(`notification ${clientReference} has no row`);
      if (row.status !== 'pending') return { status: row.status, sentNow: false };

      const outcome = await send();
      const changes = { attempts: trx.raw('attempts + 1'), updated_at: trx.fn.now() };
      const where = { client_reference: clientReference };
      switch (outcome.kind) {
        case 'accepted':
          await trx('notifications')
            .where(where)
            .update({
              ...changes,
              status: outcome.status,
              provider_reference: outcome.providerReference,
              // A resend may learn that the handset was already reported unreachable.
              last_error: outcome.status === 'failed' ? 'reported failed by the provider' : null,
              ...(outcome.segments === undefined ? {} : { segments: outcome.segments }),
            });
          return { status: outcome.status, sentNow: true };
        case 'rejected':
          await trx('notifications')
            .where(where)
            .update({ ...changes, status: 'failed', last_error: outcome.error });
          return { status: 'failed', sentNow: true };
        case 'unavailable':
          await trx('notifications')
            .where(where)
            .update({ ...changes, last_error: outcome.error.message.slice(0, 500) });
          return { status: 'pending', sentNow: false, retry: outcome.error };
      }
    });
  }

  /**
   * Records a delivery report. Delivered and failed are final: a repeated or late report
   * changes nothing. A report may come before the register heard of the acceptance (the worker
   * died in between); it finds the row by the client reference all the same.
   */
  async applyDeliveryReport(report: DeliveryReport): Promise<'updated' | 'unchanged' | 'unknown'> {
    const updated = (await this.db('notifications')
      .where({ client_reference: report.clientReference, channel: 'sms' })
      .whereIn('status', ['pending', 'accepted'])
      .update({
        status: report.status,
        provider_reference: this.db.raw('coalesce(provider_reference, ?)', [report.messageId]),
        last_error:
          report.status === 'failed' ? (report.errorCode ?? 'failed') : this.db.raw('last_error'),
        updated_at: this.db.fn.now(),
      })
      .returning('id')) as unknown[];
    if (updated.length > 0) return 'updated';
    const known = await this.db('notifications')
      .where({ client_reference: report.clientReference })
      .first('id');
    return known ? 'unchanged' : 'unknown';
  }

  /** One notification by its reference. */
  async get(clientReference: string): Promise<NotificationRecord | undefined> {
    const row = (await this.db('notifications')
      .where({ client_reference: clientReference })
      .first()) as Record<string, unknown> | undefined;
    return row ? recordOf(row) : undefined;
  }

  /** A page of notifications, newest first, with the total for the filter. */
  async list(filter: NotificationFilter): Promise<{ total: number; rows: NotificationRecord[] }> {
    const base = this.db('notifications').modify((q) => {
      if (filter.status) void q.where('status', filter.status);
      if (filter.caseNumber) void q.where('case_number', filter.caseNumber);
      if (filter.channel) void q.where('channel', filter.channel);
    });
    const [{ count }] = (await base.clone().count({ count: '*' })) as { count: string }[];
    const rows = (await base
      .clone()
      .orderBy([
        { column: 'created_at', order: 'desc' },
        { column: 'id', order: 'desc' },
      ])
      .limit(filter.pageSize)
      .offset((filter.page - 1) * filter.pageSize)) as Record<string, unknown>[];
    return { total: Number(count), rows: rows.map(recordOf) };
  }
}

/** A rendered message: SMS text, or an e-mail's subject and body. */
export interface RenderedMessage {
  subject?: string;
  text: string;
}

/** Titles of the documents as attached (the titles they are printed with). */
const DOCUMENT_TITLES: Record<string, string> = {
  receipt: '受理通知书',
  correctionNotice: '补正材料通知书',
  refusalNotice: '不予受理通知书',
  denialDecision: '不予许可决定书',
  approvalNotice: '准予许可决定书',
  paymentNotice: '缴款通知书',
};

const UNIT_NAMES = { workingDays: '个工作日', calendarDays: '日' } as const;

const REASONED_STEPS = new Set<NotificationStep>(['refusedToAccept', 'denied']);

/**
 * The per-step, per-channel templates, compiled once. They are plain text: nothing is
 * HTML-escaped, and no value is ever read as template syntax. An e-mail template's first
 * non-empty line is its subject; an SMS template's lines are joined into one.
 */
export class NotificationTemplates {
  private constructor(
    private readonly compiled: Map<string, HandlebarsTemplateDelegate<Record<string, unknown>>>,
  ) {}

  /** Reads every `<step>.<channel>.hbs`; throws at start-up if one is missing or broken. */
  static load(dir = path.join(TEMPLATE_DIR, 'notifications')): NotificationTemplates {
    const hbs = Handlebars.create();
    const compiled = new Map<string, HandlebarsTemplateDelegate<Record<string, unknown>>>();
    for (const step of [...NOTIFICATION_STEPS, ...STAFF_NOTIFICATION_STEPS]) {
      for (const channel of CHANNELS) {
        const source = readFileSync(path.join(dir, `${step}.${channel}.hbs`), 'utf8');
        const template = hbs.compile<Record<string, unknown>>(source, {
          noEscape: true,
          knownHelpersOnly: true,
          preventIndent: true,
        });
        template({});
        compiled.set(`${step}.${channel}`, template);
      }
    }
    return new NotificationTemplates(compiled);
  }

  /** Renders one step's message for one channel from the view of the case. */
  render(
    step: NotificationStep | StaffNotificationStep,
    channel: NotificationChannel,
    view: Record<string, unknown>,
  ): RenderedMessage {
    const out = this.compiled.get(`${step}.${channel}`)!(view);
    if (channel === 'sms') return { text: out.replace(/\s*\n\s*/g, '').trim() };
    const lines = out.replace(/\r/g, '').split('\n');
    const first = lines.findIndex((l) => l.trim() !== '');
    const body = lines
      .slice(first + 1)
      .join('\n')
      .replace(/[ \t]+$/gm, '')
      .replace(/\n{3,}/g, '\n\n')
      .trim();
    return { subject: lines[first]?.trim() ?? '', text: `${body}\n` };
  }
}

const textOf = (value: unknown): string | undefined =>
  typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;

/**
 * Fails the attempt, retryably, when a provider could not take one of its messages: the others
 * went out, and Temporal's retry finds their rows sent.
 */
function failIfUnavailable(unavailable: Error[]): void {
  if (unavailable.length === 0) return;
  throw ApplicationFailure.create({
    message: `notification not sent yet: ${unavailable.map((e) => e.message).join('; ')}`,
    type: 'notification_unavailable',
    nonRetryable: false,
    cause: unavailable[0],
  });
}

/** Builds the notifier's activities over its dependencies. */
export function createNotifierActivities(deps: NotifierDeps) {
  const { db, store, log } = deps;
  const ledger = new NotificationLedger(db);
  const templates = NotificationTemplates.load(deps.templatesDir);
  const timeZone = deps.timeZone ?? 'Asia/Shanghai';
  const hallName = deps.hallName ?? HALL_NAME;
  // A malformed date in the details is left out rather than failing every retry.
  const date = (iso: unknown): string | undefined =>
    typeof iso === 'string' && !Number.isNaN(Date.parse(iso))
      ? formatChineseDate(iso, timeZone)
      : undefined;

  // Everything any template may name; each template shows what its step needs.
  async function viewOf(
    req: NotifyRequest,
    record: CaseRecord,
    applicant: Partial<Applicant>,
    attachment: MailAttachment | undefined,
  ): Promise<Record<string, unknown>> {
    const d = req.details ?? {};
    const item = (await db('items').where({ code: record.itemCode }).first('name', 'entry')) as
      { name: string; entry: { materials?: { code: string; name: string }[] } } | undefined;
    const departmentCodes = [record.department, textOf(d.department)].filter(
      (c): c is string => c !== undefined,
    );
    const departments = new Map(
      (
        (await db('departments').whereIn('code', departmentCodes).select('code', 'name')) as {
          code: string;
          name: string;
        }[]
      ).map((r) => [r.code, r.name]),
    );
    const materialNames = new Map((item?.entry.materials ?? []).map((m) => [m.code, m.name]));
    const missing = Array.isArray(d.missing) ? (d.missing as string[]) : record.missingMaterials;
    // The register's reasons are those of the refusal or denial; other steps bring their own.
    const registerReasons = REASONED_STEPS.has(req.step) ? record.reasons : null;
    const reasons = (textOf(d.reasons) ?? registerReasons ?? '')
      .split('\n')
      .map((r) => r.trim())
      .filter(Boolean);
    const extension = d.extension as Limit | undefined;
    const taskDepartment = textOf(d.department);
    return {
      hallName,
      complaintPhone: deps.hall?.complaintPhone ?? '12345',
      caseNumber: record.caseNumber,
      itemName: item?.name ?? record.itemCode,
      departmentName: departments.get(record.department) ?? record.department,
      applicantName:
        applicant.type === 'company' ? applicant.name : maskPersonName(applicant.name ?? ''),
      receivedDate: date(record.receivedAt),
      acceptedDate: date(record.acceptedAt),
      sentDate: date(new Date().toISOString()),
      promisedDate: date(textOf(d.promisedDueAt) ?? record.promisedDueAt),
      promisedDateProvisional: record.dueProvisional,
      reasons,
      missingMaterials: (missing ?? []).map((code) => materialNames.get(code) ?? code),
      missingCount: missing?.length ?? 0,
      correctionDeadline: date(d.correctionDeadline),
      competentOrgan: record.competentOrgan ?? undefined,
      suspensionReason: textOf(d.suspensionReason),
      extension: extension ? `${extension.days}${UNIT_NAMES[extension.unit]}` : undefined,
      taskTitle: textOf(d.taskTitle),
      requestedMaterials: Array.isArray(d.requestedMaterials)
        ? d.requestedMaterials.map(String)
        : [],
      taskDepartment: taskDepartment ? (departments.get(taskDepartment) ?? taskDepartment) : '',
      approved: d.decision === 'approve',
      collectionPlace: deps.hall?.collectionPlace,
      collectionHours: deps.hall?.collectionHours,
      reviewOrgan: deps.hall?.reviewOrgan,
      court: deps.hall?.court,
      attachmentName: attachment ? attachment.filename.replace(/\.[a-z]+$/, '') : undefined,
      // A fee's notice and its reminder (paymentNotice, paymentReminder).
      noticeNumber: textOf(d.noticeNumber),
      amount: Number.isSafeInteger(d.amountFen) ? `${yuanOf(d.amountFen as number)}元` : undefined,
      payByDate: date(d.payBy),
    };
  }

  // The step's document, checked to be this case's: a wrong id must never mail one applicant
  // another's decision.
  async function attachmentOf(req: NotifyRequest): Promise<MailAttachment | undefined> {
    if (!req.documentId) return undefined;
    const doc = (await db('documents')
      .where({ id: req.documentId })
      .first('case_number', 'kind', 'document_number', 'media_type', 'content')) as
      Record<string, unknown> | undefined;
    if (!doc || doc.case_number !== req.caseNumber) {
      throw ApplicationFailure.nonRetryable(
        `no document ${req.documentId} of case ${req.caseNumber}`,
        'not_found',
      );
    }
    const mediaType = String(doc.media_type);
    const extension = mediaType.startsWith('application/pdf') ? 'pdf' : 'html';
    const title = DOCUMENT_TITLES[String(doc.kind)] ?? '文书';
    return {
      filename: `${title}-${String(doc.document_number)}.${extension}`,
      content: doc.content as Buffer,
      contentType: mediaType,
    };
  }

  async function deliver(
    req: Pick<NotifyRequest, 'caseNumber' | 'eventKey'> & {
      step: NotificationStep | StaffNotificationStep;
    },
    channel: NotificationChannel,
    recipient: string,
    message: RenderedMessage,
    attachment: MailAttachment | undefined,
    party = 'applicant',
  ): Promise<SentNotification> {
    const clientReference = notificationReferenceOf(
      req.caseNumber,
      req.eventKey,
      channel,
      recipient,
      party,
    );
    const segments = channel === 'sms' ? segmentsOf(message.text) : undefined;
    await ledger.open({
      caseNumber: req.caseNumber,
      eventKey: req.eventKey,
      step: req.step,
      channel,
      recipient,
      recipientParty: party,
      clientReference,
      segments: segments ?? null,
    });
    let duplicate = false;
    const result = await ledger.sendOnce(clientReference, async () => {
      try {
        if (channel === 'sms') {
          const answer = await deps.sms!.send({
            to: recipient,
            text: message.text,
            clientReference,
          });
          duplicate = answer.duplicate;
          return {
            kind: 'accepted',
            providerReference: answer.messageId,
            status: answer.status,
            segments,
          };
        }
        const answer = await deps.mailer!.send({
          to: recipient,
          subject: message.subject ?? '',
          text: message.text,
          reference: clientReference,
          attachments: attachment ? [attachment] : undefined,
        });
        return { kind: 'accepted', providerReference: answer.messageId, status: 'accepted' };
      } catch (err) {
        if (err instanceof SmsRejectedError)
          return { kind: 'rejected', error: `${err.code}: ${err.message}` };
        if (err instanceof MailRejectedError) {
          return { kind: 'rejected', error: `smtp ${err.responseCode ?? ''}: ${err.message}` };
        }
        return { kind: 'unavailable', error: err as Error };
      }
    });
    const fields = { caseNumber: req.caseNumber, step: req.step, channel, clientReference };
    if (result.retry) throw result.retry;
    if (result.sentNow && result.status === 'failed') {
      log.warn(fields, 'notification refused for good by the provider');
    } else if (result.sentNow) {
      log.info({ ...fields, duplicate }, 'notification handed to the provider');
    }
    return { channel, status: result.status, clientReference, segments, sentNow: result.sentNow };
  }

  // A step's message for one channel, the applicant's identity and phone numbers masked.
  function renderRedacted(
    step: NotificationStep | StaffNotificationStep,
    channel: NotificationChannel,
    view: Record<string, unknown>,
    applicant: Partial<Applicant>,
  ): RenderedMessage {
    const rendered = templates.render(step, channel, view);
    return {
      subject: rendered.subject && redactPersonalData(rendered.subject, applicant),
      text: redactPersonalData(rendered.text, applicant),
    };
  }

  const staffContacts = deps.staffContacts ?? parseStaffContacts(deps.hall?.staffContacts);
  const clockNow = deps.now ?? ((): Date => new Date());
  let ownCalendar: SnapshotCalendar | undefined;
  // The register's calendar, built on first use and rebuilt when its overrides change.
  async function calendarSnapshot(): Promise<CalendarSnapshot> {
    if (deps.calendar) return deps.calendar.snapshot();
    ownCalendar ??= new SnapshotCalendar(
      () => store.listCalendarOverrides(),
      timeZone,
      () => store.calendarOverridesStamp(),
    );
    await ownCalendar.refresh();
    return ownCalendar.snapshot();
  }

  // What a staff message may name: the case number, the item, the task, its dates. Nothing of
  // the applicant: staff look the case up in the register.
  async function staffViewOf(
    req: StaffNotifyRequest,
    record: CaseRecord,
    department: string,
  ): Promise<Record<string, unknown>> {
    const item = (await db('items').where({ code: record.itemCode }).first('name')) as
      { name: string } | undefined;
    const dept = (await db('departments').where({ code: department }).first('name')) as
      { name: string } | undefined;
    let late: number | undefined;
    if (typeof req.dueAt === 'string' && !Number.isNaN(Date.parse(req.dueAt))) {
      // Counted like the supervision list: working days after the due day, up to today.
      const snapshot = await calendarSnapshot();
      const dueDay = dateInZone(new Date(req.dueAt), timeZone);
      late = workingDaysBetween(snapshot, dueDay, dateInZone(clockNow(), timeZone));
    }
    return {
      hallName,
      complaintPhone: deps.hall?.complaintPhone ?? '12345',
      caseNumber: record.caseNumber,
      itemName: item?.name ?? record.itemCode,
      departmentName: dept?.name ?? department,
      taskTitle: textOf(req.taskTitle),
      dueDate: date(req.dueAt),
      daysLate: late !== undefined && late > 0 ? late : undefined,
      daysLeft: late !== undefined && late < 0 ? -late : undefined,
      replyByDate:
        typeof req.replyBy === 'string'
          ? formatChineseDate(req.replyBy, timeZone, true)
          : undefined,
      urgingMessage: textOf(req.message),
      sentDate: date(clockNow().toISOString()),
    };
  }

  // The channels a staff contact is reached on: those it has on file that the hall runs.
  function addressesOf(contact: DutyContact): {
    reachable: { channel: NotificationChannel; address: string }[];
    off: { channel: NotificationChannel; address: string }[];
  } {
    const all: { channel: NotificationChannel; address: string }[] = [];
    if (contact.mobile) all.push({ channel: 'sms', address: toE164(contact.mobile) });
    if (contact.email) all.push({ channel: 'email', address: contact.email });
    const isOn = (c: NotificationChannel): boolean =>
      (c === 'sms' ? deps.sms : deps.mailer) !== null;
    return {
      reachable: all.filter((a) => isOn(a.channel)),
      off: all.filter((a) => !isOn(a.channel)),
    };
  }

  // A party nobody can be told at: one failed row, so supervisors see it in the failed list.
  async function recordUnaddressed(
    req: StaffNotifyRequest,
    recipient: StaffRecipient,
    channel: NotificationChannel,
    address: string,
    reason: UnaddressedParty['reason'],
  ): Promise<UnaddressedParty> {
    const why =
      reason === 'noContact'
        ? `unaddressed: no contact for ${recipient.party} in staffContacts (data/hall.json)`
        : `unaddressed: the hall runs without ${channel}`;
    await ledger.open({
      caseNumber: req.caseNumber,
      eventKey: req.eventKey,
      step: req.step,
      channel,
      recipient: address,
      recipientParty: recipient.party,
      clientReference: notificationReferenceOf(
        req.caseNumber,
        req.eventKey,
        channel,
        address,
        recipient.party,
      ),
      segments: null,
      unaddressed: why,
    });
    log.warn(
      { caseNumber: req.caseNumber, step: req.step, party: recipient.party, reason },
      'staff notification could not be addressed',
    );
    return { party: recipient.party, channel, reason };
  }

  return {
    /**
     * Tells the applicant of one step of their case on each channel they chose, once. Throws a
     * retryable failure while a provider cannot take a message (the others are still sent);
     * a provider's refusal for good (invalid number or address) is recorded as failed and
     * returned, not thrown: the case goes on, and supervisors see it in the failed list.
     */
    async notify(req: NotifyRequest): Promise<NotifyResult> {
      const record = await store.getCase(req.caseNumber);
      if (!record)
        throw ApplicationFailure.nonRetryable(`no case ${req.caseNumber}`, 'case_not_found');
      const applicant = ((await store.getApplicant(req.caseNumber)) ?? {}) as Partial<Applicant>;
      const attachment = await attachmentOf(req);
      const view = await viewOf(req, record, applicant, attachment);

      const result: NotifyResult = {
        caseNumber: req.caseNumber,
        eventKey: req.eventKey,
        step: req.step,
        notifications: [],
        skipped: [],
      };
      const unavailable: Error[] = [];
      for (const channel of CHANNELS) {
        if (!record.channels.includes(channel)) continue;
        const address = channel === 'sms' ? textOf(applicant.phone) : textOf(applicant.email);
        if (!address) {
          result.skipped.push({ channel, reason: 'noAddress' });
          continue;
        }
        if (!(channel === 'sms' ? deps.sms : deps.mailer)) {
          result.skipped.push({ channel, reason: 'channelOff' });
          continue;
        }
        const message = renderRedacted(req.step, channel, view, applicant);
        const recipient = channel === 'sms' ? toE164(address) : address;
        try {
          result.notifications.push(await deliver(req, channel, recipient, message, attachment));
        } catch (err) {
          // One channel's outage must not hold back the other: try it, then fail the attempt.
          unavailable.push(err as Error);
          log.warn(
            { caseNumber: req.caseNumber, step: req.step, channel, err: (err as Error).message },
            'notification not sent yet; the activity will be retried',
          );
        }
      }
      failIfUnavailable(unavailable);
      return result;
    },

    /**
     * Tells staff of a warning level, an urging or an unanswered urging, once per party and
     * channel (STAFF_ROUTING says who). A party with no contact on file, or only on a channel the
     * hall runs without, is recorded as unaddressed and the rest are told: the case never waits
     * on it. Throws a retryable failure while a provider cannot take a message.
     */
    async notifyStaff(req: StaffNotifyRequest): Promise<StaffNotifyResult> {
      const record = await store.getCase(req.caseNumber);
      if (!record)
        throw ApplicationFailure.nonRetryable(`no case ${req.caseNumber}`, 'case_not_found');
      const applicant = ((await store.getApplicant(req.caseNumber)) ?? {}) as Partial<Applicant>;
      const department = textOf(req.department) ?? record.department;
      const view = await staffViewOf(req, record, department);

      const result: StaffNotifyResult = {
        caseNumber: req.caseNumber,
        eventKey: req.eventKey,
        step: req.step,
        notifications: [],
        unaddressed: [],
      };
      const unavailable: Error[] = [];
      for (const recipient of staffRecipientsOf(staffContacts, req.step, department)) {
        if (!recipient.contact) {
          result.unaddressed.push(
            await recordUnaddressed(req, recipient, 'email', '', 'noContact'),
          );
          continue;
        }
        const { reachable, off } = addressesOf(recipient.contact);
        if (reachable.length === 0) {
          const first = off[0] ?? { channel: 'email' as const, address: '' };
          const reason = off.length > 0 ? 'channelOff' : 'noContact';
          result.unaddressed.push(
            await recordUnaddressed(req, recipient, first.channel, first.address, reason),
          );
          continue;
        }
        const personal = {
          ...view,
          isDepartment: recipient.audience === 'department',
          recipientName: recipient.contact.name,
        };
        for (const { channel, address } of reachable) {
          // The applicant's numbers never reach staff by message either, whatever was typed.
          const message = renderRedacted(req.step, channel, personal, applicant);
          try {
            const sent = await deliver(req, channel, address, message, undefined, recipient.party);
            result.notifications.push({ ...sent, party: recipient.party });
          } catch (err) {
            unavailable.push(err as Error);
            log.warn(
              { caseNumber: req.caseNumber, step: req.step, channel, party: recipient.party },
              'staff notification not sent yet; the activity will be retried',
            );
          }
        }
      }
      failIfUnavailable(unavailable);
      return result;
    },
  };
}

import type { Knex } from 'knex';
import type { Catalog } from './catalog/types';
import type { CaseChanges, RegisterEvent, TaskChanges } from './case/model';

/** A case row of the register, as the API shows it. */
export interface CaseRecord {
  caseNumber: string;
  itemCode: string;
  department: string;
  kind: string;
  status: string;
  outcome: string | null;
  source: string;
  applicantType: string;
  applicantName: string;
  channels: string[];
  materials: string[];
  missingMaterials: string[] | null;
  counter: string | null;
  clerk: string | null;
  receivedAt: string;
  acceptedAt: string | null;
  clockStartedAt: string | null;
  statutoryDueAt: string | null;
  promisedDueAt: string | null;
  dueProvisional: boolean;
  concludedAt: string | null;
  closedAt: string | null;
  reasonCode: string | null;
  reasons: string | null;
  competentOrgan: string | null;
  warningLevel: string;
  createdAt: string;
  updatedAt: string;
}

/** A department task row of the register. */
export interface TaskRecord {
  caseNumber: string;
  taskCode: string;
  department: string;
  itemCode: string;
  role: string;
  title: string;
  status: string;
  decision: string | null;
  reasons: string | null;
  officer: string | null;
  openedAt: string | null;
  concludedAt: string | null;
  cancelledAt: string | null;
  cancelReason: string | null;
  statutoryDueAt: string | null;
  promisedDueAt: string | null;
  dueProvisional: boolean;
  warningLevel: string;
}

/** One line of a case's audit trail. */
export interface AuditRecord {
  seq: number;
  stream: string;
  at: string;
  actor: string;
  actorRole: string;
  action: string;
  taskCode: string | null;
  details: Record<string, unknown>;
}

/** Where a page of running clocks ends: a task key, or a joint case number. */
export type ClockCursor =
  { phase: 'tasks'; caseNumber: string; taskCode: string } | { phase: 'joint'; caseNumber: string };

/** Filters of the case list. */
export interface CaseFilter {
  status?: string;
  department?: string;
  item?: string;
  page: number;
  pageSize: number;
}

const toSnake = (key: string): string => key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
const toCamel = (key: string): string =>
  key.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

const JSON_COLUMNS = new Set([
  'channels',
  'materials',
  'missing_materials',
  'applicant',
  'details',
]);

function toRow(changes: Record<string, unknown>): Record<string, unknown> {
  const row: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(changes)) {
    if (value === undefined) continue;
    const column = toSnake(key);
    row[column] = JSON_COLUMNS.has(column) ? JSON.stringify(value) : value;
  }
  return row;
}

function fromRow<T>(row: Record<string, unknown>): T {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(row)) {
    out[toCamel(key)] = value instanceof Date ? value.toISOString() : value;
  }
  return out as T;
}

/** What supervision_counts counts of a task row (on_time: concluded by its promised moment). */
const COUNTED_COLUMNS =
  'department, status, warning_level, ' +
  "(status = 'concluded' AND concluded_at <= promised_due_at) IS TRUE AS on_time";

interface CountedTask {
  department: string;
  status: string;
  warning_level: string;
  on_time: boolean;
}

/**
 * The changes one register transaction makes to supervision_counts
 * (migrations/20261203000050_supervision_counts.ts). They are applied once, as the transaction's
 * last statement, in key order: each counter row is locked for the shortest time and always in
 * the same order, so two transactions on one department queue on the row instead of
 * deadlocking, and the increment (ON CONFLICT ... tasks + excluded.tasks) reads the committed
 * value, so neither loses the other's update.
 */
class SupervisionDeltas {
  private readonly deltas = new Map<string, { row: CountedTask; tasks: number; onTime: number }>();

  add(row: CountedTask, sign: 1 | -1): void {
    const key = [row.department, row.status, row.warning_level].join('\u0000');
    const d = this.deltas.get(key) ?? { row, tasks: 0, onTime: 0 };
    d.tasks += sign;
    d.onTime += row.on_time ? sign : 0;
    this.deltas.set(key, d);
  }

  async apply(trx: Knex.Transaction): Promise<void> {
    const rows = [...this.deltas]
      .filter(([, d]) => d.tasks !== 0 || d.onTime !== 0)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([, d]) => ({
        department: d.row.department,
        status: d.row.status,
        warning_level: d.row.warning_level,
        tasks: d.tasks,
        on_time: d.onTime,
      }));
    if (rows.length === 0) return;
    await trx('supervision_counts')
      .insert(rows)
      .onConflict(['department', 'status', 'warning_level'])
      .merge({
        tasks: trx.raw('supervision_counts.tasks + excluded.tasks'),
        on_time: trx.raw('supervision_counts.on_time + excluded.on_time'),
      });
  }
}

/**
 * The register's store: every read and write of PostgreSQL goes through these intent-named
 * methods. Activities call the writes; the API calls the reads.
 */
export class RegisterStore {
  constructor(readonly db: Knex) {}

  /** Loads the validated catalog into the register; running it again changes nothing new. */
  async seedCatalog(catalog: Catalog): Promise<{ departments: number; items: number }> {
    await this.db.transaction(async (trx) => {
      const departments = [...catalog.departments.values()].map((d) => ({
        code: d.code,
        name: d.name,
        name_en: d.nameEn,
        has_own_system: d.hasOwnSystem,
      }));
      await trx('departments').insert(departments).onConflict('code').merge();
      const items = [...catalog.items.values()].map((i) => ({
        code: i.code,
        department: i.department,
        kind: i.kind,
        name: i.name,
        statutory_days: i.statutoryLimit.days,
        statutory_unit: i.statutoryLimit.unit,
        promised_days: i.promisedLimit.days,
        promised_unit: i.promisedLimit.unit,
        entry: JSON.stringify(i),
        catalog_version: catalog.version,
      }));
      await trx('items').insert(items).onConflict('code').merge();
    });
    return { departments: catalog.departments.size, items: catalog.items.size };
  }

  /**
   * Hands out the next number of the hall's day. The upsert takes the row lock, so concurrent
   * intakes queue on it and each gets its own number; a number is never handed out again.
   */
  async allocateCaseSequence(hall: string, day: string): Promise<number> {
    const rows = (await this.db('case_number_counters')
      .insert({ hall, day, last: 1 })
      .onConflict(['hall', 'day'])
      .merge({ last: this.db.raw('case_number_counters.last + 1') })
      .returning('last')) as { last: number }[];
    return rows[0].last;
  }

  /**
   * Records one event and its projection in one transaction. The audit row's unique
   * (stream, seq) makes a retried or replayed write a no-op; returns whether it was new.
   */
  async applyEvent(event: RegisterEvent): Promise<boolean> {
    return this.db.transaction(async (trx) => {
      const inserted = await trx('audit_trail')
        .insert({
          case_number: event.caseNumber,
          stream: event.stream,
          seq: event.seq,
          at: event.at,
          actor: event.actor.id,
          actor_role: event.actor.role,
          action: event.action,
          task_code: event.taskCode ?? null,
          details: JSON.stringify(event.details ?? {}),
        })
        .onConflict(['stream', 'seq'])
        .ignore()
        .returning('id');
      if (inserted.length === 0) return false;

      if (event.newCase) await this.insertCase(trx, event);
      if (event.caseChanges)
        await this.updateCase(trx, event.caseNumber, event.caseChanges, event.at);
      const counts = new SupervisionDeltas();
      for (const task of [...(event.tasks ?? []), ...(event.task ? [event.task] : [])]) {
        await this.upsertTask(trx, event.caseNumber, task, event.at, counts);
      }
      await counts.apply(trx);
      return true;
    });
  }

  private async insertCase(trx: Knex.Transaction, event: RegisterEvent): Promise<void> {
    const c = event.newCase!;
    await trx('cases').insert({
      case_number: c.caseNumber,
      item_code: c.item.code,
      department: c.item.department,
      kind: c.item.kind,
      status: 'submitted',
      source: c.source,
      applicant_type: c.applicant.type,
      applicant_name: c.applicant.name,
      applicant: JSON.stringify(c.applicant),
      channels: JSON.stringify(c.channels),
      materials: JSON.stringify(c.materials),
      counter: c.submittedBy.counter ?? null,
      clerk: c.submittedBy.id,
      received_at: c.receivedAt,
      created_at: event.at,
      updated_at: event.at,
    });
  }

  private async updateCase(
    trx: Knex.Transaction,
    caseNumber: string,
    changes: CaseChanges,
    at: string,
  ): Promise<void> {
    await trx('cases')
      .where({ case_number: caseNumber })
      .update({ ...toRow({ ...changes }), updated_at: at });
  }

  private async upsertTask(
    trx: Knex.Transaction,
    caseNumber: string,
    task: TaskChanges,
    at: string,
    counts: SupervisionDeltas,
  ): Promise<void> {
    const row = { ...toRow({ ...task }), case_number: caseNumber, updated_at: at };
    const key = { case_number: caseNumber, task_code: task.taskCode };
    // The row lock makes the counts' "before" the version this write replaces.
    const before = (await trx('department_tasks')
      .where(key)
      .forUpdate()
      .first(trx.raw(COUNTED_COLUMNS))) as CountedTask | undefined;
    const [after] = (
      before
        ? await trx('department_tasks').where(key).update(row).returning(trx.raw(COUNTED_COLUMNS))
        : await trx('department_tasks').insert(row).returning(trx.raw(COUNTED_COLUMNS))
    ) as CountedTask[];
    if (before) counts.add(before, -1);
    counts.add(after, 1);
  }

  /** One case of the register, or undefined. */
  async getCase(caseNumber: string): Promise<CaseRecord | undefined> {
    const row = (await this.db('cases').where({ case_number: caseNumber }).first()) as
      Record<string, unknown> | undefined;
    if (!row) return undefined;
    delete row.applicant;
    return fromRow<CaseRecord>(row);
  }

  /** The applicant of a case as recorded (personal data: for documents and notifications). */
  async getApplicant(caseNumber: string): Promise<Record<string, unknown> | undefined> {
    const row = (await this.db('cases').where({ case_number: caseNumber }).first('applicant')) as
      { applicant: Record<string, unknown> } | undefined;
    return row?.applicant;
  }

  /** The department tasks of a case, in the order they were opened. */
  async getTasks(caseNumber: string): Promise<TaskRecord[]> {
    const rows = (await this.db('department_tasks')
      .where({ case_number: caseNumber })
      .orderBy([{ column: 'opened_at', order: 'asc', nulls: 'last' }, 'task_code'])) as Record<
      string,
      unknown
    >[];
    return rows.map((r) => fromRow<TaskRecord>(r));
  }

  /** The audit trail of a case: who did what, when. */
  async getTimeline(caseNumber: string): Promise<AuditRecord[]> {
    const rows = (await this.db('audit_trail')
      .where({ case_number: caseNumber })
      .orderBy([{ column: 'at' }, { column: 'id' }])
      .select(
        'seq',
        'stream',
        'at',
        'actor',
        'actor_role',
        'action',
        'task_code',
        'details',
      )) as Record<string, unknown>[];
    return rows.map((r) => fromRow<AuditRecord>(r));
  }

  /** A page of cases, newest first, with the total count for the filter. */
  async listCases(filter: CaseFilter): Promise<{ total: number; cases: CaseRecord[] }> {
    const base = this.db('cases').modify((q) => {
      if (filter.status) q.where('status', filter.status);
      if (filter.item) q.where('item_code', filter.item);
      if (filter.department) {
        // A department sees the cases it leads and the joint cases it holds a task in.
        q.where((w) => {
          void w.where('department', filter.department!).orWhereExists((sub) => {
            void sub
              .select(this.db.raw('1'))
              .from('department_tasks')
              .whereRaw('department_tasks.case_number = cases.case_number')
              .andWhere('department_tasks.department', filter.department!);
          });
        });
      }
    });
    const [{ count }] = (await base.clone().count({ count: '*' })) as { count: string }[];
    const rows = (await base
      .clone()
      .orderBy([
        { column: 'created_at', order: 'desc' },
        { column: 'case_number', order: 'desc' },
      ])
      .limit(filter.pageSize)
      .offset((filter.page - 1) * filter.pageSize)
      .select(this.db.raw('cases.*'))) as Record<string, unknown>[];
    return {
      total: Number(count),
      cases: rows.map((r) => {
        delete r.applicant;
        return fromRow<CaseRecord>(r);
      }),
    };
  }

  /** The hall's calendar entries, oldest first (a later one for the same date wins). */
  async listCalendarOverrides(): Promise<
    { date: string; kind: 'closed' | 'open'; reason: string; author: string }[]
  > {
    return (await this.db('calendar_overrides')
      .orderBy('id')
      .select('date', 'kind', 'reason', 'author')) as {
      date: string;
      kind: 'closed' | 'open';
      reason: string;
      author: string;
    }[];
  }

  /** A cheap fingerprint of the overrides: changes whenever one is added. */
  async calendarOverridesStamp(): Promise<string> {
    const [row] = (await this.db('calendar_overrides').max({ id: 'id' }).count({ n: '*' })) as {
      id: string | null;
      n: string;
    }[];
    return `${row.id ?? 0}:${row.n}`;
  }

  /** Adds a calendar entry of the hall. */
  async addCalendarOverride(entry: {
    date: string;
    kind: 'closed' | 'open';
    reason: string;
    author: string;
  }): Promise<void> {
    await this.db('calendar_overrides').insert(entry);
  }

  /**
   * One page of the running clocks (open tasks, then accepted joint cases) after `after`, in
   * key order, for a calendar re-arm; `next` is null after the last page.
   */
  async runningClockPage(
    after: ClockCursor | null,
    limit: number,
  ): Promise<{ ids: string[]; next: ClockCursor | null }> {
    const cursor = after ?? { phase: 'tasks' as const, caseNumber: '', taskCode: '' };
    if (cursor.phase === 'tasks') {
      const rows = (await this.db('department_tasks')
        .where('status', 'open')
        .whereRaw('(case_number, task_code) > (?, ?)', [cursor.caseNumber, cursor.taskCode])
        .orderBy(['case_number', 'task_code'])
        .limit(limit)
        .select('case_number', 'task_code')) as { case_number: string; task_code: string }[];
      const last = rows[rows.length - 1];
      return {
        ids: rows.map((r) => `${r.case_number}/${r.task_code}`),
        next:
          rows.length < limit
            ? { phase: 'joint', caseNumber: '' }
            : { phase: 'tasks', caseNumber: last.case_number, taskCode: last.task_code },
      };
    }
    const rows = (await this.db('cases')
      .where({ status: 'accepted', kind: 'joint' })
      .where('case_number', '>', cursor.caseNumber)
      .orderBy('case_number')
      .limit(limit)
      .select('case_number')) as { case_number: string }[];
    const ids = rows.map((r) => r.case_number);
    return {
      ids,
      next: rows.length < limit ? null : { phase: 'joint', caseNumber: ids[ids.length - 1] },
    };
  }

  /** The supervision counts by department, task status and warning level (tasks > 0 only). */
  async supervisionCounts(): Promise<
    { department: string; status: string; warningLevel: string; tasks: number; onTime: number }[]
  > {
    const rows = (await this.db('supervision_counts')
      .where('tasks', '>', 0)
      .select('department', 'status', 'warning_level', 'tasks', 'on_time')) as {
      department: string;
      status: string;
      warning_level: string;
      tasks: string;
      on_time: string;
    }[];
    return rows.map((r) => ({
      department: r.department,
      status: r.status,
      warningLevel: r.warning_level,
      tasks: Number(r.tasks),
      onTime: Number(r.on_time),
    }));
  }

  /** A durable setting of the hall, or undefined. */
  async getSetting(key: string): Promise<string | undefined> {
    const row = (await this.db('hall_settings').where({ key }).first('value')) as
      { value: string } | undefined;
    return row?.value;
  }

  /** Writes a durable setting of the hall. */
  async setSetting(key: string, value: string): Promise<void> {
    await this.db('hall_settings')
      .insert({ key, value, updated_at: this.db.fn.now() })
      .onConflict('key')
      .merge();
  }

  /** Counts of cases by outcome and department, for the summary. */
  async countByOutcome(): Promise<
    { department: string; status: string; outcome: string | null; n: number }[]
  > {
    const rows = (await this.db('cases')
      .select('department', 'status', 'outcome')
      .count({ n: '*' })
      .groupBy('department', 'status', 'outcome')
      .orderBy(['department', 'status'])) as {
      department: string;
      status: string;
      outcome: string | null;
      n: string;
    }[];
    return rows.map((r) => ({ ...r, n: Number(r.n) }));
  }
}

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import type { Catalog, ClockStart, Department, Item, Limit, TaskTemplate } from './types';

const limitSchema = z.object({
  days: z.number().int().min(0),
  unit: z.enum(['workingDays', 'calendarDays']),
});

const rawItemSchema = z.object({
  code: z.string().regex(/^[a-z0-9-]+$/),
  name: z.string().min(1),
  nameEn: z.string().min(1),
  department: z.string().min(1),
  kind: z.enum(['immediate', 'promised', 'joint', 'reported']),
  statutoryLimit: limitSchema.extend({
    onTheSpot: z.boolean().optional(),
    clockStartsAt: z.string().optional(),
  }),
  extension: limitSchema
    .extend({ approver: z.enum(['headOfOrgan', 'headOfGovernment']) })
    .nullable()
    .optional(),
  // article is null where the law is named but its article number was not verified.
  legalBasis: z
    .array(z.object({ source: z.string(), article: z.string().nullable().optional() }))
    .min(1),
  materials: z.array(z.object({ code: z.string(), name: z.string(), nameEn: z.string() })),
  fees: z.array(
    z.object({
      code: z.string(),
      name: z.string(),
      amountCNY: z.number().positive(),
      per: z.string(),
      legalBasis: z.string(),
    }),
  ),
  needsTicket: z.boolean().default(false),
  tasks: z
    .array(
      z.object({
        department: z.string(),
        item: z.string(),
        role: z.enum(['lead', 'related']),
        task: z.string(),
        statutoryLimit: limitSchema.extend({ onTheSpot: z.boolean().optional() }),
        dependsOn: z.array(z.string()).optional(),
      }),
    )
    .optional(),
});

const rawCatalogSchema = z.object({
  version: z.string(),
  hall: z.object({ code: z.string(), name: z.string(), timezone: z.string() }),
  departments: z.array(
    z.object({
      code: z.string(),
      name: z.string(),
      nameEn: z.string(),
      hasOwnSystem: z.boolean(),
    }),
  ),
  items: z.array(z.unknown()),
});

const rawPromisesSchema = z.object({
  version: z.string(),
  promisedLimits: z.record(z.string(), limitSchema),
});

/** Raised when the catalog or the promised limits have bad entries; lists every one of them. */
export class CatalogError extends Error {
  override readonly name = 'CatalogError';
  readonly code = 'catalog_invalid';
  constructor(readonly problems: string[]) {
    super(`the catalog has ${problems.length} problem(s):\n  ${problems.join('\n  ')}`);
  }
}

// "unspecified (receipt of complete materials)" still means the day complete materials are in,
// which is acceptance; only texts that name receipt of the application count from receipt.
function clockStartOf(text: string | undefined): ClockStart {
  return text?.startsWith('receipt') ? 'receipt' : 'acceptance';
}

function checkPromise(where: string, statutory: Limit, promised: Limit, problems: string[]): void {
  if (promised.unit !== statutory.unit) {
    problems.push(
      `${where}: promised limit is in ${promised.unit}, statutory in ${statutory.unit}`,
    );
  } else if (promised.days > statutory.days) {
    problems.push(
      `${where}: promised ${promised.days} ${promised.unit} exceeds statutory ${statutory.days}`,
    );
  }
}

/** Finds a dependency cycle among tasks (a catalog error: such a case could never conclude). */
function findCycle(tasks: TaskTemplate[]): string[] | null {
  const byCode = new Map(tasks.map((t) => [t.code, t]));
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const visit = (code: string): string[] | null => {
    if (state.get(code) === 'done') return null;
    if (state.get(code) === 'visiting') return [...stack.slice(stack.indexOf(code)), code];
    state.set(code, 'visiting');
    stack.push(code);
    for (const dep of byCode.get(code)?.dependsOn ?? []) {
      const cycle = visit(dep);
      if (cycle) return cycle;
    }
    stack.pop();
    state.set(code, 'done');
    return null;
  };
  for (const t of tasks) {
    const cycle = visit(t.code);
    if (cycle) return cycle;
  }
  return null;
}

/**
 * Validates and normalises the raw catalog and promised limits. Every bad entry is collected
 * and reported at once, so an administrator fixes the file in one pass.
 */
export function buildCatalog(rawCatalog: unknown, rawPromises: unknown): Catalog {
  const problems: string[] = [];
  const cat = rawCatalogSchema.safeParse(rawCatalog);
  const prom = rawPromisesSchema.safeParse(rawPromises);
  if (!cat.success) {
    for (const i of cat.error.issues) problems.push(`catalog ${i.path.join('.')}: ${i.message}`);
  }
  if (!prom.success) {
    for (const i of prom.error.issues) problems.push(`promises ${i.path.join('.')}: ${i.message}`);
  }
  if (!cat.success || !prom.success) throw new CatalogError(problems);

  const departments = new Map<string, Department>();
  for (const d of cat.data.departments) {
    if (departments.has(d.code)) problems.push(`department ${d.code}: listed twice`);
    departments.set(d.code, d);
  }

  const rawItems = new Map<string, z.infer<typeof rawItemSchema>>();
  // Codes of every entry, parsed or not, so one bad item is not reported again by its referrers.
  const listedCodes = new Set(cat.data.items.map((e) => (e as { code?: string })?.code));
  cat.data.items.forEach((entry, index) => {
    const parsed = rawItemSchema.safeParse(entry);
    const label = (entry as { code?: string })?.code ?? `#${index}`;
    if (!parsed.success) {
      for (const i of parsed.error.issues)
        problems.push(`item ${label} ${i.path.join('.')}: ${i.message}`);
      return;
    }
    if (rawItems.has(parsed.data.code)) problems.push(`item ${label}: listed twice`);
    if (!departments.has(parsed.data.department)) {
      problems.push(`item ${label}: unknown department ${parsed.data.department}`);
    }
    rawItems.set(parsed.data.code, parsed.data);
  });

  const promised = prom.data.promisedLimits;
  for (const code of Object.keys(promised)) {
    if (!listedCodes.has(code)) problems.push(`promises ${code}: no such item in the catalog`);
  }

  const items = new Map<string, Item>();
  for (const raw of rawItems.values()) {
    const statutory: Limit = { days: raw.statutoryLimit.days, unit: raw.statutoryLimit.unit };
    const promisedLimit = promised[raw.code] ?? statutory;
    checkPromise(`item ${raw.code}`, statutory, promisedLimit, problems);
    const clockStartsAt = clockStartOf(raw.statutoryLimit.clockStartsAt);
    if (raw.extension && raw.extension.unit !== statutory.unit) {
      problems.push(
        `item ${raw.code}: extension in ${raw.extension.unit}, limit in ${statutory.unit}`,
      );
    }

    let tasks: TaskTemplate[];
    if (raw.kind === 'joint') {
      tasks = (raw.tasks ?? []).map((t) => {
        const taskItem = rawItems.get(t.item);
        const taskStatutory: Limit = { days: t.statutoryLimit.days, unit: t.statutoryLimit.unit };
        const taskPromised = promised[t.item] ?? taskStatutory;
        if (!listedCodes.has(t.item))
          problems.push(`item ${raw.code} task ${t.item}: no such item`);
        if (!departments.has(t.department)) {
          problems.push(`item ${raw.code} task ${t.item}: unknown department ${t.department}`);
        }
        checkPromise(`item ${raw.code} task ${t.item}`, taskStatutory, taskPromised, problems);
        return {
          code: t.item,
          department: t.department,
          itemCode: t.item,
          role: t.role,
          title: t.task,
          statutoryLimit: taskStatutory,
          promisedLimit: taskPromised,
          clockStartsAt: clockStartOf(taskItem?.statutoryLimit.clockStartsAt),
          dependsOn: t.dependsOn ?? [],
          extension: taskItem?.extension ?? null,
        };
      });
      if (tasks.length === 0) problems.push(`item ${raw.code}: a joint item needs tasks`);
      const codes = new Set(tasks.map((t) => t.code));
      if (codes.size !== tasks.length) problems.push(`item ${raw.code}: a task is listed twice`);
      for (const t of tasks) {
        for (const dep of t.dependsOn) {
          if (!codes.has(dep))
            problems.push(`item ${raw.code} task ${t.code}: depends on unknown ${dep}`);
        }
      }
      const cycle = findCycle(tasks);
      if (cycle) problems.push(`item ${raw.code}: task dependency cycle ${cycle.join(' -> ')}`);
    } else {
      tasks = [
        {
          code: raw.code,
          department: raw.department,
          itemCode: raw.code,
          role: 'lead',
          title: raw.name,
          statutoryLimit: statutory,
          promisedLimit,
          clockStartsAt,
          dependsOn: [],
          extension: raw.extension ?? null,
        },
      ];
    }

    items.set(raw.code, {
      code: raw.code,
      name: raw.name,
      nameEn: raw.nameEn,
      department: raw.department,
      kind: raw.kind,
      statutoryLimit: statutory,
      promisedLimit,
      onTheSpot: raw.statutoryLimit.onTheSpot ?? false,
      clockStartsAt,
      extension: raw.extension ?? null,
      legalBasis: raw.legalBasis,
      materials: raw.materials,
      fees: raw.fees,
      needsTicket: raw.needsTicket,
      tasks,
    });
  }

  if (problems.length > 0) throw new CatalogError(problems);
  const version = createHash('sha256')
    .update(JSON.stringify([cat.data.version, prom.data]))
    .digest('hex')
    .slice(0, 12);
  return { version: `${cat.data.version}+${version}`, hall: cat.data.hall, departments, items };
}

/** Reads and validates the catalog shipped in (or configured as) the data folder. */
export function loadCatalog(dataPath: string): Catalog {
  const read = (name: string): unknown =>
    JSON.parse(readFileSync(path.join(dataPath, name), 'utf8')) as unknown;
  return buildCatalog(read('catalog.json'), read('promises.json'));
}

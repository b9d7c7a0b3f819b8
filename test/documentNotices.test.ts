/**
 * The notices of a running case (extension, special procedure, urging) as the document service
 * issues them: a case in a fresh register, the event's details as the workflow passes them, the
 * real templates and Chromium, and the PDF read back with pdftotext.
 */
import { ApplicationFailure } from '@temporalio/common';
import anyTest, { type ExecutionContext, type TestFn } from 'ava';
import type { Knex } from 'knex';

import type { IssueRequest } from '../activities/documents';
import { snapshotItem } from '../api/cases/submit';
import type { Actor, CaseInput } from '../lib/case/model';
import { loadCatalog } from '../lib/catalog/load';
import { loadConfig } from '../lib/config';
import { PdfRenderer } from '../lib/documents/renderer';
import { TemplateSet } from '../lib/documents/templates';
import { buildCompany } from './support/builders';
import { documentServiceOf, squashedPdfText } from './support/documents';
import { freshRegister, recordSubmission } from './support/register';

const test = anyTest as TestFn<{ renderer: PdfRenderer }>;

const config = loadConfig({ ...process.env, LOG_LEVEL: 'silent' });
const catalog = loadCatalog(config.DATA_PATH);
const templates = TemplateSet.load();
const clerk: Actor = { id: 'clerk-07', role: 'clerk', counter: '综合受理区A12号窗口' };
const applicant = buildCompany({ name: '深圳市示例餐饮管理有限公司' });

// One browser for the file: a launch costs a second, and each test only prints one document.
test.before((t) => {
  t.context.renderer = new PdfRenderer({ poolSize: 1 });
});
test.after.always((t) => t.context.renderer.close());

/**
 * A fresh register holding one accepted case of the item, recorded as the case workflow does:
 * 'submitted' with the new case, 'accepted' with the clock, then the planned tasks.
 */
async function acceptedCase(t: ExecutionContext<{ renderer: PdfRenderer }>, itemCode: string) {
  const { db, store } = await freshRegister(t, catalog);
  const item = catalog.items.get(itemCode)!;
  const caseNumber = 'SZSMZX-20261016-00012';
  const input: CaseInput = {
    caseNumber,
    item: snapshotItem(item),
    applicant,
    channels: ['sms'],
    materials: item.materials.map((m) => m.code),
    receivedAt: '2026-10-16T01:30:00.000Z',
    source: 'counter',
    submittedBy: clerk,
  };
  const stream = caseNumber;
  await recordSubmission(store, input);
  await store.applyEvent({
    caseNumber,
    stream,
    seq: 2,
    at: '2026-10-16T02:05:00.000Z',
    actor: clerk,
    action: 'accepted',
    caseChanges: {
      status: 'accepted',
      acceptedAt: '2026-10-16T02:05:00.000Z',
      clockStartedAt: '2026-10-16T02:05:00.000Z',
      statutoryDueAt: '2026-10-30T15:59:59.999Z',
      promisedDueAt: '2026-10-23T15:59:59.999Z',
      dueProvisional: false,
      counter: clerk.counter,
      clerk: clerk.id,
    },
  });
  await store.applyEvent({
    caseNumber,
    stream,
    seq: 3,
    at: '2026-10-16T02:05:00.000Z',
    actor: { id: 'onedoor', role: 'system' },
    action: 'tasksPlanned',
    tasks: item.tasks.map((task) => ({
      taskCode: task.code,
      department: task.department,
      itemCode: task.itemCode,
      role: task.role,
      title: task.title,
      status: 'waiting',
    })),
  });

  const { renderer } = t.context;
  const service = documentServiceOf({ db, store, catalog }, { templates, renderer, config });
  return { db, service, caseNumber, stream };
}

async function pdfTextOf(t: ExecutionContext, db: Knex, id: string): Promise<string> {
  const row = (await db('documents').where({ id }).first()) as {
    content: Buffer;
    media_type: string;
  };
  t.is(row.media_type, 'application/pdf');
  return squashedPdfText(t, row.content);
}

function assertContains(t: ExecutionContext, text: string, expected: readonly string[]): void {
  for (const fragment of expected) {
    t.true(text.includes(fragment.replace(/\s+/g, '')), `PDF text lacks ${fragment}`);
  }
}

test('an extension notice gives the reasons, days added, approver and new date', async (t) => {
  const { db, service, caseNumber, stream } = await acceptedCase(t, 'market-food-business-licence');
  const request: IssueRequest = {
    caseNumber,
    kind: 'extensionNotice',
    eventKey: `${stream}#4`,
    // As the 'extended' event records it, with the approver of the item's extension.
    details: {
      days: 5,
      unit: 'workingDays',
      reason: '现场核查发现经营场所布局需要重新论证\n需补充核查食品贮存条件',
      statutoryDueAt: '2026-11-06T15:59:59.999Z',
      promisedDueAt: '2026-10-30T15:59:59.999Z',
      dueProvisional: false,
      approver: 'headOfOrgan',
    },
  };
  const issued = await service.issue(request);
  t.regex(issued.documentNumber, /^SZSMZX-YQ-\d{8}-\d{6}$/);
  t.is(issued.kind, 'extensionNotice');

  const text = await pdfTextOf(t, db, issued.id);
  assertContains(t, text, [
    '延期告知书',
    issued.documentNumber,
    caseNumber,
    applicant.name,
    '食品经营许可',
    '受理时间2026年10月16日10:05',
    '现场核查发现经营场所布局需要重新论证',
    '需补充核查食品贮存条件',
    '经本机关负责人批准，办理期限延长5个工作日',
    '原法定办结时限10个工作日',
    '延长后法定办结日期2026年11月6日',
    '延长后承诺办结日期2026年10月30日',
    '深圳市市场监督管理局',
  ]);
  t.false(text.includes('暂定'), 'the dates rest on a published calendar');

  const again = await service.issue(request);
  t.is(again.documentNumber, issued.documentNumber, 'the same event keeps its one notice');
});

test('a suspension notice: the procedure in Chinese, its expected time, not counted', async (t) => {
  const { db, service, caseNumber, stream } = await acceptedCase(t, 'market-food-business-licence');
  const issued = await service.issue({
    caseNumber,
    kind: 'suspensionNotice',
    eventKey: `${stream}#4`,
    details: { procedure: 'quarantine', reason: '进口冷链食品需检疫', expectedDays: 20 },
  });
  t.regex(issued.documentNumber, /^SZSMZX-TB-\d{8}-\d{6}$/);

  const text = await pdfTextOf(t, db, issued.id);
  assertContains(t, text, [
    '特别程序告知书',
    issued.documentNumber,
    caseNumber,
    applicant.name,
    '依法需要进行检疫',
    '进口冷链食品需检疫',
    '特别程序检疫',
    '预计所需时间20日',
    '检疫所需时间不计算在行政许可的期限内',
    '第四十五条',
  ]);
});

test('an urging notice gives the task’s department the message and reply deadline', async (t) => {
  const { db, service, caseNumber, stream } = await acceptedCase(t, 'joint-open-restaurant');
  const issued = await service.issue({
    caseNumber,
    kind: 'urgingNotice',
    eventKey: `${stream}/fire-public-assembly-check-commitment#2`,
    details: {
      taskCode: 'fire-public-assembly-check-commitment',
      department: 'fire',
      message: '该任务已临近承诺办结日期，请说明办理进度。',
      replyBy: '2026-10-21T09:00:00.000Z',
      urgedBy: 'sup-01',
    },
  });
  t.regex(issued.documentNumber, /^SZSMZX-DB-\d{8}-\d{6}$/);

  const text = await pdfTextOf(t, db, issued.id);
  assertContains(t, text, [
    '督办通知单',
    issued.documentNumber,
    `案件编号${caseNumber}`,
    '深圳市消防救援支队：',
    '督办事项营业前消防安全检查（告知承诺，饭店属公众聚集场所）',
    '该任务已临近承诺办结日期，请说明办理进度。',
    '回复期限2026年10月21日17:00',
    '督办人sup-01',
    '请于2026年10月21日17:00前将办理情况',
    '深圳市行政服务大厅',
  ]);
  t.false(text.includes(`${applicant.name}：`), 'the applicant is not the addressee');
});

test('a notice whose event lacks a legal field is refused, and nothing is stored', async (t) => {
  const { db, service, caseNumber, stream } = await acceptedCase(t, 'market-food-business-licence');
  const refusals: Array<[IssueRequest, RegExp]> = [
    [
      {
        caseNumber,
        kind: 'extensionNotice',
        eventKey: `${stream}#4`,
        details: { days: 5, unit: 'workingDays', reason: ' ', approver: 'headOfOrgan' },
      },
      /reasons, statutoryDueDate/,
    ],
    [
      {
        caseNumber,
        kind: 'suspensionNotice',
        eventKey: `${stream}#5`,
        details: { procedure: 'survey', reason: '需要勘察' },
      },
      /procedure, expectedDuration/,
    ],
    [
      {
        caseNumber,
        kind: 'urgingNotice',
        eventKey: `${stream}#6`,
        details: { message: '请说明进度', replyBy: 'next week' },
      },
      /replyBy, urgedBy/,
    ],
  ];
  for (const [request, missing] of refusals) {
    const error = await t.throwsAsync(() => service.issue(request), {
      instanceOf: ApplicationFailure,
    });
    t.is(error?.type, 'document_incomplete', request.kind);
    t.true(error?.nonRetryable, `${request.kind}: retrying cannot complete it`);
    t.regex(error?.message ?? '', missing);
  }
  t.is(Number((await db('documents').count({ n: '*' }))[0].n), 0);
});

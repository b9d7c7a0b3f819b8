// Renders the real templates to PDF through the real Chromium and reads the result back with
// poppler, so a test passes only if the text is really in the PDF, as mapped glyphs.
import { execFile, spawnSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import test, { type ExecutionContext } from 'ava';
import QRCode from 'qrcode';

import { fontconfigFileOf, PdfRenderer } from './renderer';
import {
  assertComplete,
  DocumentIncompleteError,
  REQUIRED_FIELDS,
  type ApprovalNoticeData,
  type CorrectionNoticeData,
  type DenialDecisionData,
  type DocumentBase,
  type DocumentKind,
  type ExtensionNoticeData,
  type ReceiptData,
  type RefusalNoticeData,
  type SuspensionNoticeData,
  type UrgingNoticeData,
} from './requirements';
import { qrImageDataUrl, TEMPLATE_DIR, TemplateSet } from './templates';

const run = promisify(execFile);
const templates = TemplateSet.load();

const base: DocumentBase = {
  documentNumber: '深政务受〔2026〕第000123号',
  caseNumber: 'SZ2026-0001234',
  verificationCode: 'K7Q29XMA',
  verifyUrl: 'http://127.0.0.1:3000/verify/SZ2026-0001234-R?code=K7Q29XMA',
  issuingOrgan: '深圳市市场监督管理局',
  issuedDate: '2026年10月16日',
  sealName: '深圳市行政服务大厅受理专用章',
  complaintPhone: '0755-12345',
  applicant: { name: '深圳市示例贸易有限公司002', idNumber: '91440300MA5000022Q' },
  itemName: '食品经营许可证核发',
};

const receipt: ReceiptData = {
  ...base,
  receivedAt: '2026年10月16日 09:30',
  acceptedAt: '2026年10月16日 10:05',
  limitCountsFrom: 'accepted',
  statutoryLimit: '20个工作日',
  promisedLimit: '5个工作日',
  promisedDate: '2026年10月23日',
  promisedDateProvisional: true,
  fees: [],
  progressChannels: ['“i深圳”App'],
  counter: '综合受理区A12号窗口',
  clerk: '李明',
};

const correction: CorrectionNoticeData = {
  ...base,
  documentNumber: '深政务补〔2026〕第000045号',
  receivedAt: '2026年10月16日 09:30',
  missingMaterials: [
    { name: '食品安全管理制度文本', requirement: '加盖公章的原件1份' },
    { name: '经营场所平面布局图' },
  ],
  correctionDeadline: '2026年10月30日',
  counter: '综合受理区A12号窗口',
  clerk: '李明',
};

const refusal: RefusalNoticeData = {
  ...base,
  documentNumber: '深政务不受〔2026〕第000007号',
  receivedAt: '2026年10月16日 09:30',
  reasons: ['申请事项依法不需要取得行政许可', '申请事项依法不属于本机关职权范围'],
  legalBasis: '《中华人民共和国行政许可法》第三十二条第一款第（二）项',
  competentOrgan: '深圳市规划和自然资源局',
  reviewOrgan: '深圳市人民政府',
  court: '深圳市福田区人民法院',
};

const denial: DenialDecisionData = {
  ...base,
  documentNumber: '深市监不许〔2026〕第000003号',
  acceptedAt: '2026年10月16日',
  reasons: ['经现场核查，经营场所与污染源距离不符合食品安全要求'],
  reviewOrgan: '深圳市人民政府',
  court: '深圳市福田区人民法院',
};

const approval: ApprovalNoticeData = {
  ...base,
  documentNumber: '深市监许〔2026〕第000088号',
  acceptedAt: '2026年10月16日',
  grant: '准予核发《食品经营许可证》',
  licenceNumber: 'JY14403000000888',
  validity: '自2026年10月23日至2031年10月22日',
  collectionPlace: '深圳市行政服务大厅一楼出件窗口',
  collectionHours: '工作日9:00—12:00、14:00—18:00',
  collectionRequirements: '本决定书及申请人身份证件原件',
};

const extension: ExtensionNoticeData = {
  ...base,
  documentNumber: 'SZSMZX-YQ-20261030-000051',
  acceptedAt: '2026年10月16日 10:05',
  statutoryLimit: '20个工作日',
  extension: '10个工作日',
  reasons: ['现场核查发现经营场所布局需要重新论证'],
  approver: '本机关负责人',
  statutoryDueDate: '2026年11月27日',
  promisedDueDate: '2026年11月20日',
};

const suspension: SuspensionNoticeData = {
  ...base,
  documentNumber: 'SZSMZX-TB-20261030-000052',
  acceptedAt: '2026年10月16日 10:05',
  procedure: '专家评审',
  reasons: ['经营工艺涉及新型食品原料，需组织专家评审'],
  expectedDuration: '30日',
};

const urging: UrgingNoticeData = {
  ...base,
  documentNumber: 'SZSMZX-DB-20261030-000053',
  issuingOrgan: '深圳市行政服务大厅',
  department: '深圳市市场监督管理局',
  taskName: '食品经营许可审查',
  message: '该案件已临近承诺办结日期，请说明办理进度。',
  replyBy: '2026年10月21日 17:00',
  urgedBy: 'sup-01',
  dueDate: '2026年10月23日',
};

// pdftotext -layout breaks lines and pads columns; compare with all whitespace removed.
const squash = (s: string): string => s.replace(/\s+/g, '');

async function tempDir(t: ExecutionContext): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'onedoor-doc-test-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function pdfText(t: ExecutionContext, pdf: Buffer, name: string): Promise<string> {
  const file = path.join(await tempDir(t), `${name}.pdf`);
  await writeFile(file, pdf);
  const { stdout } = await run('pdftotext', ['-layout', '-enc', 'UTF-8', file, '-']);
  return stdout;
}

function assertContains(t: ExecutionContext, text: string, expected: readonly string[]): void {
  const flat = squash(text);
  for (const fragment of expected) {
    t.true(flat.includes(squash(fragment)), `PDF text lacks ${JSON.stringify(fragment)}`);
  }
}

function newRenderer(t: ExecutionContext, options?: ConstructorParameters<typeof PdfRenderer>[0]) {
  const renderer = new PdfRenderer(options);
  t.teardown(() => renderer.close());
  return renderer;
}

const remedies = (text: string): boolean => /六十日|60日/.test(text) && /六个月|6个月/.test(text);

test.serial('every document kind renders to a PDF carrying its legal fields', async (t) => {
  const renderer = newRenderer(t);
  const common = [base.caseNumber, base.applicant.name, base.itemName, base.issuedDate];
  const docs = [
    {
      kind: 'receipt',
      html: templates.render('receipt', receipt),
      expect: [
        '受理通知书',
        receipt.documentNumber,
        receipt.receivedAt,
        receipt.acceptedAt,
        '20个工作日',
        '5个工作日',
        '2026年10月23日（暂定）',
        '收费项目无',
        receipt.counter,
        receipt.clerk,
        base.verificationCode,
        '深圳市行政服务大厅',
        base.sealName,
        base.complaintPhone,
      ],
    },
    {
      kind: 'correctionNotice',
      html: templates.render('correctionNotice', correction),
      expect: [
        '补正材料通知书',
        correction.documentNumber,
        '食品安全管理制度文本',
        '加盖公章的原件1份',
        '经营场所平面布局图',
        '2026年10月30日',
      ],
    },
    {
      kind: 'refusalNotice',
      html: templates.render('refusalNotice', refusal),
      expect: [
        '不予受理通知书',
        refusal.documentNumber,
        ...refusal.reasons,
        '深圳市规划和自然资源局',
        '行政复议法',
        '行政诉讼法',
        '深圳市人民政府',
        '深圳市福田区人民法院',
      ],
    },
    {
      kind: 'denialDecision',
      html: templates.render('denialDecision', denial),
      expect: [
        '不予许可决定书',
        denial.documentNumber,
        ...denial.reasons,
        '深圳市人民政府',
        '深圳市福田区人民法院',
      ],
    },
    {
      kind: 'approvalNotice',
      html: templates.render('approvalNotice', approval),
      expect: [
        '准予许可决定书',
        approval.documentNumber,
        '准予核发《食品经营许可证》',
        'JY14403000000888',
        '深圳市行政服务大厅一楼出件窗口',
      ],
    },
    {
      kind: 'extensionNotice',
      html: templates.render('extensionNotice', extension),
      expect: [
        '延期告知书',
        extension.documentNumber,
        ...extension.reasons,
        '经本机关负责人批准，办理期限延长10个工作日',
        '延长后法定办结日期2026年11月27日',
        '延长后承诺办结日期2026年11月20日',
        '第四十二条',
      ],
    },
    {
      kind: 'suspensionNotice',
      html: templates.render('suspensionNotice', suspension),
      expect: [
        '特别程序告知书',
        suspension.documentNumber,
        ...suspension.reasons,
        '特别程序专家评审',
        '预计所需时间30日',
        '专家评审所需时间不计算在行政许可的期限内',
        '第四十五条',
      ],
    },
    {
      kind: 'urgingNotice',
      html: templates.render('urgingNotice', urging),
      expect: [
        '督办通知单',
        urging.documentNumber,
        '深圳市市场监督管理局：',
        '督办事项食品经营许可审查',
        urging.message,
        '回复期限2026年10月21日17:00',
        '督办人sup-01',
        '深圳市行政服务大厅',
      ],
    },
  ];
  // All at once, so the two pages of the pool really work in parallel.
  const pdfs = await Promise.all(docs.map((doc) => renderer.render(doc.html)));
  for (const [i, doc] of docs.entries()) {
    const pdf = pdfs[i];
    t.is(pdf.subarray(0, 5).toString('latin1'), '%PDF-', doc.kind);
    const text = await pdfText(t, pdf, doc.kind);
    assertContains(t, text, [...common, ...doc.expect]);
    if (doc.kind === 'refusalNotice' || doc.kind === 'denialDecision') {
      t.true(remedies(text), `${doc.kind} names the 60-day review and 6-month suit limits`);
    }
  }
  t.true(renderer.stats().pagesOpened <= 2, 'the pool never exceeds its size');
});

test('the urging notice is addressed to the department, not to the applicant', (t) => {
  const html = templates.render('urgingNotice', urging);
  t.regex(html, /<p class="to flush">深圳市市场监督管理局：<\/p>/);
  t.false(html.includes(`${base.applicant.name}（证件号码`), 'the applicant is not addressed');
  t.false(html.includes(base.applicant.idNumber!), 'no identity number goes to the department');
});

test.serial('an applicant name with HTML and Handlebars syntax is printed literally', async (t) => {
  const renderer = newRenderer(t, { poolSize: 1 });
  const name = '<script>x</script>{{evil}}<b>{{x}}</b>';
  const html = templates.render('refusalNotice', { ...refusal, applicant: { name } });
  t.false(html.includes('<script>x'), 'markup is escaped in the HTML');
  t.false(html.includes('<b>{{x}}'), 'markup is escaped in the HTML');
  const text = await pdfText(t, await renderer.render(html), 'escaping');
  assertContains(t, text, [name]);
});

// The font rows of pdffonts: name, type, encoding, then the embedded/subset/Unicode flags.
async function pdfFonts(file: string): Promise<string[]> {
  const { stdout } = await run('pdffonts', [file]);
  return stdout.split('\n').slice(2).filter(Boolean);
}

// The faces a PDF embeds, by PostScript name: pdffonts lists a Type 3 font without its name, but
// its font descriptor still carries it.
const embeddedFaces = (pdf: Buffer): string[] =>
  [...pdf.toString('latin1').matchAll(/\/FontName\s*\/[A-Z]{6}\+([\w-]+)/g)].map((m) => m[1]);

test.serial(
  'the receipt renders as visible CJK glyphs from the embedded GB2312 subset of Noto Serif',
  async (t) => {
    t.truthy(fontconfigFileOf(), 'the documents font is built (scripts/ensure-fonts.sh)');
    const renderer = newRenderer(t, { poolSize: 1 });
    const pdf = await renderer.render(templates.render('receipt', receipt));
    const dir = await tempDir(t);
    const file = path.join(dir, 'receipt.pdf');
    await writeFile(file, pdf);

    // Real glyph mapping: the title comes back as Unicode text, not as boxes or nothing.
    const { stdout: text } = await run('pdftotext', ['-enc', 'UTF-8', file, '-']);
    t.true(squash(text).includes('受理通知书'));

    // The subset has TrueType outlines, so Chromium embeds it as a real subset CID font (a CFF
    // face would come as Type 3 glyph procedures); the bold title is the real Bold face. No
    // other face, in particular not the 26 MB system collection, is needed for this text. The
    // renderer's core face and the document's own font are both cut from the subset, so its
    // Regular may come twice.
    const rows = await pdfFonts(file);
    t.true(rows.length > 0, 'fonts are listed');
    t.true(
      rows.every((row) => /\byes\s+yes\s+yes\b/.test(row)),
      'every font is embedded, subset and has a Unicode map',
    );
    t.deepEqual(
      rows
        .map((row) => row.split(/\s+/).slice(1, 3).join(' '))
        .filter((v, i, a) => a.indexOf(v) === i),
      ['CID TrueType'],
      'only TrueType CID fonts, no Type 3',
    );
    t.deepEqual([...new Set(embeddedFaces(pdf))].sort(), [
      'OnedoorSerifGB-Bold',
      'OnedoorSerifGB-Regular',
    ]);

    // 50 dpi: 414 x 585 pixels. PGM is parsed here; the PNG is for a human to look at.
    await run('pdftoppm', ['-r', '50', '-f', '1', '-l', '1', '-png', file, path.join(dir, 'page')]);
    await run('pdftoppm', [
      '-r',
      '50',
      '-f',
      '1',
      '-l',
      '1',
      '-gray',
      file,
      path.join(dir, 'page'),
    ]);
    const pgm = await readFile(path.join(dir, 'page-1.pgm'));
    const header = /^P5\s+(\d+)\s+(\d+)\s+(\d+)\s/.exec(pgm.subarray(0, 64).toString('latin1'));
    t.truthy(header, 'pdftoppm wrote a PGM');
    if (!header) return;
    const [width, height] = [Number(header[1]), Number(header[2])];
    const pixels = pgm.subarray(header[0].length);
    t.is(pixels.length, width * height);
    let dark = 0;
    for (const value of pixels) if (value < 160) dark++;
    const ratio = dark / pixels.length;
    t.true(ratio > 0.01 && ratio < 0.4, `ink covers ${(ratio * 100).toFixed(1)}% of the page`);
    // The title band (about 25-45 px from the top at 50 dpi) must hold ink: glyphs, not nothing.
    let titleInk = 0;
    for (let y = 20; y < 60; y++) {
      for (let x = Math.floor(width * 0.3); x < Math.floor(width * 0.7); x++) {
        if (pixels[y * width + x] < 160) titleInk++;
      }
    }
    t.true(titleInk > 100, `title band has ${titleInk} dark pixels`);
    if (process.env.DOCUMENTS_KEEP_PNG) {
      await writeFile(process.env.DOCUMENTS_KEEP_PNG, await readFile(path.join(dir, 'page-1.png')));
    }
  },
);

test.serial('a name outside GB2312 still prints, from the system Noto as fallback', async (t) => {
  // APP-0041 of data/applications.json: 𠮷 (U+20BB7) is in Noto Serif CJK SC, not in GB2312.
  const renderer = newRenderer(t, { poolSize: 1 });
  const name = '王𠮷';
  const pdf = await renderer.render(
    templates.render('receipt', { ...receipt, applicant: { name } }),
  );
  const file = path.join(await tempDir(t), 'fallback.pdf');
  await writeFile(file, pdf);

  // -layout sets the fallback glyph on a line of its own (its Type 3 font box differs from the
  // subset's); the page shows it in place, and the raw text keeps the reading order.
  const { stdout: text } = await run('pdftotext', ['-raw', '-enc', 'UTF-8', file, '-']);
  t.true(text.includes(`${name}：`), 'the whole name comes back, in order');
  const faces = embeddedFaces(pdf);
  t.true(faces.includes('OnedoorSerifGB-Regular'), 'the subset prints the rest');
  t.true(faces.includes('NotoSerifCJKsc-Regular'), 'the system Noto prints 𠮷');
  t.true((await pdfFonts(file)).every((row) => /\byes\s+(yes|no)\s+yes\b/.test(row)));
});

test.serial(
  'a document prints the same text from the core and its own fonts as from the whole faces',
  async (t) => {
    const html = templates.render('correctionNotice', correction);
    const split = newRenderer(t, { poolSize: 1 });
    const whole = newRenderer(t, { poolSize: 1, fontSubsets: null });
    const splitPdf = await split.render(html);
    const wholePdf = await whole.render(html);
    // The applicant's name and the materials have characters no template has: they come from
    // the document's own web font, and the page is laid out exactly as with the whole faces.
    t.like(split.stats(), { documentsRendered: 1, documentsSubset: 1 });
    t.like(whole.stats(), { documentsRendered: 1, documentsSubset: 0 });
    const splitText = await pdfText(t, splitPdf, 'split');
    t.is(splitText, await pdfText(t, wholePdf, 'whole'));
    assertContains(t, splitText, [base.applicant.name, '经营场所平面布局图', '2026年10月30日']);
    t.deepEqual([...new Set(embeddedFaces(splitPdf))].sort(), [
      'OnedoorSerifGB-Bold',
      'OnedoorSerifGB-Regular',
    ]);
  },
);

test.serial(
  'a document whose characters are all in the core carries no font of its own',
  async (t) => {
    const html = templates.render('receipt', receipt);
    // The receipt's own text as the core: nothing is left for a web font.
    const renderer = newRenderer(t, { poolSize: 1, coreText: html });
    const text = await pdfText(t, await renderer.render(html), 'core-only');
    t.like(renderer.stats(), { documentsRendered: 1, documentsSubset: 0 });
    assertContains(t, text, ['受理通知书', base.applicant.name, '综合受理区A12号窗口']);
  },
);

test.serial('the page makes no network request and runs no script', async (t) => {
  let hits = 0;
  const server = http.createServer((_req, res) => {
    hits++;
    res.end('x');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const renderer = newRenderer(t, { poolSize: 1 });
  const html =
    `<!doctype html><html><head><meta charset="utf-8">` +
    `<link rel="stylesheet" href="${origin}/style.css"></head><body>` +
    `<p>离线</p><img src="${origin}/image.png"><iframe src="${origin}/frame"></iframe>` +
    `<script>document.body.append('SCRIPT-RAN')</script>` +
    `<img src="${qrImageDataUrl('data urls still load')}"></body></html>`;
  const text = await pdfText(t, await renderer.render(html), 'offline');
  t.true(text.includes('离线'));
  t.false(text.includes('SCRIPT-RAN'));
  t.is(hits, 0);
});

test.serial('a page is replaced after maxDocumentsPerPage documents', async (t) => {
  const renderer = newRenderer(t, { poolSize: 1, maxDocumentsPerPage: 2 });
  const html = '<!doctype html><meta charset="utf-8"><p>recycle</p>';
  for (let i = 0; i < 5; i++) await renderer.render(html);
  t.like(renderer.stats(), {
    browserLaunches: 1,
    pagesOpened: 3,
    pagesRecycled: 2,
    documentsRendered: 5,
  });
});

test.serial('a render in flight when the browser dies is retried on a new browser', async (t) => {
  const renderer = newRenderer(t, { poolSize: 1 });
  const html = templates.render('receipt', receipt);
  await renderer.render(html);
  const pid = renderer.browserProcessId();
  t.truthy(pid);
  let settled = false;
  const inFlight = renderer.render(html);
  void inFlight.finally(() => (settled = true)).catch(() => undefined);
  // Give the render time to reach Chromium, then kill Chromium under it.
  await new Promise((resolve) => setTimeout(resolve, 20));
  t.false(settled, 'the render is still in flight when the browser dies');
  process.kill(pid as number, 'SIGKILL');
  const pdf = await inFlight;
  assertContains(t, await pdfText(t, pdf, 'retried'), ['受理通知书', receipt.caseNumber]);
  t.like(renderer.stats(), { browserLaunches: 2, retries: 1 });
  t.not(renderer.browserProcessId(), pid);

  // A browser that dies while idle is relaunched by the next render.
  process.kill(renderer.browserProcessId() as number, 'SIGKILL');
  await new Promise((resolve) => setTimeout(resolve, 200));
  await renderer.render(html);
  t.like(renderer.stats(), { browserLaunches: 3 });
});

test('assertComplete refuses a denial with empty reasons, naming every missing field', (t) => {
  const error = t.throws(
    () => assertComplete('denialDecision', { ...denial, reasons: [], court: ' ' }),
    { instanceOf: DocumentIncompleteError },
  );
  t.is(error?.code, 'document_incomplete');
  t.deepEqual(error?.missing, ['reasons', 'court']);

  const blank = t.throws(() => assertComplete('refusalNotice', { ...refusal, reasons: ['  '] }), {
    instanceOf: DocumentIncompleteError,
  });
  t.deepEqual(blank?.missing, ['reasons[0]']);
});

test('assertComplete refuses a receipt without a promised date', (t) => {
  const rest: Partial<ReceiptData> = { ...receipt };
  delete rest.promisedDate;
  const error = t.throws(() => assertComplete('receipt', { ...rest, caseNumber: '' }), {
    instanceOf: DocumentIncompleteError,
  });
  t.deepEqual(error?.missing, ['caseNumber', 'promisedDate']);
  t.regex(error?.message ?? '', /promisedDate/);
});

test('assertComplete checks lists element by element and accepts complete data', (t) => {
  const error = t.throws(
    () =>
      assertComplete('correctionNotice', {
        ...correction,
        missingMaterials: [{ name: '' }, { name: '营业执照' }],
        applicant: {},
      }),
    { instanceOf: DocumentIncompleteError },
  );
  t.deepEqual(error?.missing, ['applicant.name', 'missingMaterials[0].name']);
  t.throws(() => assertComplete('receipt', { ...receipt, fees: undefined }), {
    instanceOf: DocumentIncompleteError,
  });
  for (const [kind, data] of [
    ['receipt', receipt],
    ['correctionNotice', correction],
    ['refusalNotice', refusal],
    ['denialDecision', denial],
    ['approvalNotice', approval],
    ['extensionNotice', extension],
    ['suspensionNotice', suspension],
    ['urgingNotice', urging],
  ] as const) {
    t.notThrows(() => assertComplete(kind, data), kind);
  }
});

// The legal content of each document, beyond what every document carries (the list:
// LLA art. 32, 38, 39, 42, 45 and the urging notice): each one refused when missing, one test
// per rule.
const NOTICE_RULES = {
  receipt: {
    data: receipt,
    rules: [
      'receivedAt',
      'acceptedAt',
      'statutoryLimit',
      'promisedLimit',
      'promisedDate',
      'fees',
      'counter',
      'clerk',
    ],
  },
  correctionNotice: {
    data: correction,
    rules: ['receivedAt', 'missingMaterials', 'correctionDeadline', 'counter', 'clerk'],
  },
  refusalNotice: { data: refusal, rules: ['receivedAt', 'reasons', 'reviewOrgan', 'court'] },
  denialDecision: { data: denial, rules: ['acceptedAt', 'reasons', 'reviewOrgan', 'court'] },
  approvalNotice: { data: approval, rules: ['acceptedAt', 'grant', 'collectionPlace'] },
  extensionNotice: {
    data: extension,
    rules: ['acceptedAt', 'extension', 'reasons', 'approver', 'statutoryDueDate'],
  },
  suspensionNotice: {
    data: suspension,
    rules: ['acceptedAt', 'procedure', 'reasons', 'expectedDuration'],
  },
  urgingNotice: {
    data: urging,
    rules: ['department', 'taskName', 'message', 'replyBy', 'urgedBy'],
  },
} as const;

// What every document carries: its numbers and how to verify it, who issues it, when and under
// which seal, where to complain, and whose application on which item it answers.
const BASE_RULES = [
  'documentNumber',
  'caseNumber',
  'verificationCode',
  'verifyUrl',
  'issuingOrgan',
  'issuedDate',
  'sealName',
  'complaintPhone',
  'applicant.name',
  'itemName',
];

// The fields that are lists: blank is an empty list.
const LIST_FIELDS = new Set(['reasons', 'missingMaterials', 'fees']);

test('the documents require exactly their legal fields beside those of every document', (t) => {
  for (const [kind, { rules }] of Object.entries(NOTICE_RULES)) {
    const paths = REQUIRED_FIELDS[kind as DocumentKind].map((r) => r.path);
    t.deepEqual(paths.slice(0, BASE_RULES.length), BASE_RULES, kind);
    t.deepEqual(paths.slice(BASE_RULES.length), [...rules], kind);
  }
});

for (const [kind, { data, rules }] of Object.entries(NOTICE_RULES)) {
  for (const field of rules) {
    test(`${kind} is refused without ${field}, and with it blank`, (t) => {
      const absent: Record<string, unknown> = { ...data };
      delete absent[field];
      const blank = { ...data, [field]: LIST_FIELDS.has(field) ? [] : '  ' };
      if (field === 'fees') {
        // No fee is a legal answer, printed 无, but it must be said: an empty list, not nothing.
        t.notThrows(() => templates.render(kind as DocumentKind, blank as never));
        const error = t.throws(() => templates.render(kind as DocumentKind, absent as never), {
          instanceOf: DocumentIncompleteError,
        });
        t.deepEqual(error?.missing, [field]);
        return;
      }
      for (const [label, value] of Object.entries({ absent, blank })) {
        const error = t.throws(() => templates.render(kind as DocumentKind, value as never), {
          instanceOf: DocumentIncompleteError,
        });
        t.deepEqual(error?.missing, [field], label);
      }
    });
  }
}

// A copy of data without the field at this dotted path, or with value there instead.
function withField(data: object, dotted: string, value?: unknown): Record<string, unknown> {
  const [head, ...rest] = dotted.split('.');
  const copy: Record<string, unknown> = { ...data };
  if (rest.length > 0) copy[head] = withField(copy[head] as object, rest.join('.'), value);
  else if (value === undefined) delete copy[head];
  else copy[head] = value;
  return copy;
}

for (const field of BASE_RULES) {
  test(`every document kind is refused without ${field}, and with it blank`, (t) => {
    for (const [kind, { data }] of Object.entries(NOTICE_RULES)) {
      for (const value of [undefined, ' ']) {
        const error = t.throws(
          () => templates.render(kind as DocumentKind, withField(data, field, value) as never),
          { instanceOf: DocumentIncompleteError },
        );
        t.deepEqual(
          error?.missing,
          [field],
          `${kind}, ${value === undefined ? 'absent' : 'blank'}`,
        );
      }
    }
  });
}

test('a notice with a blank reason among its reasons is refused', (t) => {
  const error = t.throws(
    () => assertComplete('extensionNotice', { ...extension, reasons: ['理由一', ' '] }),
    { instanceOf: DocumentIncompleteError },
  );
  t.deepEqual(error?.missing, ['reasons[1]']);
});

test('no template turns escaping off', async (t) => {
  const files = [
    ...(await readdir(TEMPLATE_DIR)).map((f) => path.join(TEMPLATE_DIR, f)),
    ...(await readdir(path.join(TEMPLATE_DIR, 'partials'))).map((f) =>
      path.join(TEMPLATE_DIR, 'partials', f),
    ),
  ].filter((f) => f.endsWith('.hbs'));
  t.true(files.length >= 7);
  for (const file of files) {
    const source = await readFile(file, 'utf8');
    // {{{x}}} and {{&x}} are Handlebars' two ways to print a value unescaped.
    t.false(/\{\{\{|\{\{~?&/.test(source), `${path.basename(file)} prints a value unescaped`);
  }
});

test('TemplateSet.render refuses incomplete data and escapes what it prints', (t) => {
  t.throws(() => templates.render('refusalNotice', { ...refusal, reasons: [] }), {
    instanceOf: DocumentIncompleteError,
  });
  const html = templates.render('approvalNotice', { ...approval, grant: '"><img src=x>' });
  t.false(html.includes('"><img src=x>'));
  t.true(html.includes('&quot;&gt;&lt;img src&#x3D;x&gt;'));
  t.false(html.includes('（暂定）'), 'only a provisional receipt carries the mark');
  t.true(templates.render('receipt', receipt).includes('（暂定）'));
  t.false(
    templates
      .render('receipt', { ...receipt, promisedDateProvisional: false })
      .includes('（暂定）'),
  );
});

test('the QR image encodes verifyUrl with the qrcode package', (t) => {
  const url = receipt.verifyUrl;
  const dataUrl = qrImageDataUrl(url);
  t.true(dataUrl.startsWith('data:image/svg+xml;base64,'));
  const svg = Buffer.from(dataUrl.split(',')[1], 'base64').toString('utf8');
  const { modules } = QRCode.create(url, { errorCorrectionLevel: 'M' });
  const box = modules.size + 8;
  t.true(svg.includes(`viewBox="0 0 ${box} ${box}"`));
  // Every dark module is drawn exactly once: the runs' widths add up to the dark count.
  const drawn = [...svg.matchAll(/h(\d+)v1/g)].reduce((sum, m) => sum + Number(m[1]), 0);
  t.is(drawn, [...modules.data].filter(Boolean).length);
  // Handlebars escapes the base64 padding '=' as &#x3D;, which HTML decodes back in the attribute.
  t.true(templates.render('receipt', receipt).includes(dataUrl.replaceAll('=', '&#x3D;')));
});

// zbarimg (Debian zbar-tools) is not a project dependency; where it is installed, this proves
// the printed code, not just the SVG, decodes back to verifyUrl.
const hasZbar = spawnSync('zbarimg', ['--version']).status === 0;
(hasZbar ? test.serial : test.skip)('the printed QR code decodes to verifyUrl', async (t) => {
  const renderer = newRenderer(t, { poolSize: 1 });
  const dir = await tempDir(t);
  const file = path.join(dir, 'qr.pdf');
  await writeFile(file, await renderer.render(templates.render('denialDecision', denial)));
  await run('pdftoppm', ['-r', '150', '-f', '1', '-l', '1', '-png', file, path.join(dir, 'qr')]);
  const { stdout } = await run('zbarimg', ['-q', '--raw', path.join(dir, 'qr-1.png')]);
  t.is(stdout.trim(), denial.verifyUrl);
});

/**
 * Document rendering bench: N documents (one of each kind in turn) through the warm pool, one at
 * a time and then as many at once as the pool has pages, against N/10 with a browser launched
 * per document; and, for comparison, the warm pool printing from the whole GB2312 faces instead
 * of the core and per-document fonts (lib/documents/fontSubsets.ts). Needs no Temporal server.
 *   npx tsx bench/documents.ts [--documents N] [--fresh M] [--pool P]
 * Prints figures; asserts nothing about them.
 */
import os from 'node:os';
import { PdfRenderer, renderWithFreshBrowser } from '../lib/documents/renderer';
import type { DocumentBase, DocumentData, DocumentKind } from '../lib/documents/requirements';
import { TemplateSet } from '../lib/documents/templates';
import {
  type BenchSummary,
  inLanes,
  integerFlags,
  loadAverage,
  mean,
  median,
  percentile,
  runIfMain,
} from './harness';

/** The goal: warm, one document at a time, median. */
const GOAL_MS = 60;

interface Options {
  /** Documents per warm run. */
  documents: number;
  /** Documents with a browser each; defaults to a tenth of documents, at least 3. */
  fresh: number;
  /** Pages of the warm pool; defaults to the cores of this machine (2 on the hall's server). */
  pool: number;
}

function parseOptions(argv: string[]): Options {
  const given = integerFlags(argv, {
    '--documents': 'documents',
    '--fresh': 'fresh',
    '--pool': 'pool',
  });
  const documents = given.documents ?? 100;
  return {
    documents,
    fresh: given.fresh ?? Math.max(3, Math.round(documents / 10)),
    pool: given.pool ?? Math.max(1, Math.min(os.availableParallelism(), 4)),
  };
}

function base(i: number): DocumentBase {
  const no = String(i).padStart(6, '0');
  return {
    documentNumber: `深政务〔2026〕第${no}号`,
    caseNumber: `SZ2026-${no}`,
    verificationCode: `K7Q${no}`,
    verifyUrl: `http://127.0.0.1:3000/verify/SZ2026-${no}?code=K7Q${no}`,
    issuingOrgan: '深圳市市场监督管理局',
    issuedDate: '2026年10月16日',
    sealName: '深圳市行政服务大厅受理专用章',
    complaintPhone: '12345',
    applicant: { name: `深圳市示例贸易有限公司${no}` },
    itemName: '食品经营许可证核发',
  };
}

const remedies = { reviewOrgan: '深圳市人民政府', court: '深圳市福田区人民法院' };

// One document of each kind in turn, each with its own numbers, so no two HTMLs are equal.
function documentFor(i: number): { [K in DocumentKind]: [K, DocumentData<K>] }[DocumentKind] {
  const b = base(i);
  switch (i % 5) {
    case 0:
      return [
        'receipt',
        {
          ...b,
          receivedAt: '2026年10月16日 09:30',
          acceptedAt: '2026年10月16日 10:05',
          statutoryLimit: '20个工作日',
          promisedLimit: '5个工作日',
          promisedDate: '2026年10月23日',
          fees: [],
          counter: '综合受理区A12号窗口',
          clerk: '李明',
        },
      ];
    case 1:
      return [
        'correctionNotice',
        {
          ...b,
          receivedAt: '2026年10月16日 09:30',
          missingMaterials: [{ name: '食品安全管理制度文本' }, { name: '经营场所平面布局图' }],
          correctionDeadline: '2026年10月30日',
          counter: '综合受理区A12号窗口',
          clerk: '李明',
        },
      ];
    case 2:
      return [
        'refusalNotice',
        {
          ...b,
          ...remedies,
          receivedAt: '2026年10月16日',
          reasons: ['申请事项依法不属于本机关职权范围'],
          competentOrgan: '深圳市规划和自然资源局',
        },
      ];
    case 3:
      return [
        'denialDecision',
        { ...b, ...remedies, acceptedAt: '2026年10月16日', reasons: ['经营场所不符合要求'] },
      ];
    default:
      return [
        'approvalNotice',
        {
          ...b,
          acceptedAt: '2026年10月16日',
          grant: '准予核发《食品经营许可证》',
          collectionPlace: '深圳市行政服务大厅一楼出件窗口',
        },
      ];
  }
}

interface Summary {
  label: string;
  n: number;
  median: number;
  p99: number;
  mean: number;
  perSecond: number;
}

function summarise(label: string, samples: number[], wallMs: number): Summary {
  return {
    label,
    n: samples.length,
    median: median(samples),
    p99: percentile(samples, 99),
    mean: mean(samples),
    perSecond: (samples.length / wallMs) * 1000,
  };
}

// Renders every document with `concurrency` workers and returns each render's latency.
async function measure(
  htmls: string[],
  concurrency: number,
  render: (html: string) => Promise<Buffer>,
): Promise<{ samples: number[]; wallMs: number }> {
  const samples: number[] = [];
  const wallMs = await inLanes(htmls.length, concurrency, async (i) => {
    const t0 = performance.now();
    const pdf = await render(htmls[i]);
    samples.push(performance.now() - t0);
    if (pdf.length < 1000) throw new Error('suspiciously small PDF');
  });
  return { samples, wallMs };
}

// Renders documents through a started pool: a warm-up of two per page, then the measured runs.
async function warmRuns(
  htmls: string[],
  renderer: PdfRenderer,
  label: string,
  concurrencies: number[],
): Promise<Summary[]> {
  const render = (html: string): Promise<Buffer> => renderer.render(html);
  const results: Summary[] = [];
  try {
    await renderer.start();
    await measure(
      htmls.slice(0, 2 * Math.max(...concurrencies)),
      Math.max(...concurrencies),
      render,
    );
    for (const concurrency of concurrencies) {
      const { samples, wallMs } = await measure(htmls, concurrency, render);
      results.push(summarise(`${label}, ${concurrency} at a time`, samples, wallMs));
    }
  } finally {
    await renderer.close();
  }
  return results;
}

function printTable(results: Summary[]): void {
  const rows = [
    ['', ...results.map((r) => r.label)],
    ['documents', ...results.map((r) => String(r.n))],
    ['median ms', ...results.map((r) => r.median.toFixed(1))],
    ['p99 ms', ...results.map((r) => r.p99.toFixed(1))],
    ['mean ms', ...results.map((r) => r.mean.toFixed(1))],
    ['docs/s', ...results.map((r) => r.perSecond.toFixed(1))],
  ];
  const widths = rows[0].map((_, c) => Math.max(...rows.map((row) => row[c].length)));
  for (const row of rows) {
    console.log(
      row
        .map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c])))
        .join('   '),
    );
  }
}

const loadNote = (): string =>
  `load average ${loadAverage(2)} on ${os.availableParallelism()} cores`;

/** Runs the document bench and prints its figures. */
export async function run(argv: string[] = []): Promise<BenchSummary> {
  const { documents: n, fresh, pool } = parseOptions(argv);
  const templates = TemplateSet.load();
  const t0 = performance.now();
  const htmls = Array.from({ length: n }, (_, i) => {
    const [kind, data] = documentFor(i);
    return templates.render(kind, data as never);
  });
  const templateMs = (performance.now() - t0) / n;
  console.log(`documents: ${n} warm, ${fresh} with a fresh browser; ${loadNote()} at the start`);

  const concurrencies = pool > 1 ? [1, pool] : [1];
  const results = await warmRuns(
    htmls,
    new PdfRenderer({ poolSize: pool }),
    'warm pool',
    concurrencies,
  );
  const freshRun = await measure(htmls.slice(0, fresh), 1, (h) => renderWithFreshBrowser(h));
  results.push(summarise('fresh browser per doc', freshRun.samples, freshRun.wallMs));
  const whole = await warmRuns(
    htmls,
    new PdfRenderer({ poolSize: pool, fontSubsets: null }),
    'whole faces',
    [1],
  );
  results.push(...whole);

  printTable(results);
  console.log(`template rendering (Handlebars + QR): ${templateMs.toFixed(2)} ms per document`);
  const warm = results[0].median;
  const fresh1 = results[concurrencies.length].median;
  console.log(
    `goal <= ${GOAL_MS} ms median warm, 1 at a time: ${warm <= GOAL_MS ? 'met' : 'NOT met'} ` +
      `(${warm.toFixed(1)} ms; ${(fresh1 / warm).toFixed(1)}x faster than a browser per ` +
      `document; whole faces ${whole[0].median.toFixed(1)} ms); ${loadNote()} at the end`,
  );
  return {
    figures: [
      `warm median ${warm.toFixed(1)} ms, 1 at a time`,
      `${(fresh1 / warm).toFixed(1)}x faster than a browser per document`,
    ],
    goals: [{ goal: `median warm ≤ ${GOAL_MS} ms`, met: warm <= GOAL_MS }],
  };
}

runIfMain(module, run);

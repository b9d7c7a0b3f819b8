// HTML to PDF through headless Chromium. Launching Chromium costs about a second, so the hall
// keeps one browser with a small pool of pages; a page is replaced after a number of documents
// (Chromium's per-page memory only grows) and the browser is relaunched when it dies.
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import puppeteer, {
  ProtocolError,
  type Browser,
  type HTTPRequest,
  type Page,
} from 'puppeteer-core';

import {
  loadDocumentFonts,
  type DocumentFonts,
  type FontFiles,
  type FontWeight,
} from './fontSubsets';
import { HALL_NAME, templateText } from './templates';

/** Options of PdfRenderer and renderWithFreshBrowser; every field has a default. */
export interface PdfRendererOptions {
  /** Chromium binary; defaults to '/usr/bin/chromium' (Debian's package). */
  executablePath?: string;
  /** Pages rendering in parallel; defaults to 2, one per core of the hall's server. */
  poolSize?: number;
  /** Documents a page renders before it is closed and replaced; defaults to 200. */
  maxDocumentsPerPage?: number;
  /** Limit in ms for loading one document and for printing it; defaults to 30000. */
  renderTimeoutMs?: number;
  /** Limit in ms for launching the browser; defaults to 30000. */
  launchTimeoutMs?: number;
  /** Run Chromium without its sandbox; defaults to true when running as root, where it must. */
  noSandbox?: boolean;
  /** Extra Chromium switches, appended to the fixed ones. */
  extraArgs?: readonly string[];
  /**
   * Fontconfig file Chromium finds its fonts through (FONTCONFIG_FILE); defaults to
   * DEFAULT_FONTCONFIG_FILE when scripts/ensure-fonts.sh has built it, and null means the
   * system's configuration alone.
   */
  fontconfigFile?: string | null;
  /**
   * The whole faces of 'Onedoor Serif GB' to print from in subsets (lib/documents/fontSubsets.ts):
   * a core one for every document, given to Chromium through a fontconfig file of the
   * renderer's own (fontconfigFile is then not used), and one of the rest of each document's
   * characters, embedded in it as SUBSET_FAMILY. Defaults to DEFAULT_FONT_FILES when
   * scripts/ensure-fonts.sh has built them and fontconfigFile is not given; null: no subsets.
   */
  fontSubsets?: FontFiles | null;
  /** The text of the core faces; defaults to the templates' (templateText) and HALL_NAME. */
  coreText?: string;
}

/** Counters of a PdfRenderer's lifetime, for monitoring and tests. */
export interface PdfRendererStats {
  /** Browsers launched, the first one included. */
  browserLaunches: number;
  /** Pages opened, replacements included. */
  pagesOpened: number;
  /** Pages closed because they reached maxDocumentsPerPage. */
  pagesRecycled: number;
  /** Documents rendered successfully. */
  documentsRendered: number;
  /** Renders retried because the browser or page died under them. */
  retries: number;
  /** Documents given a web font of SUBSET_FAMILY: characters beyond the core faces. */
  documentsSubset: number;
}

/** The browser or the page died while a document was being rendered. */
export class BrowserLostError extends Error {
  /** Wraps the error the lost browser or page produced. */
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BrowserLostError';
  }
}

/** Default Chromium binary: Debian's chromium package. */
export const DEFAULT_EXECUTABLE_PATH = '/usr/bin/chromium';

/**
 * The fontconfig file scripts/ensure-fonts.sh writes: the system fonts plus the documents'
 * GB2312 subset of Noto Serif CJK SC in .tools/fonts/. Chromium copies every font file a page
 * uses into each print job, so the 3 MB subset instead of the 26 MB collection is most of what
 * a PDF costs.
 */
export const DEFAULT_FONTCONFIG_FILE = path.resolve(
  __dirname,
  '..',
  '..',
  '.tools',
  'fonts',
  'fonts.conf',
);

/**
 * The CSS family the renderer defines in each document, from the characters of that document
 * that its core faces lack (lib/documents/fontSubsets.ts). A page names it right after
 * 'Onedoor Serif GB'; one that does not is printed as it is, from the core faces and fallback.
 */
export const SUBSET_FAMILY = 'Onedoor Serif GB Subset';

/** The faces scripts/ensure-fonts.sh builds beside DEFAULT_FONTCONFIG_FILE, by CSS weight. */
export const DEFAULT_FONT_FILES: FontFiles = {
  400: path.join(path.dirname(DEFAULT_FONTCONFIG_FILE), 'OnedoorSerifGB-Regular.ttf'),
  700: path.join(path.dirname(DEFAULT_FONTCONFIG_FILE), 'OnedoorSerifGB-Bold.ttf'),
};

// No background traffic of any kind: the hall's servers have no internet, and a document
// renderer has no business calling out anyway.
const BASE_ARGS = [
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

interface Resolved {
  executablePath: string;
  poolSize: number;
  maxDocumentsPerPage: number;
  renderTimeoutMs: number;
  launchTimeoutMs: number;
  args: string[];
  fontconfigFile: string | null;
  fontSubsets: FontFiles | null;
  coreText: string | null;
}

function resolveOptions(options: PdfRendererOptions): Resolved {
  const poolSize = options.poolSize ?? 2;
  const maxDocumentsPerPage = options.maxDocumentsPerPage ?? 200;
  if (!Number.isInteger(poolSize) || poolSize < 1) throw new RangeError('poolSize must be >= 1');
  if (!Number.isInteger(maxDocumentsPerPage) || maxDocumentsPerPage < 1) {
    throw new RangeError('maxDocumentsPerPage must be >= 1');
  }
  const noSandbox = options.noSandbox ?? process.getuid?.() === 0;
  const fontSubsets =
    options.fontSubsets === undefined
      ? options.fontconfigFile === undefined &&
        existsSync(DEFAULT_FONT_FILES[400]) &&
        existsSync(DEFAULT_FONT_FILES[700])
        ? DEFAULT_FONT_FILES
        : null
      : options.fontSubsets;
  const fontconfigFile =
    options.fontconfigFile === undefined
      ? existsSync(DEFAULT_FONTCONFIG_FILE)
        ? DEFAULT_FONTCONFIG_FILE
        : null
      : options.fontconfigFile;
  return {
    executablePath: options.executablePath ?? DEFAULT_EXECUTABLE_PATH,
    poolSize,
    maxDocumentsPerPage,
    renderTimeoutMs: options.renderTimeoutMs ?? 30_000,
    launchTimeoutMs: options.launchTimeoutMs ?? 30_000,
    args: [...(noSandbox ? ['--no-sandbox'] : []), ...BASE_ARGS, ...(options.extraArgs ?? [])],
    fontconfigFile,
    fontSubsets,
    coreText: fontSubsets ? (options.coreText ?? `${templateText()}\n${HALL_NAME}`) : null,
  };
}

/** The fontconfig file a renderer with these options gives Chromium; null: the system's. */
export function fontconfigFileOf(options: PdfRendererOptions = {}): string | null {
  return resolveOptions(options).fontconfigFile;
}

interface BrowserHandle {
  browser: Browser;
  userDataDir: string;
  dead: boolean;
  // Pages open on this browser, so a disconnect can fail the renders running on them.
  slots: Set<Slot>;
  cleanup?: Promise<void>;
}

// The document fonts of these options, or null when they print from whole faces.
function documentFonts(opts: Resolved): Promise<DocumentFonts> | null {
  return opts.fontSubsets && opts.coreText !== null
    ? loadDocumentFonts(opts.fontSubsets, opts.coreText)
    : null;
}

async function launchBrowser(opts: Resolved): Promise<BrowserHandle> {
  const fonts = await documentFonts(opts);
  const fontconfigFile = fonts ? fonts.fontconfigFile : opts.fontconfigFile;
  // A fresh profile per launch: nothing carries over from a crashed browser or another process.
  const userDataDir = await mkdtemp(path.join(os.tmpdir(), 'onedoor-chromium-'));
  try {
    const browser = await puppeteer.launch({
      executablePath: opts.executablePath,
      headless: true,
      pipe: true, // CDP over stdio: no debugging port open on the machine
      userDataDir,
      args: opts.args,
      // The browser's environment is the host's, plus the documents' font configuration.
      env: fontconfigFile ? { ...process.env, FONTCONFIG_FILE: fontconfigFile } : undefined,
      timeout: opts.launchTimeoutMs,
      // Puppeteer's SIGINT handler calls process.exit(130), which would cut the host's graceful
      // shutdown short; the host calls close(), and puppeteer still kills the browser on exit.
      handleSIGINT: false,
      handleSIGTERM: false,
      handleSIGHUP: false,
    });
    return { browser, userDataDir, dead: false, slots: new Set() };
  } catch (err) {
    await rm(userDataDir, { recursive: true, force: true });
    throw err;
  }
}

// Kills what is left of the browser process and removes its profile; safe to call twice.
function cleanupBrowser(handle: BrowserHandle): Promise<void> {
  handle.cleanup ??= (async () => {
    handle.dead = true;
    const proc = handle.browser.process();
    if (proc && proc.exitCode === null && proc.signalCode === null) {
      const exited = once(proc, 'exit');
      proc.kill('SIGKILL');
      await exited;
    }
    await rm(handle.userDataDir, { recursive: true, force: true, maxRetries: 3 });
  })();
  return handle.cleanup;
}

function ignore(): void {
  // Deliberately empty: used where a rejection is expected and already dealt with elsewhere.
}

// Documents are self-contained, so every request except data: URLs (the inline QR image) is
// refused, and scripts are off: a page cannot reach the network or run code even if markup
// slipped into a template.
async function preparePage(page: Page, timeoutMs: number): Promise<void> {
  page.setDefaultTimeout(timeoutMs);
  await page.setJavaScriptEnabled(false);
  await page.setRequestInterception(true);
  page.on('request', (request: HTTPRequest) => {
    if (request.isInterceptResolutionHandled()) return;
    const action = request.url().startsWith('data:')
      ? request.continue()
      : request.abort('blockedbyclient');
    action.catch(ignore); // the page may be gone already; nothing to do then
  });
}

async function printPdf(page: Page, doc: Printable, timeoutMs: number): Promise<Buffer> {
  await page.setContent(doc.html, { waitUntil: 'load', timeout: timeoutMs });
  const pdf = await page.pdf({
    format: 'A4', // only a fallback: the templates set size and margins in @page
    preferCSSPageSize: true,
    printBackground: true,
    // Tagged (accessible) PDF costs about 20 ms more per document here; these are for printing.
    tagged: false,
    // Local fonts are there at layout; only a web font may still be loading at 'load'. The wait
    // is an evaluation in a world of its own, made anew for every document.
    waitForFonts: doc.webFonts,
    timeout: timeoutMs,
  });
  return Buffer.from(pdf.buffer, pdf.byteOffset, pdf.byteLength);
}

const WEIGHTS: readonly FontWeight[] = [400, 700];

/** A document ready to print: its HTML, and whether it carries a web font to wait for. */
interface Printable {
  html: string;
  webFonts: boolean;
}

// Defines SUBSET_FAMILY in the document's head, one rule a weight, from the characters of the
// HTML that the core faces lack; none when the core holds them all, the page does not name the
// family or has no head. The fonts are data: URLs, the one kind of request a page may make.
async function printable(html: string, opts: Resolved): Promise<Printable> {
  const fonts = await documentFonts(opts);
  const headEnd = html.search(/<\/head\s*>/i);
  if (!fonts || headEnd < 0 || !html.includes(SUBSET_FAMILY)) return { html, webFonts: false };
  const beyond = fonts.beyondCore(html);
  if (beyond.length === 0) return { html, webFonts: false };
  const rules = WEIGHTS.map((weight) => {
    const font = fonts.subset(weight, beyond).toString('base64');
    return (
      `@font-face{font-family:'${SUBSET_FAMILY}';font-style:normal;font-weight:${weight};` +
      `src:url(data:font/ttf;base64,${font}) format('truetype')}`
    );
  });
  const head = `<style>${rules.join('')}</style>`;
  return { html: html.slice(0, headEnd) + head + html.slice(headEnd), webFonts: true };
}

interface Slot {
  page: Page;
  handle: BrowserHandle;
  uses: number;
  lost: boolean;
  // Rejects the render in progress when the page crashes or closes or the browser disconnects,
  // so it fails at once instead of waiting on a dead target until its timeout.
  abort: ((err: Error) => void) | null;
}

// Marks a slot unusable and fails the render running on it, if any.
function loseSlot(slot: Slot, err: Error): void {
  slot.lost = true;
  slot.handle.slots.delete(slot);
  slot.abort?.(err);
}

/**
 * Renders HTML documents to A4 PDF with one long-lived Chromium and a pool of pages. Pages are
 * replaced after maxDocumentsPerPage documents; a browser that crashes or disconnects is
 * relaunched on the next render, and a render it took down is retried once on the new one.
 */
export class PdfRenderer {
  private readonly opts: Resolved;
  private handle: BrowserHandle | null = null;
  private launching: Promise<BrowserHandle> | null = null;
  private readonly idle: Slot[] = [];
  private active = 0;
  private readonly waiters: Array<{ resolve: () => void; reject: (err: Error) => void }> = [];
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly cleanups = new Set<Promise<void>>();
  private closed = false;
  private closing: Promise<void> | null = null;
  private readonly counters: PdfRendererStats = {
    browserLaunches: 0,
    pagesOpened: 0,
    pagesRecycled: 0,
    documentsRendered: 0,
    retries: 0,
    documentsSubset: 0,
  };

  /** Creates the renderer; the browser starts on the first render or on start(). */
  constructor(options: PdfRendererOptions = {}) {
    this.opts = resolveOptions(options);
  }

  /** Launches the browser now, so the first document does not pay for it. */
  async start(): Promise<void> {
    await this.liveBrowser(); // the core faces are made before the first launch
  }

  /** Renders one self-contained HTML document to a PDF; waits while all pages are busy. */
  render(html: string): Promise<Buffer> {
    if (this.closed) return Promise.reject(new Error('PdfRenderer is closed'));
    const task = this.runTask(html);
    this.inFlight.add(task);
    const forget = (): void => void this.inFlight.delete(task);
    task.then(forget, forget);
    return task;
  }

  /** A copy of the lifetime counters. */
  stats(): PdfRendererStats {
    return { ...this.counters };
  }

  /** Process id of the current browser, if one is running (for diagnostics and crash tests). */
  browserProcessId(): number | undefined {
    const handle = this.handle;
    return handle && !handle.dead ? handle.browser.process()?.pid : undefined;
  }

  /** Lets renders in flight finish, refuses new ones, closes the browser, removes its profile. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.closed = true;
      for (const waiter of this.waiters.splice(0))
        waiter.reject(new Error('PdfRenderer is closed'));
      await Promise.allSettled([...this.inFlight]);
      if (this.launching) await this.launching.catch(ignore);
      const handle = this.handle;
      this.handle = null;
      this.idle.length = 0;
      if (handle) {
        await handle.browser.close().catch(ignore);
        await cleanupBrowser(handle);
      }
      await Promise.allSettled([...this.cleanups]);
    })();
    return this.closing;
  }

  private async runTask(source: string): Promise<Buffer> {
    // Subsetting is the host's work and needs no page: done before waiting for one.
    const doc = await printable(source, this.opts);
    if (doc.webFonts) this.counters.documentsSubset++;
    await this.acquire();
    try {
      try {
        return await this.renderOnce(doc);
      } catch (err) {
        if (!(err instanceof BrowserLostError) || this.closed) throw err;
        this.counters.retries++;
        return await this.renderOnce(doc);
      }
    } finally {
      this.release();
    }
  }

  private async renderOnce(doc: Printable): Promise<Buffer> {
    const slot = await this.takeSlot();
    let pdf: Buffer;
    try {
      pdf = await new Promise<Buffer>((resolve, reject) => {
        slot.abort = reject;
        printPdf(slot.page, doc, this.opts.renderTimeoutMs).then(resolve, reject);
      });
    } catch (err) {
      this.discard(slot);
      if (slot.lost || slot.handle.dead || !slot.handle.browser.connected) {
        throw new BrowserLostError('browser or page lost during render', { cause: err });
      }
      // A protocol error on a target that is gone is a crash the events did not report yet.
      if (err instanceof ProtocolError && /closed|crash|detached/i.test(err.message)) {
        throw new BrowserLostError('browser or page lost during render', { cause: err });
      }
      throw err;
    } finally {
      slot.abort = null;
    }
    this.counters.documentsRendered++;
    slot.uses++;
    if (slot.uses >= this.opts.maxDocumentsPerPage) {
      this.counters.pagesRecycled++;
      this.discard(slot);
    } else {
      this.idle.push(slot);
    }
    return pdf;
  }

  // Concurrency is bounded by permits, not by slots, so a page being replaced never lets more
  // than poolSize documents render at once.
  private acquire(): Promise<void> {
    if (this.closed) return Promise.reject(new Error('PdfRenderer is closed'));
    if (this.active < this.opts.poolSize) {
      this.active++;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  private release(): void {
    const next = this.waiters.shift();
    if (next)
      next.resolve(); // the permit passes straight to the next waiter
    else this.active--;
  }

  private async takeSlot(): Promise<Slot> {
    const handle = await this.liveBrowser();
    while (this.idle.length > 0) {
      const slot = this.idle.pop() as Slot;
      if (slot.handle === handle && !slot.lost && !slot.page.isClosed()) return slot;
    }
    return this.openSlot(handle);
  }

  private async openSlot(handle: BrowserHandle): Promise<Slot> {
    let page: Page;
    try {
      page = await handle.browser.newPage();
      await preparePage(page, this.opts.renderTimeoutMs);
    } catch (err) {
      if (handle.dead || !handle.browser.connected) {
        throw new BrowserLostError('browser lost while opening a page', { cause: err });
      }
      throw err;
    }
    this.counters.pagesOpened++;
    const slot: Slot = { page, handle, uses: 0, lost: false, abort: null };
    handle.slots.add(slot);
    // 'error' is how puppeteer reports a crashed page.
    page.once('error', (err: Error) => loseSlot(slot, err));
    page.once('close', () => loseSlot(slot, new Error('page closed')));
    return slot;
  }

  private discard(slot: Slot): void {
    slot.lost = true;
    slot.handle.slots.delete(slot);
    if (!slot.page.isClosed() && slot.handle.browser.connected) {
      slot.page.close().catch(ignore);
    }
  }

  private liveBrowser(): Promise<BrowserHandle> {
    if (this.closed) return Promise.reject(new Error('PdfRenderer is closed'));
    const current = this.handle;
    if (current && !current.dead && current.browser.connected) return Promise.resolve(current);
    this.launching ??= launchBrowser(this.opts)
      .then((handle) => {
        this.counters.browserLaunches++;
        handle.browser.once('disconnected', () => this.onDisconnected(handle));
        this.handle = handle;
        return handle;
      })
      .finally(() => {
        this.launching = null;
      });
    return this.launching;
  }

  private onDisconnected(handle: BrowserHandle): void {
    handle.dead = true;
    if (this.handle === handle) this.handle = null;
    for (const slot of [...handle.slots]) loseSlot(slot, new Error('browser disconnected'));
    // Relaunch is lazy (next render): a browser that dies at once would otherwise loop.
    const cleanup = cleanupBrowser(handle).catch(ignore);
    this.cleanups.add(cleanup);
    void cleanup.then(() => this.cleanups.delete(cleanup));
  }
}

/**
 * Renders one document with a browser launched for it alone; slow (a launch per document), and
 * kept for the benchmark's comparison and for one-off scripts.
 */
export async function renderWithFreshBrowser(
  source: string,
  options: Omit<PdfRendererOptions, 'poolSize' | 'maxDocumentsPerPage'> = {},
): Promise<Buffer> {
  const opts = resolveOptions(options);
  const doc = await printable(source, opts);
  const handle = await launchBrowser(opts);
  try {
    const page = await handle.browser.newPage();
    await preparePage(page, opts.renderTimeoutMs);
    return await printPdf(page, doc, opts.renderTimeoutMs);
  } finally {
    await handle.browser.close().catch(ignore);
    await cleanupBrowser(handle);
  }
}

// Compiles the document templates once and turns document data into self-contained HTML: the
// CSS is inline and the only image, the verification QR code, is a data: URL, so the renderer
// can forbid every network request.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import Handlebars from 'handlebars';
import QRCode from 'qrcode';

import {
  assertComplete,
  isDocumentKind,
  REQUIRED_FIELDS,
  type DocumentData,
  type DocumentKind,
} from './requirements';

/** Directory of the shipped templates: `templates/` at the repository root. */
export const TEMPLATE_DIR = path.resolve(__dirname, '..', '..', 'templates');

/** Name printed at the top of every document. */
export const HALL_NAME = '深圳市行政服务大厅';

/** Options of TemplateSet.load. */
export interface TemplateSetOptions {
  /** Directory holding `<kind>.hbs` and `partials/*.hbs`; defaults to TEMPLATE_DIR. */
  dir?: string;
  /** Hall name printed in the header; defaults to HALL_NAME. */
  hallName?: string;
}

// Only these helpers exist; knownHelpersOnly makes any other `{{name args}}` a compile error
// rather than a silent lookup, and keeps every mustache a plain escaped value.
const HELPERS = {
  eq: (a: unknown, b: unknown): boolean => a === b,
};

const COMPILE_OPTIONS: CompileOptions = {
  knownHelpers: { eq: true },
  knownHelpersOnly: true,
  // Escaping stays on: every value goes through {{ }} and no template uses {{{ }}}.
  noEscape: false,
  preventIndent: true,
};

/**
 * Encodes text as a QR code (error correction M) and returns it as an SVG data: URL. The qrcode
 * package does the encoding; only the drawing of its module matrix is done here, because its
 * own SVG renderer is asynchronous and TemplateSet.render is not.
 */
export function qrImageDataUrl(text: string): string {
  const { modules } = QRCode.create(text, { errorCorrectionLevel: 'M' });
  const quiet = 4; // the quiet zone the QR standard requires around the symbol
  const size = modules.size;
  let d = '';
  for (let row = 0; row < size; row++) {
    // One rectangle per horizontal run of dark modules keeps the path short.
    let col = 0;
    while (col < size) {
      if (!modules.get(row, col)) {
        col++;
        continue;
      }
      const start = col;
      while (col < size && modules.get(row, col)) col++;
      d += `M${start + quiet} ${row + quiet}h${col - start}v1h${start - col}z`;
    }
  }
  const box = size + 2 * quiet;
  const svg =
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${box} ${box}" ` +
    `shape-rendering="crispEdges"><rect width="${box}" height="${box}" fill="#fff"/>` +
    `<path d="${d}" fill="#000"/></svg>`;
  return `data:image/svg+xml;base64,${Buffer.from(svg).toString('base64')}`;
}

/** The compiled document templates, one per document kind, sharing the layout partials. */
export class TemplateSet {
  private constructor(
    private readonly templates: ReadonlyMap<DocumentKind, HandlebarsTemplateDelegate>,
    /** The hall's name as printed in every header; the issuing organ of its own notices. */
    readonly hallName: string,
  ) {}

  /** Reads and compiles every template and partial once; throws if a kind has no template. */
  static load(options: TemplateSetOptions = {}): TemplateSet {
    const dir = options.dir ?? TEMPLATE_DIR;
    // A private environment, so partials and helpers never leak into other Handlebars users.
    const hbs = Handlebars.create();
    for (const [name, fn] of Object.entries(HELPERS)) hbs.registerHelper(name, fn);

    const partialDir = path.join(dir, 'partials');
    for (const file of readdirSync(partialDir)) {
      if (!file.endsWith('.hbs')) continue;
      const source = readFileSync(path.join(partialDir, file), 'utf8');
      hbs.registerPartial(path.basename(file, '.hbs'), hbs.compile(source, COMPILE_OPTIONS));
    }

    const templates = new Map<DocumentKind, HandlebarsTemplateDelegate>();
    for (const kind of Object.keys(REQUIRED_FIELDS)) {
      if (!isDocumentKind(kind)) continue;
      const source = readFileSync(path.join(dir, `${kind}.hbs`), 'utf8');
      const template = hbs.compile(source, COMPILE_OPTIONS);
      // Compile now, not lazily on first render, so a syntax error fails at startup.
      template({ qrImage: '', hallName: '' });
      templates.set(kind, template);
    }
    return new TemplateSet(templates, options.hallName ?? HALL_NAME);
  }

  /**
   * Renders one document to HTML after checking it is complete (throws DocumentIncompleteError
   * otherwise); user data is HTML-escaped and never interpreted as template syntax.
   */
  render<K extends DocumentKind>(kind: K, data: DocumentData<K>): string {
    assertComplete(kind, data);
    const template = this.templates.get(kind);
    if (!template) throw new Error(`no template for document kind: ${kind}`);
    return template({ ...data, hallName: this.hallName, qrImage: qrImageDataUrl(data.verifyUrl) });
  }
}

/**
 * The text of every document template and partial in dir (the printed ones: `<kind>.hbs` and
 * `partials/*.hbs`), markup included: what the renderer's core faces are made of.
 */
export function templateText(dir: string = TEMPLATE_DIR): string {
  const files = [
    ...readdirSync(dir).map((file) => path.join(dir, file)),
    ...readdirSync(path.join(dir, 'partials')).map((file) => path.join(dir, 'partials', file)),
  ];
  return files
    .filter((file) => file.endsWith('.hbs'))
    .map((file) => readFileSync(file, 'utf8'))
    .join('\n');
}

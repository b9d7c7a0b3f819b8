// Small fonts for the documents. Chromium copies every font file a page uses into each print
// job and parses it again there, so a PDF costs more the more font bytes it touches: the GB2312
// faces are 2.9 MB a weight, of which a document uses a few hundred of 7,800 glyphs. Two smaller
// fonts stand in for each weight:
// - the core: the characters of the document templates (and ASCII and CJK punctuation), the
//   same for every document, given to Chromium through fontconfig like the whole face, so its
//   glyphs stay cached in the browser from one document to the next;
// - the rest of one document's characters (a name, an address, the reasons), cut from the
//   whole face for that document alone and embedded in it as a web font: a few KB.
// Measured as Chromium's CPU time per receipt (on a loaded machine, so wall times meant
// little): 65-70 ms with the whole faces, 51-55 with these two, 46 with a single font of exactly
// the receipt's characters. One web font of all of a document's characters, nothing shared
// between documents, cost more than the whole faces (94 ms): the browser then lays out every
// glyph from a font it has never seen.
// The subsetting is HarfBuzz's own (the hb-subset build that the harfbuzzjs package ships), on a
// face loaded and preprocessed once per process: a subset takes a millisecond or two.
import { rmSync } from 'node:fs';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

/** The weights the documents print in, as CSS font-weight values. */
export type FontWeight = 400 | 700;

/** The font file of each weight. */
export type FontFiles = Readonly<Record<FontWeight, string>>;

// The part of hb-subset's C API used here; pointers are offsets into the module's memory.
interface HarfBuzzSubsetExports {
  memory: { readonly buffer: ArrayBuffer };
  _initialize(): void;
  malloc(size: number): number;
  free(ptr: number): void;
  hb_blob_create(data: number, length: number, mode: number, user: number, destroy: number): number;
  hb_blob_destroy(blob: number): void;
  hb_blob_get_data(blob: number, length: number): number;
  hb_blob_get_length(blob: number): number;
  hb_face_create(blob: number, index: number): number;
  hb_face_destroy(face: number): void;
  hb_face_reference_blob(face: number): number;
  hb_subset_preprocess(face: number): number;
  hb_subset_input_create_or_fail(): number;
  hb_subset_input_destroy(input: number): void;
  hb_subset_input_unicode_set(input: number): number;
  hb_subset_or_fail(face: number, input: number): number;
  hb_set_add(set: number, codepoint: number): void;
}

// Node's WebAssembly global; the project's type library (ES2022, no DOM) does not declare it.
const { WebAssembly: wasmApi } = globalThis as unknown as {
  WebAssembly: { instantiate(bytes: Uint8Array): Promise<{ instance: { exports: unknown } }> };
};

// hb_memory_mode_t: HarfBuzz reads the font in place and never writes to it.
const HB_MEMORY_MODE_READONLY = 1;

// Always in the core: printable ASCII (CSS counters print digits that are not in the HTML),
// Latin-1 punctuation, general punctuation (dashes, quotes, ellipsis) and CJK symbols and
// punctuation, and the full-width forms of ASCII.
const CORE_RANGES: ReadonlyArray<readonly [number, number]> = [
  [0x20, 0x7e],
  [0xa0, 0xbf],
  [0xd7, 0xd7],
  [0x2010, 0x2027],
  [0x3000, 0x303f],
  [0xff01, 0xff5e],
];

let hbPromise: Promise<HarfBuzzSubsetExports> | null = null;

function harfBuzz(): Promise<HarfBuzzSubsetExports> {
  hbPromise ??= (async () => {
    const wasm = await readFile(require.resolve('harfbuzzjs/dist/harfbuzz-subset.wasm'));
    const { instance } = await wasmApi.instantiate(wasm);
    const hb = instance.exports as unknown as HarfBuzzSubsetExports;
    hb._initialize();
    return hb;
  })();
  hbPromise.catch(() => {
    hbPromise = null; // a failed load (a missing file) is tried again by the next caller
  });
  return hbPromise;
}

/** A font file could not be read or is not a font HarfBuzz can subset. */
export class FontSubsetError extends Error {
  /** Names the file or the step that failed. */
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'FontSubsetError';
  }
}

/**
 * The code points a document's HTML can print: every character of the source, plus those
 * written as numeric character references (`&#x6C34;`), plus printable ASCII. Markup and CSS
 * bring some ASCII letters too, which costs nothing worth saving.
 */
export function codePointsOf(html: string): Set<number> {
  const points = new Set<number>();
  for (const char of html) points.add(char.codePointAt(0) as number);
  for (const match of html.matchAll(/&#(?:[xX]([0-9a-fA-F]{1,6})|([0-9]{1,7}));/g)) {
    const value = match[1] !== undefined ? parseInt(match[1], 16) : Number(match[2]);
    if (value <= 0x10ffff) points.add(value);
  }
  return points;
}

/** The documents' faces loaded once, cut down on demand to the characters of one document. */
export class FontSubsetter {
  private constructor(
    private readonly hb: HarfBuzzSubsetExports,
    private readonly faces: ReadonlyMap<FontWeight, number>,
  ) {}

  /** Reads and preprocesses each weight's file; rejects with FontSubsetError if one fails. */
  static async load(files: FontFiles): Promise<FontSubsetter> {
    const hb = await harfBuzz();
    const faces = new Map<FontWeight, number>();
    for (const weight of [400, 700] as const) {
      let data: Buffer;
      try {
        data = await readFile(files[weight]);
      } catch (err) {
        throw new FontSubsetError(`cannot read ${files[weight]}`, { cause: err });
      }
      // The copy in the module's memory lives as long as the process: the face reads it there.
      const ptr = hb.malloc(data.length);
      new Uint8Array(hb.memory.buffer).set(data, ptr);
      const blob = hb.hb_blob_create(ptr, data.length, HB_MEMORY_MODE_READONLY, 0, 0);
      const face = hb.hb_face_create(blob, 0);
      hb.hb_blob_destroy(blob); // the face holds its own reference
      // Preprocessing builds once the tables every later subset of this face would rebuild.
      const prepared = hb.hb_subset_preprocess(face);
      hb.hb_face_destroy(face);
      if (!prepared) throw new FontSubsetError(`${files[weight]}: HarfBuzz cannot read it`);
      faces.set(weight, prepared);
    }
    return new FontSubsetter(hb, faces);
  }

  /**
   * A TrueType font holding the glyphs of these code points (those the face has) and what its
   * layout features reach from them, with the face's names, so the PDF names it as before.
   */
  subset(weight: FontWeight, codePoints: Iterable<number>): Buffer {
    const { hb } = this;
    const face = this.faces.get(weight) as number;
    const input = hb.hb_subset_input_create_or_fail();
    if (!input) throw new FontSubsetError('HarfBuzz could not allocate a subset input');
    let subset = 0;
    try {
      const unicodes = hb.hb_subset_input_unicode_set(input);
      for (const point of codePoints) hb.hb_set_add(unicodes, point);
      subset = hb.hb_subset_or_fail(face, input);
    } finally {
      hb.hb_subset_input_destroy(input);
    }
    if (!subset) throw new FontSubsetError(`HarfBuzz could not subset the ${weight} face`);
    const blob = hb.hb_face_reference_blob(subset);
    try {
      const data = hb.hb_blob_get_data(blob, 0);
      const length = hb.hb_blob_get_length(blob);
      // A fresh view: the module's memory may have grown (and moved) while subsetting.
      return Buffer.from(new Uint8Array(hb.memory.buffer, data, length));
    } finally {
      hb.hb_blob_destroy(blob);
      hb.hb_face_destroy(subset);
    }
  }
}

/** The core fonts on disk and what they hold; see the head of this file. */
export class DocumentFonts {
  private constructor(
    private readonly subsetter: FontSubsetter,
    private readonly core: ReadonlySet<number>,
    /** Fontconfig file naming the system's fonts and the core faces. */
    readonly fontconfigFile: string,
    /** Directory of the core faces and of fontconfig's cache of them. */
    readonly dir: string,
  ) {}

  /**
   * Cuts the core faces (coreText's characters, plus punctuation) from the whole ones into a
   * new temporary directory, with a fontconfig file that adds them to the system's fonts.
   */
  static async create(files: FontFiles, coreText: string): Promise<DocumentFonts> {
    const subsetter = await FontSubsetter.load(files);
    const core = codePointsOf(coreText);
    for (const [first, last] of CORE_RANGES) for (let p = first; p <= last; p++) core.add(p);
    const dir = await mkdtemp(path.join(os.tmpdir(), 'onedoor-fonts-'));
    for (const weight of [400, 700] as const) {
      const file = path.join(dir, path.basename(files[weight]));
      await writeFile(file, subsetter.subset(weight, core));
    }
    // The cache directory comes first, so fontconfig writes the cache of these faces in dir.
    const fontconfigFile = path.join(dir, 'fonts.conf');
    await writeFile(
      fontconfigFile,
      [
        '<?xml version="1.0"?>',
        '<!DOCTYPE fontconfig SYSTEM "urn:fontconfig:fonts.dtd">',
        '<fontconfig>',
        `  <cachedir>${path.join(dir, 'cache')}</cachedir>`,
        '  <include ignore_missing="yes">/etc/fonts/fonts.conf</include>',
        `  <dir>${dir}</dir>`,
        '</fontconfig>',
        '',
      ].join('\n'),
    );
    return new DocumentFonts(subsetter, core, fontconfigFile, dir);
  }

  /** The code points of this HTML (codePointsOf) that the core faces do not hold, ascending. */
  beyondCore(html: string): number[] {
    return [...codePointsOf(html)].filter((p) => !this.core.has(p)).sort((a, b) => a - b);
  }

  /** A subset of the whole face of this weight, holding these code points. */
  subset(weight: FontWeight, codePoints: Iterable<number>): Buffer {
    return this.subsetter.subset(weight, codePoints);
  }
}

const loaded = new Map<string, Promise<DocumentFonts>>();
const dirs = new Set<string>();
let removeAtExit = false;

/**
 * DocumentFonts.create, once per process for the same files and text (a failed one is tried
 * again); the directories go when the process exits.
 */
export function loadDocumentFonts(files: FontFiles, coreText: string): Promise<DocumentFonts> {
  const key = `${files[400]}\n${files[700]}\n${coreText}`;
  let fonts = loaded.get(key);
  if (!fonts) {
    fonts = DocumentFonts.create(files, coreText).then((created) => {
      dirs.add(created.dir);
      if (!removeAtExit) {
        removeAtExit = true;
        process.once('exit', () => {
          for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
        });
      }
      return created;
    });
    loaded.set(key, fonts);
    fonts.catch(() => loaded.delete(key));
  }
  return fonts;
}

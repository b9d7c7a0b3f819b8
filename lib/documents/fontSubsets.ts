// Per-document subsets of the documents' typeface. Chromium copies every font file a page uses
// into each print job and parses it again there, so the cost of a PDF grows with the bytes of
// the fonts it touches: the GB2312 faces are 2.9 MB a weight, a document uses a few hundred of
// their 7,800 glyphs, and a subset of just those (about 70 KB) halves the print time. The
// subsetting is HarfBuzz's own (the hb-subset build that the harfbuzzjs package ships), on a
// face loaded and preprocessed once per process, which brings one subset to a millisecond or two.
import { readFile } from 'node:fs/promises';

/** The weights the documents print in, as CSS font-weight values. */
export type FontWeight = 400 | 700;

/** The font file of each weight. */
export type FontFiles = Readonly<Record<FontWeight, string>>;

// The part of hb-subset's C API used here; pointers are offsets into the module's memory.
interface HarfBuzzSubsetExports {
  memory: WebAssembly.Memory;
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

// hb_memory_mode_t: HarfBuzz reads the font in place and never writes to it.
const HB_MEMORY_MODE_READONLY = 1;

// Characters a page may print that do not appear as such in its HTML: the digits of CSS
// counters (the material numbers) and the rest of printable ASCII, a few kilobytes in all.
const ALWAYS = [0x20, 0x7e] as const;

let hbPromise: Promise<HarfBuzzSubsetExports> | null = null;

function harfBuzz(): Promise<HarfBuzzSubsetExports> {
  hbPromise ??= (async () => {
    const wasm = await readFile(require.resolve('harfbuzzjs/dist/harfbuzz-subset.wasm'));
    const { instance } = await WebAssembly.instantiate(wasm);
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
      for (let point = ALWAYS[0]; point <= ALWAYS[1]; point++) hb.hb_set_add(unicodes, point);
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

const loaded = new Map<string, Promise<FontSubsetter>>();

/** FontSubsetter.load, once per set of files in a process (a failed load is tried again). */
export function loadFontSubsetter(files: FontFiles): Promise<FontSubsetter> {
  const key = `${files[400]}\n${files[700]}`;
  let subsetter = loaded.get(key);
  if (!subsetter) {
    subsetter = FontSubsetter.load(files);
    loaded.set(key, subsetter);
    subsetter.catch(() => loaded.delete(key));
  }
  return subsetter;
}

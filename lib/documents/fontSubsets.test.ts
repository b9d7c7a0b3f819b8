// The document fonts, read back with fontconfig's own tools (fc-query, fc-match), so a test
// passes only if the font files really hold what HarfBuzz was asked for.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import test from 'ava';

import { codePointsOf, DocumentFonts, FontSubsetError, FontSubsetter } from './fontSubsets';
import { DEFAULT_FONT_FILES } from './renderer';

const run = promisify(execFile);
const points = (text: string): number[] => [...text].map((c) => c.codePointAt(0) as number);

// fc-query's view of a font file: family, PostScript name and the code points it maps.
async function query(file: string): Promise<string> {
  const format = '%{family}|%{postscriptname}|%{charset}';
  return (await run('fc-query', ['--format', format, file])).stdout;
}

// fc-query's charset, "41 3000-303f 53d7", as the set of code points it lists.
function expand(charset: string): Set<number> {
  const set = new Set<number>();
  for (const token of charset.split(' ').filter(Boolean)) {
    const [first, last = first] = token.split('-').map((hex) => parseInt(hex, 16));
    for (let p = first; p <= last; p++) set.add(p);
  }
  return set;
}

test.before(() => {
  if (!existsSync(DEFAULT_FONT_FILES[400]) || !existsSync(DEFAULT_FONT_FILES[700])) {
    throw new Error('the documents font is not built (scripts/ensure-fonts.sh)');
  }
});

test('codePointsOf counts numeric character references as the characters they stand for', (t) => {
  // 水 is U+6C34, 27700 in decimal; 𠮷 is U+20BB7.
  const found = codePointsOf('a&#x6C34;&#27700;&#x20bb7;');
  t.true(found.has(0x6c34));
  t.true(found.has(0x20bb7));
  t.true(found.has(0x61));
  t.false(found.has(0x20bb8));
});

test('a subset maps exactly the asked characters the face has, under its own names', async (t) => {
  const subsetter = await FontSubsetter.load(DEFAULT_FONT_FILES);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'onedoor-font-test-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'bold.ttf');
  // 𠮷 is outside GB2312, so not in the face: it is left out, not an error.
  await writeFile(file, subsetter.subset(700, points('受理A淼𠮷')));
  // A (41), 受 (53D7), 淼 (6DFC), 理 (7406).
  t.is(await query(file), 'Onedoor Serif GB|OnedoorSerifGB-Bold|41 53d7 6dfc 7406');
});

test('a missing font file is refused with the file named', async (t) => {
  const missing = path.join(os.tmpdir(), 'onedoor-no-such-font.ttf');
  const err = await t.throwsAsync(
    FontSubsetter.load({ 400: missing, 700: DEFAULT_FONT_FILES[700] }),
    { instanceOf: FontSubsetError },
  );
  t.true(err?.message.includes(missing));
});

test('the core faces hold the core text and punctuation, and fontconfig finds them', async (t) => {
  const fonts = await DocumentFonts.create(DEFAULT_FONT_FILES, '受理通知书');
  t.teardown(() => rm(fonts.dir, { recursive: true, force: true }));

  const regular = path.join(fonts.dir, path.basename(DEFAULT_FONT_FILES[400]));
  const charset = expand((await query(regular)).split('|')[2]);
  // 受 53D7, 理 7406, 通 901A, 知 77E5, 书 4E66; 、 3001, 。 3002 and 〔 3014 are punctuation,
  // A 41 is ASCII; 淼 6DFC is none of these.
  for (const point of [0x53d7, 0x7406, 0x901a, 0x77e5, 0x4e66, 0x3001, 0x3002, 0x3014, 0x41]) {
    t.true(charset.has(point), point.toString(16));
  }
  t.false(charset.has(0x6dfc));
  t.true(charset.size < 700, `${charset.size} code points`);

  const env = { ...process.env, FONTCONFIG_FILE: fonts.fontconfigFile };
  const { stdout } = await run('fc-match', ['--format', '%{file}', 'Onedoor Serif GB'], { env });
  t.is(path.dirname(stdout), fonts.dir);

  // Only what the core lacks is left for a document's own font, in code point order.
  t.deepEqual(fonts.beyondCore('<p>淼受理通知书。鑫</p>'), [0x6dfc, 0x946b]);
});

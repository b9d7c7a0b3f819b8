// Renders each changed template, old (HEAD) and new, with many random contexts and compares.
const H = require('handlebars');
const { execFileSync } = require('child_process');
const fs = require('fs');
const path = require('path');
const changed = execFileSync('git', ['diff', '--name-only', 'HEAD', '--', 'templates'], { encoding: 'utf8' })
  .split('\n').filter((f) => f.endsWith('.hbs'));
const old = (f) => { try { return execFileSync('git', ['show', `HEAD:${f}`], { encoding: 'utf8' }); } catch { return null; } };
const partialFiles = fs.readdirSync('templates/partials').filter((f) => f.endsWith('.hbs'));
function env(version) {
  const h = H.create();
  h.registerHelper('eq', (a, b) => a === b);
  for (const p of partialFiles) {
    const f = `templates/partials/${p}`;
    h.registerPartial(path.basename(p, '.hbs'), version === 'old' ? old(f) : fs.readFileSync(f, 'utf8'));
  }
  return h;
}
const hOld = env('old'), hNew = env('new');
let seed = 1;
const rnd = () => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed / 0x7fffffff; };
function idents(src) {
  const s = new Set();
  for (const m of src.matchAll(/\{\{[^}]*\}\}/g)) for (const w of m[0].matchAll(/[A-Za-z_][A-Za-z0-9_]*/g)) s.add(w[0]);
  for (const m of src.matchAll(/"([^"]*)"/g)) s.add('"' + m[1]);
  return [...s];
}
function value(names, lits, depth) {
  const r = rnd();
  if (r < 0.2) return undefined;
  if (r < 0.3) return '';
  if (r < 0.4 && lits.length) return lits[Math.floor(rnd() * lits.length)];
  if (r < 0.55 && depth < 2) return [ctx(names, lits, depth + 1), `s${Math.floor(rnd() * 9)}`, ctx(names, lits, depth + 1)].slice(0, 1 + Math.floor(rnd() * 3));
  if (r < 0.65 && depth < 2) return ctx(names, lits, depth + 1);
  if (r < 0.7) return true;
  return ` v${Math.floor(rnd() * 99)} `;
}
function ctx(names, lits, depth = 0) {
  const o = {};
  for (const n of names) o[n] = value(names, lits, depth);
  return o;
}
let bad = 0;
const allPartials = partialFiles.map((p) => fs.readFileSync(`templates/partials/${p}`, 'utf8')).join('');
for (const f of changed) {
  const isNote = f.includes('notifications/');
  const opts = isNote ? { noEscape: true, knownHelpersOnly: true, preventIndent: true } : { knownHelpers: { eq: true }, knownHelpersOnly: true, preventIndent: true };
  const isPartial = f.includes('partials/');
  const docs = isPartial ? fs.readdirSync('templates').filter((x) => x.endsWith('.hbs')).map((x) => `templates/${x}`) : [f];
  for (const d of docs) {
    const so = old(d), sn = process.env.MUTATE ? fs.readFileSync(d, 'utf8').replace('（暂定）', '（暂 定）').replace('依法受理。', '依法受理 。').replace('{{~', '{{') : fs.readFileSync(d, 'utf8');
    const all = idents(sn + (isNote ? '' : allPartials));
    const names = all.filter((x) => !x.startsWith('"')), lits = all.filter((x) => x.startsWith('"')).map((x) => x.slice(1));
    const to = (isNote ? H.create() : hOld).compile(so, opts), tn = (isNote ? H.create() : hNew).compile(sn, opts);
    let n = 0;
    for (let i = 0; i < 400; i++) {
      const c = ctx(names, lits);
      const a = to(c), b = tn(c);
      const norm = (s) => (isNote ? s : s.replace(/>\s+</g, '><'));
      if (norm(a) !== norm(b)) { bad++; if (n++ < 1) console.log('DIFF', d, JSON.stringify(a).slice(0, 300), '\n', JSON.stringify(b).slice(0, 300)); }
      if (isNote && a !== b) { /* exact for plain text */ }
    }
    console.log(d, n ? 'DIFFERS' : 'same');
  }
}
process.exit(bad ? 1 : 0);

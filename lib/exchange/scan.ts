/**
 * A bounded scan of an XML text's element structure, run before any parser sees the text: it
 * measures nesting depth and counts the root's children (so a deep or huge document is refused
 * cheaply), and it finds the exact character spans of the elements, which the signature is
 * computed over. It understands comments, CDATA, processing instructions and quoted attribute
 * values; declarations (<!DOCTYPE ...>) are never accepted. One linear pass, no recursion.
 */

/** The position of one element in the text, offsets in UTF-16 code units. */
export interface ElementSpan {
  /** The name as written, prefix included. */
  name: string;
  /** The name without its namespace prefix. */
  localName: string;
  /** The `<` of the start tag. */
  start: number;
  /** Just after the `>` of the start tag. */
  contentStart: number;
  /** The `<` of the end tag (equal to contentStart for an empty-element tag). */
  contentEnd: number;
  /** Just after the `>` of the end tag. */
  end: number;
  selfClosing: boolean;
  /** Child elements, kept for the first `keepDepth` levels only. */
  children: ElementSpan[];
}

/** Why a text's structure is refused. */
export class ScanError extends Error {
  override readonly name = 'ScanError';
  constructor(
    readonly reason: 'malformed' | 'too_deep',
    message: string,
  ) {
    super(message);
  }
}

const LT = 0x3c;
const GT = 0x3e;
const SLASH = 0x2f;
const DQUOTE = 0x22;
const SQUOTE = 0x27;

const isNameEnd = (c: number): boolean =>
  c === GT || c === SLASH || c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;

function localOf(name: string): string {
  const colon = name.indexOf(':');
  return colon < 0 ? name : name.slice(colon + 1);
}

/** Scans `text` for its elements; refuses it when nesting passes `maxDepth` or it is malformed. */
export function scanElements(
  text: string,
  opts: { maxDepth: number; keepDepth?: number },
): ElementSpan {
  const keepDepth = opts.keepDepth ?? 3;
  const stack: ElementSpan[] = [];
  let root: ElementSpan | undefined;
  let i = 0;

  const skipTo = (marker: string, from: number, what: string): number => {
    const at = text.indexOf(marker, from);
    if (at < 0) throw new ScanError('malformed', `unterminated ${what}`);
    return at + marker.length;
  };

  for (;;) {
    const lt = text.indexOf('<', i);
    const textEnd = lt < 0 ? text.length : lt;
    if (stack.length === 0 && text.slice(i, textEnd).trim() !== '') {
      throw new ScanError('malformed', 'text outside the root element');
    }
    if (lt < 0) break;

    if (text.startsWith('<!--', lt)) {
      i = skipTo('-->', lt + 4, 'comment');
      continue;
    }
    if (text.startsWith('<![CDATA[', lt)) {
      if (stack.length === 0) throw new ScanError('malformed', 'CDATA outside the root element');
      i = skipTo(']]>', lt + 9, 'CDATA section');
      continue;
    }
    if (text.startsWith('<?', lt)) {
      i = skipTo('?>', lt + 2, 'processing instruction');
      continue;
    }
    if (text.startsWith('<!', lt)) {
      throw new ScanError('malformed', 'markup declarations are not accepted');
    }

    if (text.charCodeAt(lt + 1) === SLASH) {
      const gt = text.indexOf('>', lt + 2);
      if (gt < 0) throw new ScanError('malformed', 'unterminated end tag');
      const name = text.slice(lt + 2, gt).trimEnd();
      const open = stack.pop();
      if (!open || open.name !== name) {
        throw new ScanError('malformed', `end tag </${name}> does not close <${open?.name ?? ''}>`);
      }
      open.contentEnd = lt;
      open.end = gt + 1;
      i = gt + 1;
      continue;
    }

    // A start tag: its name, then attributes, whose quoted values may hold `>` and `/`.
    let j = lt + 1;
    while (j < text.length && !isNameEnd(text.charCodeAt(j))) j++;
    const name = text.slice(lt + 1, j);
    if (name === '' || name.includes('<')) throw new ScanError('malformed', 'a tag without a name');
    let selfClosing = false;
    let closed = false;
    while (j < text.length) {
      const c = text.charCodeAt(j);
      if (c === GT) {
        j++;
        closed = true;
        break;
      }
      if (c === SLASH && text.charCodeAt(j + 1) === GT) {
        j += 2;
        selfClosing = true;
        closed = true;
        break;
      }
      if (c === DQUOTE || c === SQUOTE) {
        const q = text.indexOf(c === DQUOTE ? '"' : "'", j + 1);
        if (q < 0) throw new ScanError('malformed', 'unterminated attribute value');
        j = q + 1;
        continue;
      }
      if (c === LT) throw new ScanError('malformed', `"<" inside the tag <${name}>`);
      j++;
    }
    if (!closed) throw new ScanError('malformed', `unterminated start tag <${name}>`);
    if (root && stack.length === 0) throw new ScanError('malformed', 'more than one root element');
    if (stack.length + 1 > opts.maxDepth) {
      throw new ScanError('too_deep', `elements nest deeper than ${opts.maxDepth} levels`);
    }

    const span: ElementSpan = {
      name,
      localName: localOf(name),
      start: lt,
      contentStart: j,
      contentEnd: j,
      end: j,
      selfClosing,
      children: [],
    };
    const parent = stack[stack.length - 1];
    if (!parent) root = span;
    else if (stack.length < keepDepth) parent.children.push(span);
    if (!selfClosing) stack.push(span);
    i = j;
  }

  if (stack.length > 0) throw new ScanError('malformed', `<${stack[0].name}> is never closed`);
  if (!root) throw new ScanError('malformed', 'no root element');
  return root;
}

/** Issued documents in tests: the document service as the worker builds it, and PDF text. */
import type { ExecutionContext } from 'ava';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { SnapshotCalendar } from '../../activities/calendarService';
import { loadHallSettings, RegisterDocumentService } from '../../activities/documentService';
import type { Config } from '../../lib/config';
import type { PdfRenderer } from '../../lib/documents/renderer';
import type { TemplateSet } from '../../lib/documents/templates';

const run = promisify(execFile);

/**
 * A PDF's text as pdftotext -layout reads it, with all whitespace removed: -layout pads columns
 * and breaks lines, so assertions compare fragments with their whitespace removed too.
 */
export async function squashedPdfText(t: ExecutionContext<any>, pdf: Buffer): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'onedoor-pdf-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'document.pdf');
  await writeFile(file, pdf);
  const { stdout } = await run('pdftotext', ['-layout', '-enc', 'UTF-8', file, '-']);
  return stdout.replace(/\s+/g, '');
}

/** The register document service over a test register, with the hall settings of `config`. */
export function documentServiceOf(
  register: ConstructorParameters<typeof RegisterDocumentService>[0],
  {
    templates,
    renderer,
    config,
  }: { templates: TemplateSet; renderer: PdfRenderer; config: Config },
): RegisterDocumentService {
  return new RegisterDocumentService(
    register,
    templates,
    renderer,
    loadHallSettings(config.DATA_PATH),
    new SnapshotCalendar(),
    config,
    config.DOCUMENT_SECRET,
  );
}

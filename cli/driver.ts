import { readFileSync } from 'node:fs';
import path from 'node:path';

/** One step of a reference application's script (data/README.md). */
export type ScriptStep =
  | { step: 'intake'; decision: 'accept'; concludeAtIntake?: 'approve' | 'deny' }
  | { step: 'intake'; decision: 'requestCorrection'; missing: string[] }
  | {
      step: 'intake';
      decision: 'refuseToAccept';
      reasonCode: string;
      reasons: string;
      competentOrgan?: string;
    }
  | { step: 'supplement'; materials: string[] }
  | {
      step: 'conclude';
      department: string;
      decision: 'approve' | 'deny';
      task?: string;
      reasons?: string;
    }
  | { step: 'pay'; fees: string[] }
  | { step: 'withdraw'; reasons: string };

/** One synthetic application of data/applications.json. */
export interface ReferenceApplication {
  id: string;
  item: string;
  applicant: Record<string, unknown>;
  channels: string[];
  materials: string[];
  receivedAt?: string;
  script: ScriptStep[];
  note: string;
}

/** Reads the reference batch. */
export function loadApplications(dataPath: string): ReferenceApplication[] {
  const raw = JSON.parse(readFileSync(path.join(dataPath, 'applications.json'), 'utf8')) as {
    applications: ReferenceApplication[];
  };
  return raw.applications;
}

/** What became of one application played through the hall. */
export interface PlayResult {
  id: string;
  caseNumber?: string;
  status?: string;
  outcome?: string;
  skipped: string[];
  error?: string;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** A small client of the hall's REST API, as a counter terminal or a department system uses it. */
export class HallClient {
  constructor(private readonly baseUrl: string) {}

  async call<T>(method: string, url: string, token: string, body?: unknown): Promise<T> {
    const res = await fetch(`${this.baseUrl}${url}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = (await res.json()) as { error?: { code: string; message: string } } & T;
    if (!res.ok)
      throw new HttpError(
        res.status,
        json.error?.code ?? 'unknown',
        json.error?.message ?? res.statusText,
      );
    return json;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Plays one application's script through the API: the clerk of the item's department submits
 * and decides intake, each department's officer concludes its task, and an approved licence is
 * collected. A conclusion for a task still waiting on its prerequisites is retried.
 */
export async function playApplication(
  client: HallClient,
  app: ReferenceApplication,
  leadDepartment: string,
  bankUrl?: string,
): Promise<PlayResult> {
  const clerk = `dev-clerk-${leadDepartment}`;
  const result: PlayResult = { id: app.id, skipped: [] };
  type CaseBody = { case: { caseNumber: string; status: string; outcome?: string } };
  const created = await client.call<CaseBody>('POST', '/cases', clerk, {
    item: app.item,
    applicant: app.applicant,
    channels: app.channels,
    materials: app.materials,
    receivedAt: app.receivedAt,
  });
  const caseNumber = created.case.caseNumber;
  result.caseNumber = caseNumber;
  const at = `/cases/${encodeURIComponent(caseNumber)}`;

  for (const step of app.script) {
    switch (step.step) {
      case 'intake': {
        const { step: _s, ...decision } = step;
        // The clerk names the fee lines at acceptance: those the applicant will pay.
        const pay = app.script.find((s) => s.step === 'pay');
        const fees = decision.decision === 'accept' && pay?.step === 'pay' ? pay.fees : undefined;
        await client.call('POST', `${at}/intake`, clerk, { ...decision, fees });
        break;
      }
      case 'supplement':
        await client.call('POST', `${at}/supplement`, clerk, { materials: step.materials });
        break;
      case 'conclude': {
        const body = { task: step.task, decision: step.decision, reasons: step.reasons };
        for (let attempt = 0; ; attempt++) {
          try {
            await client.call('POST', `${at}/conclusion`, `dev-officer-${step.department}`, body);
            break;
          } catch (err) {
            // A dependent task opens only when its prerequisite concludes: wait for it.
            const retry = err instanceof HttpError && err.code === 'invalid_state' && attempt < 100;
            if (!retry) throw err;
            await sleep(100);
          }
        }
        break;
      }
      case 'withdraw':
        await client.call('POST', `${at}/withdrawal`, clerk, { reasons: step.reasons });
        break;
      case 'pay': {
        // The applicant pays the notice at the bank (the emulator's payer endpoint).
        type Notices = { notices: { bankOrderId: string | null; status: string }[] };
        let orderId: string | null = null;
        for (let i = 0; i < 100 && !orderId; i++) {
          const found = await client.call<Notices>(
            'GET',
            `/payments?caseNumber=${caseNumber}`,
            'dev-supervisor',
          );
          orderId = found.notices.find((n) => n.bankOrderId)?.bankOrderId ?? null;
          if (!orderId) await sleep(100);
        }
        if (!orderId || !bankUrl) {
          result.skipped.push(`pay ${step.fees.join(',')}: no payment notice at the bank`);
          break;
        }
        const paid = await fetch(`${bankUrl}/orders/${encodeURIComponent(orderId)}/pay`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: '{}',
        });
        if (!paid.ok) result.skipped.push(`pay: the bank answered ${paid.status}`);
        break;
      }
    }
  }

  // Conclusion is joined asynchronously; wait for the case to settle, then collect a licence.
  let detail: CaseBody = created;
  for (let i = 0; i < 200; i++) {
    detail = await client.call<CaseBody>('GET', at, clerk);
    if (!['accepted', 'submitted'].includes(detail.case.status) || app.script.length === 0) break;
    if (detail.case.status === 'accepted' && app.script.every((s) => s.step !== 'conclude')) break;
    await sleep(50);
  }
  if (detail.case.status === 'concluded' && detail.case.outcome === 'approved') {
    // A licence with a fee is handed over once the bank's confirmation is in.
    for (let attempt = 0; ; attempt++) {
      try {
        detail = await client.call<CaseBody>('POST', `${at}/collection`, clerk);
        break;
      } catch (err) {
        const pending = err instanceof HttpError && err.code === 'payment_pending' && attempt < 100;
        if (!pending) throw err;
        await sleep(200);
      }
    }
  }
  result.status = detail.case.status;
  result.outcome = detail.case.outcome ?? undefined;
  return result;
}

export { HttpError };

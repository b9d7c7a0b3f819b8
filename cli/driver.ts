import { readFileSync } from 'node:fs';
import path from 'node:path';
import { hallCaseNumberOf } from '../api/exchange/hooks';
import type { DepartmentSimulator, SimulatedMessage } from '../emulators/departmentSimulator';
import type { ExchangeApplicant } from '../lib/exchange/types';

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
  /** How it was played; absent: through the hall's intake. */
  via?: PlayRoute;
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

/** How one reference application is played: through the hall's intake or the exchange. */
export type PlayRoute = 'intake' | 'exchange';

/**
 * The route of an application. A department with its own system (`hasOwnSystem`) accepts and
 * decides its own cases and reports them through the exchange (复合行政许可模式), so its
 * applications go that way — except what only the hall can do: a joint case is accepted once at
 * the hall's lead counter, a fee is paid against the hall's payment notice, and a refusal to
 * accept or a withdrawal has no exchange message (such a case never reaches the hall).
 */
export function routeOf(
  app: ReferenceApplication,
  item: { department: string; kind: string },
  hasOwnSystem: (department: string) => boolean,
): PlayRoute {
  if (!hasOwnSystem(item.department) || item.kind === 'joint') return 'intake';
  const hallOnly = app.script.some(
    (s) =>
      s.step === 'pay' ||
      s.step === 'withdraw' ||
      (s.step === 'intake' && s.decision === 'refuseToAccept') ||
      (s.step === 'conclude' && s.department !== item.department),
  );
  return hallOnly ? 'intake' : 'exchange';
}

/** The applicant as a department system reports it: the fields the exchange carries. */
function exchangeApplicant(applicant: Record<string, unknown>): ExchangeApplicant {
  const pick = (key: string) => (typeof applicant[key] === 'string' ? applicant[key] : undefined);
  return {
    type: applicant.type === 'person' ? 'person' : 'company',
    name: String(applicant.name),
    idNumber: applicant.type === 'person' ? pick('idNumber') : undefined,
    creditCode: pick('creditCode'),
    phone: pick('phone'),
    email: pick('email'),
  };
}

const ACK_STATUS = /<(?:\w+:)?status>(\w+)</;

/** Pushes one message until the hall answers it for good; a refusal is an error. */
async function push(simulator: DepartmentSimulator, message: SimulatedMessage): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    const answer = await simulator.send(message);
    const status = ACK_STATUS.exec(answer.body)?.[1];
    if (answer.status === 200 && status === 'accepted') return;
    if (answer.status === 200 || answer.status === 422 || attempt >= 20) {
      throw new Error(`${message.type} ${message.messageId}: ${answer.status} ${answer.body}`);
    }
    await sleep(250 * (attempt + 1));
  }
}

/**
 * Plays one application as its department's own system would, through the exchange: the
 * correction (if any) happens in that system; then caseAccepted, and for each decision
 * statusChanged and caseConcluded. A pushing system sends each message to the hall; a system
 * in polling mode only writes them to its outbox, which the hall's schedule fetches.
 */
export async function playThroughExchange(
  client: HallClient,
  simulator: DepartmentSimulator,
  app: ReferenceApplication,
  opts: { polled: boolean; run: string },
): Promise<PlayResult> {
  const department = simulator.department;
  const clerk = `dev-clerk-${department}`;
  const departmentCase = `${app.id}-${opts.run}`;
  const caseNumber = hallCaseNumberOf(department, departmentCase);
  const result: PlayResult = { id: app.id, caseNumber, skipped: [], via: 'exchange' };
  const at = `/cases/${encodeURIComponent(caseNumber)}`;
  const deliver = (m: SimulatedMessage) => (opts.polled ? Promise.resolve() : push(simulator, m));
  type CaseBody = { case: { caseNumber: string; status: string; outcome?: string } };
  const read = async (): Promise<CaseBody | undefined> => {
    try {
      return await client.call<CaseBody>('GET', at, clerk);
    } catch (err) {
      if (err instanceof HttpError && err.status === 404) return undefined;
      throw err;
    }
  };
  const waitFor = async (ok: (c: CaseBody) => boolean, what: string): Promise<CaseBody> => {
    for (let i = 0; i < 600; i++) {
      const found = await read();
      if (found && ok(found)) return found;
      await sleep(100);
    }
    throw new Error(`${caseNumber} did not reach ${what}`);
  };

  const receivedAt = app.receivedAt ?? new Date().toISOString();
  const supplements = app.script.flatMap((s) => (s.step === 'supplement' ? s.materials : []));
  const intake = app.script.find((s) => s.step === 'intake' && s.decision === 'accept');
  await deliver(
    simulator.caseAccepted({
      caseNumber: departmentCase,
      itemCode: app.item,
      receivedAt,
      // A case taken over in progress was accepted when it was received.
      acceptedAt: app.receivedAt ?? new Date().toISOString(),
      applicant: exchangeApplicant(app.applicant),
      materials: [...new Set([...app.materials, ...supplements])],
      channels: app.channels.filter((c): c is 'sms' | 'email' => c === 'sms' || c === 'email'),
    }),
  );
  await waitFor((c) => c.case.status !== 'submitted', 'acceptance');

  const decisions = app.script.flatMap((s) => (s.step === 'conclude' ? [s] : []));
  if (intake?.step === 'intake' && intake.decision === 'accept' && intake.concludeAtIntake) {
    decisions.push({ step: 'conclude', department, decision: intake.concludeAtIntake });
  }
  for (const decision of decisions) {
    const now = () => new Date().toISOString();
    await deliver(
      simulator.statusChanged({ caseNumber: departmentCase, status: 'examining', at: now() }),
    );
    await deliver(
      simulator.caseConcluded({
        caseNumber: departmentCase,
        taskCode: decision.task,
        decision: decision.decision,
        reasons: decision.reasons,
        concludedAt: now(),
      }),
    );
  }
  let detail =
    decisions.length > 0
      ? await waitFor((c) => c.case.status === 'concluded', 'its conclusion')
      : (await read())!;
  if (detail.case.status === 'concluded' && detail.case.outcome === 'approved') {
    // The licence is handed over at the hall's counter, as for a counter case.
    detail = await client.call<CaseBody>('POST', `${at}/collection`, clerk);
  }
  result.status = detail.case.status;
  result.outcome = detail.case.outcome ?? undefined;
  return result;
}

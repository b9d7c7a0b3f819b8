/**
 * The hall's side of the wire contract with the collecting bank: payment notice numbers, the
 * HMAC-SHA256 signature both sides put on every message, and the HTTP adapter that creates,
 * queries, closes and refunds payment orders. The emulator (emulators/bank.ts) speaks the same
 * contract, so everything here is shared by the two.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/** The development merchant key of the hall at the bank emulator; never used in production. */
export const DEV_BANK_SECRET = 'onedoor-bank-development-secret';

/** The development merchant id of the hall at the bank emulator. */
export const DEV_MERCHANT_ID = 'SZ-SMZX';

/** Header carrying the signing moment, in Unix seconds. */
export const TIMESTAMP_HEADER = 'x-bank-timestamp';

/** Header carrying the hex HMAC-SHA256 of the canonical message. */
export const SIGNATURE_HEADER = 'x-bank-signature';

/** The method a response is signed under: it binds the answer to the request path. */
export const RESPONSE_METHOD = 'RESPONSE';

// ---------------------------------------------------------------------------------------------
// Notice numbers

/**
 * ISO 7064 MOD 97-10 check digits of a string of decimal digits: the two digits that, appended,
 * make the whole number ≡ 1 (mod 97). It catches every single-digit error and every transposition
 * of adjacent digits, which is what a payer keying the number in at a counter gets wrong.
 * (ISO 7064's own example: '794' → '44'.)
 */
export function mod97CheckDigits(digits: string): string {
  if (!/^\d+$/.test(digits)) throw new Error('MOD 97-10 takes decimal digits only');
  return String(98 - mod97(`${digits}00`)).padStart(2, '0');
}

// The remainder of a decimal string of any length, nine digits at a time (stays in doubles).
function mod97(digits: string): number {
  let remainder = 0;
  for (let i = 0; i < digits.length; i += 9) {
    remainder = Number(`${remainder}${digits.slice(i, i + 9)}`) % 97;
  }
  return remainder;
}

/**
 * A payment notice number (缴款通知书编号): 20 digits, the hall day YYYYMMDD, a 10-digit
 * sequence, and two MOD 97-10 check digits. All digits, so it can be keyed in at any bank
 * counter or phone; the database checks the same rule (payment_notices_number_check).
 */
export function noticeNumberOf(day: string, sequence: number): string {
  if (!/^\d{8}$/.test(day)) throw new Error(`a notice day is YYYYMMDD, not ${day}`);
  if (!Number.isSafeInteger(sequence) || sequence < 1 || sequence >= 1e10) {
    throw new Error(`a notice sequence is 1 to 9999999999, not ${sequence}`);
  }
  const body = `${day}${String(sequence).padStart(10, '0')}`;
  return `${body}${mod97CheckDigits(body)}`;
}

/** True for a 20-digit notice number whose check digits are right. */
export function isValidNoticeNumber(value: string): boolean {
  return /^\d{20}$/.test(value) && mod97(value) === 1;
}

// ---------------------------------------------------------------------------------------------
// Signatures

/** Everything a signature covers: when, which operation, and the exact bytes of the body. */
export interface SignedMessage {
  timestamp: string;
  method: string;
  /** Path and query of the request, e.g. '/orders/BO1'; a response repeats its request's. */
  path: string;
  body: string;
}

/** The canonical string that is signed: timestamp, method, path and body on their own lines. */
function canonical(m: SignedMessage): string {
  return `${m.timestamp}\n${m.method.toUpperCase()}\n${m.path}\n${m.body}`;
}

/** The hex HMAC-SHA256 of a message under a shared key. */
export function signMessage(secret: string, message: SignedMessage): string {
  return createHmac('sha256', secret).update(canonical(message), 'utf8').digest('hex');
}

/** The two signature headers of a message signed now. */
export function signatureHeaders(
  secret: string,
  message: Omit<SignedMessage, 'timestamp'>,
  now: Date = new Date(),
): Record<string, string> {
  const timestamp = String(Math.floor(now.getTime() / 1000));
  return {
    [TIMESTAMP_HEADER]: timestamp,
    [SIGNATURE_HEADER]: signMessage(secret, { ...message, timestamp }),
  };
}

/** Why a message's signature was not accepted. */
export type SignatureProblem = 'unsigned' | 'malformedSignature' | 'badSignature' | 'stale';

/**
 * Checks a message's signature, in constant time, and that it was signed within `toleranceSeconds`
 * of now (a captured callback cannot be replayed later); answers the problem, or null.
 */
export function verifySignature(
  secret: string,
  message: Omit<SignedMessage, 'timestamp'> & { timestamp?: string },
  signature: string | undefined,
  opts: { toleranceSeconds: number; now?: Date },
): SignatureProblem | null {
  if (!signature || !message.timestamp) return 'unsigned';
  if (!/^[0-9a-f]{64}$/i.test(signature) || !/^\d{1,12}$/.test(message.timestamp)) {
    return 'malformedSignature';
  }
  const expected = Buffer.from(signMessage(secret, message as SignedMessage), 'hex');
  if (!timingSafeEqual(expected, Buffer.from(signature, 'hex'))) return 'badSignature';
  const now = (opts.now ?? new Date()).getTime() / 1000;
  if (Math.abs(now - Number(message.timestamp)) > opts.toleranceSeconds) return 'stale';
  return null;
}

/** The SHA-256 of a text or bytes, hex (statement files are keyed by it). */
export function sha256Hex(content: string | Buffer): string {
  return createHash('sha256').update(content).digest('hex');
}

// ---------------------------------------------------------------------------------------------
// Statements

/**
 * The columns of the bank's daily statement file (CSV, UTF-8, a header line, one payment a line,
 * no quoting: no field holds a comma): the bank's transaction id, its order id, the notice
 * number paid, the amount in fen (integer) and the payment moment (ISO 8601 with offset).
 */
export const STATEMENT_COLUMNS = [
  'transaction_id',
  'order_id',
  'notice_number',
  'amount_fen',
  'paid_at',
] as const;

// ---------------------------------------------------------------------------------------------
// The adapter

/** Where a payment order stands at the bank. */
export type BankOrderState = 'created' | 'paid' | 'closed' | 'refunded';

/** A payment order as the bank's status endpoint answers it: the truth about a payment. */
export interface BankOrderStatus {
  orderId: string;
  noticeNumber: string;
  status: BankOrderState;
  /** What the payer actually paid (or, unpaid, what the order asks for), in fen. */
  amountFen: number;
  transactionId: string | null;
  paidAt: string | null;
}

/** What the hall asks the bank to collect. */
export interface OrderRequest {
  noticeNumber: string;
  amountFen: number;
  payBy: string;
  /** Shown to the payer at the counter or in the bank's app. */
  description: string;
  /** Where the bank posts its signed callback when the order is paid. */
  notifyUrl: string;
}

/** A refund of a paid order, idempotent at the bank by its request id. */
export interface RefundRequest {
  orderId: string;
  transactionId: string;
  refundRequestId: string;
  amountFen: number;
  reason: string;
}

/** The bank's answer to a refund. */
export interface RefundResult {
  refundId: string;
  status: 'succeeded' | 'pending';
}

/** The operations of the bank the hall uses; BankClient speaks them over HTTP, tests may fake. */
export interface BankGateway {
  /** Creates the order of a notice; the bank answers the same order for the same notice. */
  createOrder(order: OrderRequest): Promise<{ orderId: string }>;
  queryOrder(orderId: string): Promise<BankOrderStatus>;
  /** Stops an unpaid order from being paid; answers its final status (paid if it won the race). */
  closeOrder(orderId: string): Promise<BankOrderStatus>;
  refund(req: RefundRequest): Promise<RefundResult>;
  /** The statement file (CSV) of one day, as the bank's portal hands it out. */
  statement(date: string): Promise<string>;
}

/**
 * A failure of a bank call. `retryable` is false when the bank refused the request itself
 * (a 4xx), so asking again cannot help; network faults, 5xx and unsigned answers may pass.
 */
export class BankError extends Error {
  override readonly name = 'BankError';
  constructor(
    message: string,
    readonly retryable: boolean,
    readonly status?: number,
    readonly bankCode?: string,
  ) {
    super(message);
  }
}

/** How to reach the bank: its URL, the hall's merchant id and key there. */
export interface BankClientOptions {
  baseUrl: string;
  merchantId: string;
  secret: string;
  timeoutMs?: number;
  /** Tolerance on the answers' signing moment. */
  toleranceSeconds?: number;
}

/**
 * The bank adapter over HTTP. Every request is signed with the merchant key, and every answer
 * must carry the bank's signature over the same request path: an unsigned or forged answer is
 * never believed, since the status query is what the hall trusts a payment on.
 */
export class BankClient implements BankGateway {
  private readonly baseUrl: string;

  constructor(private readonly opts: BankClientOptions) {
    this.baseUrl = opts.baseUrl.replace(/\/+$/, '');
  }

  async createOrder(order: OrderRequest): Promise<{ orderId: string }> {
    const body = { merchantId: this.opts.merchantId, ...order };
    const answer = await this.json<{ orderId: string }>('POST', '/orders', body);
    return { orderId: answer.orderId };
  }

  queryOrder(orderId: string): Promise<BankOrderStatus> {
    return this.json('GET', `/orders/${encodeURIComponent(orderId)}`);
  }

  closeOrder(orderId: string): Promise<BankOrderStatus> {
    return this.json('POST', `/orders/${encodeURIComponent(orderId)}/close`, {});
  }

  refund(req: RefundRequest): Promise<RefundResult> {
    const { orderId, ...body } = req;
    return this.json('POST', `/orders/${encodeURIComponent(orderId)}/refunds`, body);
  }

  statement(date: string): Promise<string> {
    return this.send('GET', `/statements/${encodeURIComponent(date)}`);
  }

  private async json<T>(method: string, path: string, payload?: unknown): Promise<T> {
    const parsed = safeJson(await this.send(method, path, payload));
    if (!parsed) throw new BankError(`bank answer to ${path} is not JSON`, true);
    return parsed as T;
  }

  /** Sends one signed request; answers the body once the bank's signature on it checks out. */
  private async send(method: string, path: string, payload?: unknown): Promise<string> {
    const body = payload === undefined ? '' : JSON.stringify(payload);
    const headers = {
      'content-type': 'application/json',
      'x-merchant-id': this.opts.merchantId,
      ...signatureHeaders(this.opts.secret, { method, path, body }),
    };
    let res: Response;
    try {
      res = await fetch(`${this.baseUrl}${path}`, {
        method,
        headers,
        body: method === 'GET' ? undefined : body,
        signal: AbortSignal.timeout(this.opts.timeoutMs ?? 10_000),
      });
    } catch (err) {
      throw new BankError(`bank unreachable: ${(err as Error).message}`, true);
    }
    const text = await res.text();
    const answer = { method: RESPONSE_METHOD, path, body: text };
    const problem = verifySignature(
      this.opts.secret,
      { ...answer, timestamp: res.headers.get(TIMESTAMP_HEADER) ?? undefined },
      res.headers.get(SIGNATURE_HEADER) ?? undefined,
      { toleranceSeconds: this.opts.toleranceSeconds ?? 300 },
    );
    if (problem) throw new BankError(`bank answer to ${path} not trusted: ${problem}`, true);
    if (!res.ok) {
      // A refusal (4xx) is final; an overloaded or failing bank (429, 5xx) may be asked again.
      const refused = res.status >= 400 && res.status < 500 && res.status !== 429;
      const code = safeJson(text)?.code as string | undefined;
      throw new BankError(
        `bank answered HTTP ${res.status} to ${path}`,
        !refused,
        res.status,
        code,
      );
    }
    return text;
  }
}

function safeJson(text: string): Record<string, any> | undefined {
  try {
    const value = JSON.parse(text) as unknown;
    return value && typeof value === 'object' ? (value as Record<string, any>) : undefined;
  } catch {
    return undefined;
  }
}

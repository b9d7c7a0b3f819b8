/**
 * The SMS gateway adapter, in the shape common providers use: a signed JSON POST per message
 * with the sender's own client reference, an answer with the provider's message id, and delivery
 * reports posted back to the hall, signed the same way. emulators/smsGateway.ts speaks the other
 * side of the same protocol.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** Development credentials, shared by the adapter's defaults and the emulator's. */
export const DEV_SMS_API_KEY = 'onedoor-dev';
/** Development signing secret; a real hall sets SMS_API_SECRET. */
export const DEV_SMS_API_SECRET = 'onedoor-sms-development-secret';

/** Headers of a signed request, in both directions. */
export const SMS_HEADERS = {
  apiKey: 'x-api-key',
  timestamp: 'x-timestamp',
  signature: 'x-signature',
} as const;

/** How far a signed request's timestamp may be from now before it counts as a replay. */
export const SIGNATURE_TOLERANCE_SECONDS = 300;

/** One SMS as the hall hands it to the gateway. */
export interface SmsMessage {
  /** E.164 number, e.g. +8613800000004. */
  to: string;
  text: string;
  /** The hall's own id of the message: a resend with the same one is the same message. */
  clientReference: string;
}

/** Where a message stands at the gateway. */
export type SmsStatus = 'accepted' | 'delivered' | 'failed';

/** The gateway's answer to a send it took. */
export interface SmsAcceptance {
  messageId: string;
  status: SmsStatus;
  /** The gateway had this client reference already and sent nothing new. */
  duplicate: boolean;
}

/** A delivery report, as the gateway posts it to the hall. */
export interface DeliveryReport {
  messageId: string;
  clientReference: string;
  status: 'delivered' | 'failed';
  /** The operator's reason when the status is failed (e.g. unreachable). */
  errorCode?: string;
  at: string;
}

/** What the notifier needs from an SMS provider; tests may wrap the real one. */
export interface SmsGateway {
  send(message: SmsMessage): Promise<SmsAcceptance>;
}

/** The gateway refused the message for good (invalid or barred number): resending is useless. */
export class SmsRejectedError extends Error {
  override readonly name = 'SmsRejectedError';
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** The gateway could not take the message now (down, throttled, unreachable): try again later. */
export class SmsUnavailableError extends Error {
  override readonly name = 'SmsUnavailableError';
  constructor(
    message: string,
    readonly status?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

// Error codes by which the gateway says the recipient, not the request, is the problem.
const PERMANENT_CODES = new Set(['invalid_number', 'barred_number', 'content_rejected']);

/** The HMAC-SHA256 signature, hex, over `<timestamp>.<body>`. */
export function signatureOf(secret: string, timestamp: string, body: string): string {
  return createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
}

/** The headers that sign one request body now. */
export function signedHeaders(
  credentials: { apiKey: string; apiSecret: string },
  body: string,
  now = Date.now(),
): Record<string, string> {
  const timestamp = String(Math.floor(now / 1000));
  return {
    [SMS_HEADERS.apiKey]: credentials.apiKey,
    [SMS_HEADERS.timestamp]: timestamp,
    [SMS_HEADERS.signature]: signatureOf(credentials.apiSecret, timestamp, body),
  };
}

/**
 * Checks a signed request: the signature over the raw body as received (never a re-serialised
 * one) and a timestamp within the tolerance, so a captured request cannot be replayed later.
 */
export function isValidSignature(
  secret: string,
  headers: { timestamp?: string; signature?: string },
  rawBody: string,
  now = Date.now(),
): boolean {
  const { timestamp, signature } = headers;
  if (!timestamp || !signature || !/^\d{1,12}$/.test(timestamp)) return false;
  if (Math.abs(now / 1000 - Number(timestamp)) > SIGNATURE_TOLERANCE_SECONDS) return false;
  const expected = Buffer.from(signatureOf(secret, timestamp, rawBody), 'hex');
  const given = Buffer.from(signature, 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/**
 * How many SMS segments a text costs in UCS-2: up to 70 UTF-16 code units fit one; a longer text
 * is concatenated in segments of 67 (3 units go to the concatenation header). A character
 * outside the BMP takes 2 units and is never split across two segments.
 */
export function segmentsOf(text: string): number {
  if (text.length <= 70) return 1;
  let segments = 1;
  let used = 0;
  for (const char of text) {
    if (used + char.length > 67) {
      segments++;
      used = 0;
    }
    used += char.length;
  }
  return segments;
}

/** A mainland mobile number as E.164 (+86...); other numbers are passed on as given. */
export function toE164(phone: string): string {
  const digits = phone.replace(/[\s-]/g, '');
  if (/^1\d{10}$/.test(digits)) return `+86${digits}`;
  if (/^86\d{11}$/.test(digits)) return `+${digits}`;
  return digits;
}

/** Settings of the HTTP adapter. */
export interface HttpSmsGatewayOptions {
  /** Base URL of the gateway (SMS_GATEWAY_URL). */
  url: string;
  apiKey: string;
  apiSecret: string;
  /** Per request; a gateway slower than this counts as unavailable. */
  timeoutMs?: number;
}

/** The adapter: POST {base}/v1/sms, signed, answered with {messageId, status, duplicate}. */
export class HttpSmsGateway implements SmsGateway {
  private readonly endpoint: string;

  constructor(private readonly options: HttpSmsGatewayOptions) {
    this.endpoint = new URL('/v1/sms', options.url).toString();
  }

  async send(message: SmsMessage): Promise<SmsAcceptance> {
    const body = JSON.stringify({
      to: message.to,
      text: message.text,
      clientReference: message.clientReference,
    });
    let res: Response;
    try {
      res = await fetch(this.endpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...signedHeaders(this.options, body) },
        body,
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 10_000),
      });
    } catch (err) {
      throw new SmsUnavailableError(
        `SMS gateway unreachable: ${(err as Error).message}`,
        undefined,
        {
          cause: err,
        },
      );
    }
    const answer = (await res.json().catch(() => ({}))) as Record<string, unknown>;
    if (res.ok && typeof answer.messageId === 'string') {
      const status = answer.status;
      return {
        messageId: answer.messageId,
        status: status === 'delivered' || status === 'failed' ? status : 'accepted',
        duplicate: answer.duplicate === true,
      };
    }
    const code = typeof answer.error === 'string' ? answer.error : `http_${res.status}`;
    const text = typeof answer.message === 'string' ? answer.message : code;
    if (res.status === 422 && PERMANENT_CODES.has(code)) throw new SmsRejectedError(code, text);
    // Everything else, our credentials included, is the hall's or the provider's problem, not
    // the applicant's: it is retried until someone fixes it.
    throw new SmsUnavailableError(`SMS gateway answered ${res.status}: ${text}`, res.status);
  }
}

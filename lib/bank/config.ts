import type { Config } from '../config';
import { BankClient } from './client';

/** The bank adapter as configured (BANK_URL, BANK_MERCHANT_ID, BANK_SECRET, ...). */
export function bankClientOf(config: Config): BankClient {
  return new BankClient({
    baseUrl: config.BANK_URL,
    merchantId: config.BANK_MERCHANT_ID,
    secret: config.BANK_SECRET,
    timeoutMs: config.BANK_TIMEOUT_MS,
    toleranceSeconds: config.BANK_SIGNATURE_TOLERANCE_SECONDS,
  });
}

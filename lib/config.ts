import path from 'node:path';
import { z } from 'zod';
import { exchangeConfigShape } from './exchange/config';
import { spoolConfigShape } from './exchange/bundleConfig';

const repoRoot = path.resolve(__dirname, '..');

/**
 * Every setting of the hall, read once from the environment at start-up, validated, and passed
 * in from there. Activities and routers never read process.env.
 */
const configSchema = z.object({
  ...exchangeConfigShape,
  ...spoolConfigShape,
  /** PostgreSQL connection of the register. Default: the private cluster of scripts/postgres.sh. */
  DATABASE_URL: z.string().url().default('postgres://onedoor:onedoor@127.0.0.1:54329/onedoor'),
  /** Temporal frontend address. Default: the embedded dev server of scripts/temporal-dev.sh. */
  TEMPORAL_ADDRESS: z.string().min(1).default('127.0.0.1:7233'),
  /** Temporal namespace of the hall's workflows. */
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  /** Task queue the hall's worker polls. */
  TEMPORAL_TASK_QUEUE: z.string().min(1).default('onedoor-cases'),
  /** Address of the Temporal Web UI, printed for people (the dev server serves it). */
  TEMPORAL_UI_URL: z.string().url().default('http://127.0.0.1:8233'),
  /** Port of the REST API. */
  API_PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  /** Interface the REST API binds to. */
  API_HOST: z.string().default('127.0.0.1'),
  /** Public base URL of the API, printed on documents (verification links). */
  PUBLIC_URL: z.string().url().default('http://127.0.0.1:3000'),
  /** Folder of the reference data (catalog, promises, applications). */
  DATA_PATH: z.string().default(path.join(repoRoot, 'data')),
  /** The hall's time zone: deadlines fall at the end of a day here, whatever the server's TZ. */
  HALL_TIME_ZONE: z.string().default('Asia/Shanghai'),
  /** Dev tokens (see README) are accepted only when this is on; production uses real tokens. */
  DEV_TOKENS: z
    .enum(['on', 'off'])
    .default('on')
    .transform((v) => v === 'on'),
  /** Print documents to PDF through Chromium (on), or store their HTML only (off). */
  DOCUMENTS_PDF: z
    .enum(['on', 'off'])
    .default('on')
    .transform((v) => v === 'on'),
  /** Secret that signs documents' verification codes. The default is for development only. */
  DOCUMENT_SECRET: z.string().min(16).default('onedoor-development-secret'),
  /** Prefix of case numbers; defaults to the catalog's hall code (SZ-SMZX). */
  CASE_NUMBER_PREFIX: z
    .string()
    .regex(/^[A-Z0-9-]+$/)
    .optional(),
  /** Warning policy: the reminder goes out this many working days before the promised date. */
  REMINDER_WORKING_DAYS: z.coerce.number().int().min(0).max(30).default(1),
  /**
   * Webhook URL per department with its own system, as JSON ({"market":"http://..."}); a
   * department not listed reads its tasks in the hall inbox (GET /inbox).
   */
  DEPARTMENT_ENDPOINTS: z
    .string()
    .default('{}')
    .transform((text, ctx) => {
      try {
        return z.record(z.string(), z.url()).parse(JSON.parse(text));
      } catch {
        ctx.addIssue({ code: 'custom', message: 'a JSON object of department code to URL' });
        return z.NEVER;
      }
    }),
  /** SMTP server for e-mail notifications (credentials in the URL); empty: e-mail off. */
  SMTP_URL: z.union([z.literal(''), z.url()]).default('smtp://127.0.0.1:2525'),
  /** Sender of the hall's e-mails; its domain also names their Message-IDs. */
  MAIL_FROM: z.string().min(3).default('深圳市行政服务大厅 <notice@hall.onedoor.test>'),
  /** Base URL of the SMS gateway; empty: SMS off. */
  SMS_GATEWAY_URL: z.union([z.literal(''), z.url()]).default('http://127.0.0.1:8125'),
  /** The key the hall presents to the SMS gateway. */
  SMS_API_KEY: z.string().min(1).default('onedoor-dev'),
  /** Signs SMS sends and checks the gateway's delivery reports. The default is for development. */
  SMS_API_SECRET: z.string().min(16).default('onedoor-sms-development-secret'),
  /** The bank's merchant API (fees, LLA art. 58–59). */
  BANK_URL: z.url().default('http://127.0.0.1:8130'),
  /** The hall's merchant id at the bank. */
  BANK_MERCHANT_ID: z.string().min(1).default('SZ-SMZX'),
  /** Shared HMAC key with the bank. The default is for development only. */
  BANK_SECRET: z.string().min(16).default('onedoor-bank-development-secret'),
  /** How old a bank signature may be, in seconds. */
  BANK_SIGNATURE_TOLERANCE_SECONDS: z.coerce.number().int().min(1).default(300),
  /** Timeout of one bank call, in ms. */
  BANK_TIMEOUT_MS: z.coerce.number().int().min(100).default(10_000),
  /** Calendar days an applicant has to pay a notice; it falls due at the end of that hall day. */
  PAY_BY_DAYS: z.coerce.number().int().min(1).max(90).default(15),
  /** Working days before a notice's pay-by date that an unpaid applicant is reminded (0: never). */
  PAY_REMINDER_DAYS: z.coerce.number().int().min(0).max(30).default(2),
  /** The collecting bank as payment notices name it (where and how to pay). */
  BANK_NAME: z.string().min(2).default('中国银行深圳市分行'),
  /** Log level of pino. */
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

/** The validated settings of one process. */
export type Config = z.infer<typeof configSchema>;

/** Parses the environment; on any problem lists every one of them at once and throws. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = configSchema.safeParse(env);
  if (parsed.success) return parsed.data;
  const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
  throw new Error(`invalid configuration:\n${lines.join('\n')}`);
}

/** The repository root, for finding shipped files (templates, migrations, data). */
export const REPO_ROOT = repoRoot;

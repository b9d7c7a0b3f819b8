/**
 * The outside world of the notification tests on loopback: the SMTP server with the hall's
 * mailer, the SMS gateway emulator, and the notification routes on a Koa app of their own.
 * Each is closed at the test's teardown, so a failed assertion leaks nothing.
 */
import type { ExecutionContext } from 'ava';
import type { Knex } from 'knex';
import { notificationRoutes } from '../../api/notifications/router';
import {
  startSmsGateway,
  type SmsGatewayEmulator,
  type SmsGatewayEmulatorOptions,
} from '../../emulators/smsGateway';
import { startSmtpServer, type SmtpEmulator } from '../../emulators/smtp';
import type { Catalog } from '../../lib/catalog/types';
import { createSmtpMailer, type Mailer } from '../../lib/notify/mailer';
import type { SmsGateway } from '../../lib/notify/smsGateway';
import { serveRoutes } from './api';

/** The SMTP server, closed at teardown. */
export async function startSmtp(t: ExecutionContext<any>): Promise<SmtpEmulator> {
  const smtp = await startSmtpServer();
  t.teardown(() => smtp.close());
  return smtp;
}

/** The SMTP server and the hall's mailer sending to it as `from`, both closed at teardown. */
export async function startMail(
  t: ExecutionContext<any>,
  from: string,
): Promise<{ smtp: SmtpEmulator; mailer: Mailer }> {
  const smtp = await startSmtp(t);
  const mailer = createSmtpMailer({ url: smtp.url, from });
  t.teardown(() => mailer.close());
  return { smtp, mailer };
}

/** The SMS gateway emulator, closed at teardown. */
export async function startGateway(
  t: ExecutionContext<any>,
  options: SmsGatewayEmulatorOptions,
): Promise<SmsGatewayEmulator> {
  const gateway = await startSmsGateway(options);
  t.teardown(() => gateway.close());
  return gateway;
}

/** Serves the notification routes over `db` on a free port; returns the base URL. */
export async function startNotificationApi(
  t: ExecutionContext<any>,
  deps: { db: Knex; catalog: Catalog; smsSecret: string },
): Promise<string> {
  const routes = notificationRoutes({ db: deps.db, smsSecret: deps.smsSecret });
  return serveRoutes(t, routes, { catalog: deps.catalog });
}

/** A worker that dies once, right after the gateway took a message: see dyingAfterFirstSms. */
export interface DyingWorker {
  /** Wraps the real gateway client; pass it as the harness's wrapSms. */
  wrap: (real: SmsGateway) => SmsGateway;
  /** The register whose connections die; set once the harness has made it. */
  db?: Knex;
  /** How many connections were killed. */
  killed: number;
}

/**
 * After the first message the gateway took, kills the register connections idle in a
 * transaction: the row lock goes and the write of the gateway's answer is lost, as when the
 * worker dies between the two.
 */
export function dyingAfterFirstSms(): DyingWorker {
  let dieAfterSend = true;
  const worker: DyingWorker = {
    killed: 0,
    wrap: (real) => ({
      async send(message) {
        const answer = await real.send(message);
        if (dieAfterSend) {
          dieAfterSend = false;
          const { rows } = await worker.db!.raw(
            `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE datname = current_database() AND pid <> pg_backend_pid()
               AND state LIKE 'idle in transaction%'`,
          );
          worker.killed = rows.length;
        }
        return answer;
      },
    }),
  };
  return worker;
}

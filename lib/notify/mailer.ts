/**
 * E-mail over SMTP through nodemailer's pooled transport. Every message's Message-ID is made
 * from its notification reference, so a resend after a crash carries the same id and is
 * recognisable as the same message by the server, the mailbox and the tests.
 */
import nodemailer from 'nodemailer';
import type { NodemailerError, SMTPPoolOptions } from 'nodemailer';

/** A file attached to a notification (the step's document). */
export interface MailAttachment {
  filename: string;
  content: Buffer;
  contentType: string;
}

/** One e-mail as the notifier hands it over. */
export interface OutgoingMail {
  to: string;
  subject: string;
  text: string;
  /** The notification's stable reference; the Message-ID is made from it. */
  reference: string;
  attachments?: MailAttachment[];
}

/** What the SMTP server answered when it took the message. */
export interface MailAcceptance {
  messageId: string;
  /** The server's reply line, e.g. `250 OK: queued as ...`. */
  response: string;
}

/** What the notifier needs from a mail transport. */
export interface Mailer {
  send(mail: OutgoingMail): Promise<MailAcceptance>;
  close(): Promise<void>;
}

/** The server refused the recipient or the message for good (5xx): resending is useless. */
export class MailRejectedError extends Error {
  override readonly name = 'MailRejectedError';
  constructor(
    message: string,
    readonly responseCode?: number,
  ) {
    super(message);
  }
}

/** The server could not take the message now (down, 4xx, our credentials): try again later. */
export class MailUnavailableError extends Error {
  override readonly name = 'MailUnavailableError';
}

/** Settings of the SMTP mailer. */
export interface SmtpMailerOptions {
  /** smtp://[user:pass@]host:port, or smtps:// for TLS from the first byte (SMTP_URL). */
  url: string;
  /** The sender, e.g. `深圳市行政服务大厅 <notice@hall.example.cn>` (MAIL_FROM). */
  from: string;
  /** Right-hand side of Message-IDs; defaults to the sender's domain. */
  messageIdDomain?: string;
  /** Connections kept open to the server. */
  maxConnections?: number;
}

/** The Message-ID of a notification: `<reference@domain>`, the same on every resend. */
export function messageIdOf(reference: string, domain: string): string {
  return `<${reference}@${domain}>`;
}

function domainOf(from: string): string {
  const match = /@([^>\s]+)>?\s*$/.exec(from);
  if (!match) throw new Error(`MAIL_FROM has no address with a domain: ${from}`);
  return match[1].toLowerCase();
}

function transportOptions(url: string, maxConnections: number): SMTPPoolOptions {
  const parsed = new URL(url);
  if (parsed.protocol !== 'smtp:' && parsed.protocol !== 'smtps:') {
    throw new Error(`SMTP_URL must be smtp:// or smtps://, not ${parsed.protocol}`);
  }
  const secure = parsed.protocol === 'smtps:';
  return {
    pool: true,
    maxConnections,
    host: parsed.hostname,
    port: Number(parsed.port || (secure ? 465 : 587)),
    secure,
    auth: parsed.username
      ? {
          user: decodeURIComponent(parsed.username),
          pass: decodeURIComponent(parsed.password),
        }
      : undefined,
    // An activity has 30 s; a server that has not answered within these is treated as down.
    connectionTimeout: 10_000,
    greetingTimeout: 10_000,
    socketTimeout: 20_000,
  };
}

/**
 * Only a reply the server attaches to the recipient or the message is the applicant's problem
 * (550 no such mailbox, 554 refused); a 5xx to our credentials or sender is the hall's, and is
 * retried until someone fixes the configuration.
 */
function classify(err: NodemailerError): Error {
  const refused = err.permanent === true && (err.command === 'RCPT TO' || err.command === 'DATA');
  if (refused) return new MailRejectedError(err.response ?? err.message, err.responseCode);
  return new MailUnavailableError(`SMTP: ${err.message}`, { cause: err });
}

/** Opens the pooled SMTP mailer; close() ends its connections. */
export function createSmtpMailer(options: SmtpMailerOptions): Mailer {
  const domain = options.messageIdDomain ?? domainOf(options.from);
  const transport = nodemailer.createTransport(
    transportOptions(options.url, options.maxConnections ?? 4),
  );
  return {
    async send(mail) {
      const messageId = messageIdOf(mail.reference, domain);
      try {
        const info = await transport.sendMail({
          from: options.from,
          to: mail.to,
          subject: mail.subject,
          text: mail.text,
          messageId,
          attachments: mail.attachments?.map((a) => ({
            filename: a.filename,
            content: a.content,
            contentType: a.contentType,
          })),
        });
        return { messageId: info.messageId || messageId, response: info.response };
      } catch (err) {
        throw classify(err as NodemailerError);
      }
    },
    async close() {
      transport.close();
    },
  };
}

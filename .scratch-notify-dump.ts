import knex from 'knex';
import path from 'node:path';
import pino from 'pino';
import { loadHallSettings } from './activities/documentService';
import { createNotifierActivities, NOTIFICATION_STEPS } from './activities/notifier';
import { snapshotItem } from './api/cases/submit';
import { startSmsGateway } from './emulators/smsGateway';
import { startSmtpServer } from './emulators/smtp';
import { loadCatalog } from './lib/catalog/load';
import { REPO_ROOT } from './lib/config';
import { migrateLatest } from './lib/db';
import { createSmtpMailer } from './lib/notify/mailer';
import { HttpSmsGateway } from './lib/notify/smsGateway';
import { RegisterStore } from './lib/store';
import { buildPerson } from './test/support/builders';

async function main() {
  const admin = knex({ client: 'pg', connection: 'postgres://onedoor:onedoor@127.0.0.1:54329/onedoor' });
  await admin.raw('DROP DATABASE IF EXISTS onedoor_scratch_dump WITH (FORCE)');
  await admin.raw('CREATE DATABASE onedoor_scratch_dump');
  const db = knex({ client: 'pg', connection: 'postgres://onedoor:onedoor@127.0.0.1:54329/onedoor_scratch_dump' });
  await migrateLatest(db);
  const store = new RegisterStore(db);
  const catalog = loadCatalog(path.join(REPO_ROOT, 'data'));
  await store.seedCatalog(catalog);
  const smtp = await startSmtpServer();
  const gw = await startSmsGateway({ secret: 's' });
  const mailer = createSmtpMailer({ url: smtp.url, from: '深圳市行政服务大厅 <notice@hall.onedoor.test>' });
  const { notify } = createNotifierActivities({ db, store, mailer, sms: new HttpSmsGateway({ url: gw.url, apiKey: 'k', apiSecret: 's' }), log: pino({ level: 'silent' }), hall: loadHallSettings(path.join(REPO_ROOT, 'data')) });
  const caseNumber = 'SZ-SMZX-20261203-00042';
  const actor = { id: 'clerk-c01', role: 'clerk', counter: 'C01' };
  await store.applyEvent({ caseNumber, stream: caseNumber, seq: 1, at: '2026-12-03T01:30:00Z', actor, action: 'submitted', newCase: { caseNumber, item: snapshotItem(catalog.items.get('market-food-business-licence')!), applicant: buildPerson({ email: 'lilei@example.com' }) as any, channels: ['sms', 'email'], materials: [], receivedAt: '2026-12-03T01:30:00Z', source: 'counter', submittedBy: actor } });
  await store.applyEvent({ caseNumber, stream: caseNumber, seq: 2, at: '2026-12-03T02:00:00Z', actor, action: 'accepted', caseChanges: { status: 'accepted', acceptedAt: '2026-12-03T02:00:00Z', promisedDueAt: '2026-12-10T15:59:59.999Z', reasons: '经营场所与食品安全要求不符\n未能提供有效的食品安全管理制度' } });
  for (const step of NOTIFICATION_STEPS) {
    await notify({ caseNumber, step, eventKey: step, details: { missing: ['application-form', 'food-safety-rules'], correctionDeadline: '2026-12-17T15:59:59Z', suspensionReason: '组织听证', extension: { days: 10, unit: 'workingDays' }, department: 'health', taskTitle: '公共场所卫生许可审查' } });
  }
  for (const m of gw.messages) console.log(`[${m.segments}] ${m.text.length} ${m.text}`);
  const { simpleParser } = await import('mailparser');
  for (const r of smtp.received) console.log('-----\nSUBJECT: ' + r.parsed!.subject + '\n' + r.parsed!.text);
  console.log(smtp.received[0].raw.toString().split('\r\n\r\n')[0]);
  void simpleParser;
  await mailer.close(); await smtp.close(); await gw.close(); await db.destroy();
  await admin.raw('DROP DATABASE IF EXISTS onedoor_scratch_dump WITH (FORCE)'); await admin.destroy();
}
main();

/** A register of its own for one test, and the events the case workflow records in it. */
import type { ExecutionContext } from 'ava';
import type { Knex } from 'knex';
import type { CaseInput } from '../../lib/case/model';
import type { Catalog } from '../../lib/catalog/types';
import { migrateLatest } from '../../lib/db';
import { RegisterStore } from '../../lib/store';
import { freshDatabase } from './hall';

/** A fresh, migrated register with the catalog seeded; dropped at teardown. */
export async function freshRegister(
  t: ExecutionContext<any>,
  catalog: Catalog,
): Promise<{ db: Knex; store: RegisterStore }> {
  const { db } = await freshDatabase(t);
  await migrateLatest(db);
  const store = new RegisterStore(db);
  await store.seedCatalog(catalog);
  return { db, store };
}

/** Records a new case as the case workflow does: event 1, 'submitted', by its clerk. */
export async function recordSubmission(store: RegisterStore, input: CaseInput): Promise<void> {
  await store.applyEvent({
    caseNumber: input.caseNumber,
    stream: input.caseNumber,
    seq: 1,
    at: input.receivedAt,
    actor: input.submittedBy,
    action: 'submitted',
    newCase: input,
    details: { materials: input.materials, source: input.source },
  });
}

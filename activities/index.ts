import type { RegisterStore } from '../lib/store';
import { createCalendarActivities, type CalendarService } from './calendar';
import { createDocumentActivities, type DocumentService } from './documents';
import { createRegisterActivities } from './register';
import { createNotifierActivities, type NotifierDeps } from './notifier';
import { createPaymentActivities, type PaymentActivityDeps } from './payments';
import { createRearmActivities, type ClockSignaller } from './rearm';
import {
  createDepartmentActivities,
  registerTaskContext,
  type DepartmentEndpoints,
  type DepartmentExchangeDeps,
} from './departments';

/** The outside systems the hall's activities talk to; tests pass fakes, production real ones. */
export interface ActivityDeps {
  store: RegisterStore;
  calendar: CalendarService;
  documents: DocumentService;
  /** Endpoint per department with its own system; the others use the hall inbox. */
  departmentEndpoints?: DepartmentEndpoints;
  /** The XML exchange the tasks go out by (without it every department uses the inbox). */
  exchange?: Omit<DepartmentExchangeDeps, 'taskContext'>;
  /** What the applicant notifications need (mailer and SMS gateway may each be off). */
  notifier: NotifierDeps;
  /** The bank, for the fees of the items that carry them. */
  payments: PaymentActivityDeps;
  /** How a calendar re-arm signals a clock (default: through the worker's client). */
  signalClock?: ClockSignaller;
}

/** Builds every activity of the hall over its dependencies. */
export function createActivities(deps: ActivityDeps) {
  return {
    ...createRegisterActivities(deps.store),
    ...createCalendarActivities(deps.calendar),
    ...createDocumentActivities(deps.documents),
    ...createDepartmentActivities(
      deps.departmentEndpoints ?? {},
      deps.exchange && { ...deps.exchange, taskContext: registerTaskContext(deps.store) },
    ),
    ...createNotifierActivities(deps.notifier),
    ...createPaymentActivities(deps.payments),
    ...createRearmActivities({ store: deps.store, signalClock: deps.signalClock }),
  };
}

/** The activity interface workflows proxy (a type only: workflows never import the code). */
export type HallActivities = ReturnType<typeof createActivities>;

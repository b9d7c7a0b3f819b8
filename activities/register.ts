import type { RegisterEvent } from '../lib/case/model';
import type { RegisterStore } from '../lib/store';

/** Activities that write the register (办件登记簿). */
export function createRegisterActivities(store: RegisterStore) {
  return {
    /**
     * Records one case event and its projection. Keyed by (stream, seq): a retry or a replay
     * of the same event writes nothing the second time and returns false.
     */
    async recordEvent(event: RegisterEvent): Promise<boolean> {
      return store.applyEvent(event);
    },
  };
}

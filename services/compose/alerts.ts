import type { Logger } from 'pino';
import type { Outcome } from '../../domain/types.ts';
import { AlertBook } from '../alerts/alert-book.ts';
import { placementOf } from '../alerts/placement.ts';
import type { Faults } from '../faults.ts';
import type { Metrics } from '../metrics.ts';
import type { Stores } from '../open-stores.ts';
import type { Registry } from '../registry/registry.ts';

/**
 * The alert book of a single service (it commits on its own, 'auto'), and how the service raises
 * its own alerts (a store that cannot keep up, a pipeline that stopped) into it.
 */
export function composeAlertBook(d: { stores: Pick<Stores, 'alerts'>; registry: () => Registry; faults: Faults; metrics: Pick<Metrics, 'alertRecordSeconds'>; clock: () => number; log: Logger }) {
  const { log } = d;
  const book = new AlertBook(d.stores.alerts, (id) => placementOf(d.registry(), id), d.clock, (err, c) => d.faults.fault('alert-listener')(err, { alert: c.alert.id, transition: c.transition.type }), {
    mode: 'auto',
    // said once each way, not once a second while the disk stays full
    onFailing: (err, waiting) => (err ? log.error({ err: err.message, waiting }, 'the alert record cannot be written: its changes are kept and tried again every second') : log.warn({ waiting }, 'the alert record is written again')),
    onRecorded: (alert, ms) => d.metrics.alertRecordSeconds.observe({ severity: alert.severity }, ms / 1000),
  });
  const raiseSystem = (o: Outcome) => void book.handle([o]).catch((err: Error) => log.error({ err: err.message }, 'system alert not saved yet; kept for the next commit'));
  return { book, raiseSystem };
}

import type { Alert, Transition } from '../alerts/model.ts';
import type { Silences } from '../alerts/silences.ts';
import type { UnitConfig } from '../registry/schema.ts';

/**
 * The second stage: a silence in force holds a change's notification. What it held is a line in
 * the alert's record (who would have been told, and why not), never a quiet drop.
 */
export function heldLine(alert: Alert, t: Transition, units: UnitConfig[], silences: Pick<Silences, 'matching'>, now: number): Transition | null {
  const silence = silences.matching({ enterpriseId: alert.enterpriseId, deviceId: alert.deviceId, rule: alert.rule }, now);
  if (!silence) return null;
  return {
    alertId: alert.id,
    at: now,
    type: 'notification_held',
    actor: 'system',
    detail: { silence: silence.id, reason: silence.reason, until: new Date(silence.until).toISOString(), units: units.map((u) => u.id), for: t.type },
  };
}

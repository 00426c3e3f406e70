import type { AlertChange } from './model.ts';

/** What the audit trail keeps of a change of an alert: actor, action, subject, detail. */
export function auditEntryOf({ alert, transition: t }: AlertChange): [string, string, string, object] {
  return [
    t.actor,
    `alert.${t.type}`,
    alert.id,
    { rule: alert.rule, enterpriseId: alert.enterpriseId, deviceId: alert.deviceId, severity: alert.severity, ...(t.note ? { note: t.note } : {}), ...(t.detail ? { detail: t.detail } : {}) },
  ];
}

/** The log line of a change of an alert: what an operator reads the log for. */
export function logLineOf({ alert: a, transition: t }: AlertChange): [object, string] {
  return [
    { alert: a.id, rule: a.rule, enterpriseId: a.enterpriseId, deviceId: a.deviceId, point: a.pointId, severity: a.severity, change: t.type, actor: t.actor },
    `alert ${t.type}: ${t.message ?? a.message}`,
  ];
}

/**
 * The identity of a rule on a point, and so of its alert (one open alert per key):
 * `device/rule` or, for a rule that judges each point on its own, `device/rule/metric`. Device
 * ids, rule ids and metric names have no "/", so a key is read back without guessing.
 */
export interface KeyParts {
  deviceId: string;
  ruleId: string;
  metric?: string;
}

export const ruleKey = (deviceId: string, ruleId: string, metric?: string) => (metric === undefined ? `${deviceId}/${ruleId}` : `${deviceId}/${ruleId}/${metric}`);

export function keyParts(key: string): KeyParts {
  const [deviceId, ruleId = '', metric] = key.split('/');
  return metric === undefined ? { deviceId, ruleId } : { deviceId, ruleId, metric };
}

/**
 * The ids of the alerts the gateway raises on a device as a whole, beside its rules: its clock
 * (rules/device-clock.ts), its messages refused whole (gateway/refused-readings.ts) and its points
 * sent under names the registry lacks (gateway/misnamed-points.ts). No rule of
 * the registry may take them: its alert would share their key.
 */
export const DEVICE_CLOCK_RULE = 'device-clock';
export const READINGS_REFUSED_RULE = 'readings-refused';
export const POINTS_MISNAMED_RULE = 'points-misnamed';
export const GATEWAY_RULE_IDS: ReadonlySet<string> = new Set([DEVICE_CLOCK_RULE, READINGS_REFUSED_RULE, POINTS_MISNAMED_RULE]);

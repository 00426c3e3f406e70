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

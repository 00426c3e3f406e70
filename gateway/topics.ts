/** The device topic tree: v1/{enterpriseId}/{deviceId}/{kind}. */
export const DEVICE_TOPIC_KINDS = ['telemetry', 'status', 'reject', 'command'] as const;
export type DeviceTopicKind = (typeof DEVICE_TOPIC_KINDS)[number];

export interface DeviceTopic {
  enterpriseId: string;
  deviceId: string;
  kind: string;
}

export function parseDeviceTopic(topic: string): DeviceTopic | null {
  const parts = topic.split('/');
  if (parts.length !== 4 || parts[0] !== 'v1') return null;
  return { enterpriseId: parts[1], deviceId: parts[2], kind: parts[3] };
}

export const deviceTopic = (enterpriseId: string, deviceId: string, kind: DeviceTopicKind) => `v1/${enterpriseId}/${deviceId}/${kind}`;

/** Does an MQTT subscription filter stay inside `prefix/…`? Wildcards may only appear below it. */
export function filterWithin(filter: string, prefix: string): boolean {
  return filter === prefix || (filter.startsWith(prefix + '/') && !filter.slice(0, prefix.length).includes('+'));
}

/**
 * Does an MQTT subscription filter match a topic name (`+` one level, `#` this level and all below,
 * its parent included: `a/#` matches `a`)? Topics starting with `$` are not matched by wildcards
 * at their first level (MQTT 3.1.1, 4.7.2).
 */
export function filterMatches(filter: string, topic: string): boolean {
  if (topic.startsWith('$') && (filter.startsWith('+') || filter.startsWith('#'))) return false;
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return i === f.length - 1;
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}

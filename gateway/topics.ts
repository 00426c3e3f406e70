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

import { readFileSync } from 'node:fs';
import type { MqttClient } from 'mqtt';
import { bareRecord } from '../../domain/types.ts';
import type { UplinkConfig } from '../registry/schema.ts';
import type { Entry } from './items.ts';
import type { Sender } from './sender.ts';

type MqttUplink = Extract<UplinkConfig, { kind: 'mqtt' }>;

/**
 * A bridge to another broker (a city platform's EMQX, say): QoS 1, one message per device and
 * instant on `{enterprise}/{device}/telemetry` (the contract's telemetry payload, with original
 * timestamps) and one per alarm event on `…/alarm`. An entry counts as sent when the other broker
 * has acknowledged every message of it. The audit trail's head goes, retained, on the topic with
 * `_gateway` as enterprise, the gateway's name as device and `audit-head` as type.
 */
export function mqttSender(u: MqttUplink, gatewayName: string): Sender {
  const ca = u.caFile ? readFileSync(u.caFile) : undefined;
  // mqtt.js loads with the first MQTT uplink, not at every start
  const connecting: Promise<MqttClient> = import('mqtt').then(({ default: mqtt }) => {
    const client = mqtt.connect(u.url, {
      username: u.username,
      password: u.password,
      clientId: u.clientId ?? `${gatewayName}-${u.id}`,
      // the queue on disk is the buffer: nothing should pile up in the client while it is away
      clean: true,
      reconnectPeriod: 5000,
      connectTimeout: u.timeoutS * 1000,
      ca,
      rejectUnauthorized: u.rejectUnauthorized,
    });
    client.on('error', () => {}); // reported through failed sends; mqtt.js reconnects by itself
    return client;
  });
  // a failure is each send's to report
  connecting.catch(() => {});
  const topic = (enterpriseId: string, deviceId: string, type: string) =>
    u.topic.replaceAll('{enterprise}', enterpriseId).replaceAll('{device}', deviceId).replaceAll('{type}', type).replaceAll('{uplink}', u.id);

  const publish = async (t: string, payload: unknown) => {
    const client = await connecting;
    if (!client.connected) throw new Error(`not connected to ${u.url}`);
    return withTimeout(client.publishAsync(t, JSON.stringify(payload), { qos: 1 }), u.timeoutS * 1000);
  };

  return {
    async send(entry: Entry) {
      if (entry.lane === 'alarms') {
        const e = entry.event;
        await publish(topic(entry.enterpriseId, e.deviceId, 'alarm'), { ...e, ts: new Date(e.ts).toISOString() });
        return;
      }
      // samples of one device at one instant travel as one reading, as the device sent them
      const readings = new Map<string, { deviceId: string; ts: number; values: Record<string, unknown> }>();
      for (const s of entry.samples) {
        const k = `${s.deviceId}\u0000${s.ts}`;
        let r = readings.get(k);
        // codes are the enterprise's to set: a plain object took `__proto__` as its prototype and
        // left that point out of what the platform was sent, without a word
        if (!r) readings.set(k, (r = { deviceId: s.deviceId, ts: s.ts, values: bareRecord() }));
        r.values[s.code] = s.value;
      }
      for (const r of readings.values()) await publish(topic(entry.enterpriseId, r.deviceId, 'telemetry'), { ts: new Date(r.ts).toISOString(), values: r.values });
    },
    close: () => connecting.then((client) => client.endAsync(true), () => {}),
    async auditHead(head) {
      const client = await connecting;
      if (!client.connected) throw new Error(`not connected to ${u.url}`);
      await withTimeout(client.publishAsync(topic('_gateway', gatewayName, 'audit-head'), JSON.stringify({ ...head, at: new Date(head.at).toISOString() }), { qos: 1, retain: true }), u.timeoutS * 1000);
    },
  };
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no acknowledgement within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

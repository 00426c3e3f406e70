import { Aedes, type PublishPacket } from 'aedes';
import mqttPacket from 'mqtt-packet';
import { Duplex } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { brokerOptions } from '../../gateway/broker.ts';
import { waitFor } from '../support/wait.ts';

const publish = (topic: string): PublishPacket => ({ cmd: 'publish', topic, payload: Buffer.from('x'), qos: 1, retain: false, dup: false });

describe("the broker's message router", () => {
  // with aedes' default (100 deliveries at once) the messages behind a full router were let go one
  // inside the other, and 5 000 of them overflowed the stack
  it('takes every message as it comes: thousands behind deliveries in flight complete, and nothing overflows the stack', async () => {
    const broker = new Aedes(brokerOptions({ maxKeepaliveS: 60, connectTimeoutS: 10 }));
    await broker.listen();
    try {
      // a control-room tool that takes what it is sent, a turn later
      const conn = new Duplex({ read() {}, write: (_c, _e, callback) => setImmediate(callback) });
      broker.handle(conn as never);
      const subscribed = new Promise((r) => broker.once('subscribe', r));
      conn.push(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: 'control-room', clean: true, keepalive: 30 }));
      conn.push(mqttPacket.generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'alerts/#', qos: 1 }] }));
      await subscribed;

      let done = 0;
      const errors: unknown[] = [];
      const count = (err?: unknown) => (err ? errors.push(err) : done++);
      // an alarm storm for the tool, then readings nobody subscribes to, all in one turn
      for (let i = 0; i < 200; i++) broker.publish(publish('alerts/E1'), count);
      for (let i = 0; i < 20_000; i++) broker.publish(publish('v1/E1/d1/telemetry'), count);
      await waitFor(() => done + errors.length === 20_200, 20_000, 'every message routed');
      expect(errors).toEqual([]);
    } finally {
      await new Promise<void>((r) => broker.close(() => r()));
    }
  });
});

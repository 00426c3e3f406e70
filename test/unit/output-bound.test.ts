import { Aedes } from 'aedes';
import mqtt from 'mqtt';
import mqttPacket from 'mqtt-packet';
import { createServer, type AddressInfo } from 'node:net';
import { Duplex } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { boundOutput } from '../../gateway/output-bound.ts';

/** The broker's side of a connection whose peer stopped reading: nothing written is ever taken. */
const stalledPeer = () => {
  const taken: Buffer[] = [];
  const conn = new Duplex({
    read() {},
    // never calls back: the peer takes nothing more
    write(chunk: Buffer, _enc, _callback) {
      taken.push(chunk);
    },
  });
  return { conn, taken, send: (packet: object) => conn.push(mqttPacket.generate(packet as never)) };
};

describe('output bound', () => {
  const closing: (() => unknown)[] = [];
  afterEach(async () => {
    for (const c of closing.splice(0).reverse()) await c();
  });

  it('never reports a full buffer, and closes the connection once more than the bound waits in it, once', () => {
    const { conn } = stalledPeer();
    const slow: number[] = [];
    boundOutput(conn, 1000, (unsent) => slow.push(unsent));
    const answers: boolean[] = [];
    for (let i = 0; i < 20; i++) answers.push(conn.write(Buffer.alloc(100)));
    expect(answers.every((a) => a)).toBe(true);
    expect(conn.destroyed).toBe(true);
    expect(slow).toHaveLength(1);
    expect(slow[0]).toBeGreaterThan(1000);
  });

  it('leaves a connection that takes what it is sent alone', () => {
    const conn = new Duplex({ read() {}, write: (_c, _e, callback) => callback() });
    let slow = 0;
    boundOutput(conn, 1000, () => slow++);
    for (let i = 0; i < 100; i++) conn.write(Buffer.alloc(100));
    expect(conn.destroyed).toBe(false);
    expect(slow).toBe(0);
  });

  // the defect an outside probe found: a subscriber that stopped reading held every other
  // publish of the broker (aedes waits for its drain inside the message router)
  it("keeps a subscriber that stopped reading from holding anyone else's publishes in aedes", async () => {
    const broker = new Aedes();
    await broker.listen();
    const server = createServer((socket) => broker.handle(socket));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    closing.push(() => new Promise((r) => server.close(r)), () => new Promise<void>((r) => broker.close(() => r())));

    // a control-room tool subscribed to everything, that reads nothing
    const watcher = stalledPeer();
    boundOutput(watcher.conn, 256 * 1024, () => {});
    broker.handle(watcher.conn as never);
    const subscribed = new Promise((r) => broker.once('subscribe', r));
    watcher.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: 'stuck-watcher', clean: true, keepalive: 0 });
    watcher.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'alerts/#', qos: 1 }] });
    await subscribed;

    const device = await mqtt.connectAsync(`mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`, { clientId: 'device', reconnectPeriod: 0 });
    closing.push(() => device.endAsync());
    const body = Buffer.alloc(1000, 'x');
    let acked = 0;
    // far more than the router runs at once (100), each delivered to the stuck watcher
    await Promise.all(Array.from({ length: 1000 }, () => device.publishAsync('alerts/E1', body, { qos: 1 }).then(() => acked++)));
    expect(acked).toBe(1000);
    // the watcher took nothing, and was let go once past its bound
    expect(watcher.conn.destroyed).toBe(true);
  });
});

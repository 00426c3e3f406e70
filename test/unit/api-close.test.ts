import Fastify from 'fastify';
import { Agent, request, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { closeApi } from '../../services/api/close.ts';
import { LiveStream } from '../../services/notify/live-stream.ts';

/** A GET on a keep-alive connection (as a browser makes it); resolves with the answer's head. */
const get = (port: number, path: string, agent: Agent) =>
  new Promise<IncomingMessage>((resolve, reject) => request({ host: '127.0.0.1', port, path, agent }, resolve).on('error', reject).end());

/** Resolves once the connection that carried `res` is closed (it is given back to the agent's pool once `res` ends). */
const connectionClosed = (res: IncomingMessage) => {
  const socket = res.socket;
  return new Promise<void>((resolve) => (socket.destroyed ? resolve() : socket.once('close', () => resolve())));
};

describe("the API's stop", () => {
  const agents: Agent[] = [];
  const keepAlive = () => {
    const a = new Agent({ keepAlive: true });
    agents.push(a);
    return a;
  };
  afterEach(() => agents.splice(0).forEach((a) => a.destroy()));

  it("ends a live stream's connection with the stream, so nothing is left for a stop to wait on", async () => {
    const live = new LiveStream();
    const app = Fastify();
    app.get('/stream', async (_req, reply) => {
      reply.hijack();
      live.follow(reply.raw, 'test', () => ({ sees: () => true }));
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      const res = await get((app.server.address() as AddressInfo).port, '/stream', keepAlive());
      const ended = new Promise<void>((resolve) => res.on('end', resolve));
      const gone = connectionClosed(res);
      res.resume();
      live.close();
      await ended;
      // the server still listens: only the stream's own end could have closed its connection
      await gone;
      expect(app.server.listening).toBe(true);
    } finally {
      await app.close();
    }
  });

  it('waits for a request under way: it gets its answer', async () => {
    const app = Fastify();
    let arrived!: () => void;
    const asked = new Promise<void>((resolve) => (arrived = resolve));
    let release!: () => void;
    app.get('/slow', async () => {
      arrived();
      await new Promise<void>((resolve) => (release = resolve));
      return { done: true };
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const answer = get((app.server.address() as AddressInfo).port, '/slow', keepAlive());
    await asked;
    const stopped = closeApi(app, 60_000);
    release();
    const res = await answer;
    const body = await new Promise<string>((resolve) => (res.setEncoding('utf8'), res.on('data', resolve)));
    expect(JSON.parse(body)).toEqual({ done: true });
    await stopped;
  });

  it('closes the connection of an answer that never ends once the grace is over (a follower that stopped reading)', async () => {
    const app = Fastify();
    app.get('/stalled', async (_req, reply) => {
      reply.hijack();
      reply.raw.writeHead(200, { 'content-type': 'text/event-stream' });
      reply.raw.write(': open\n\n');
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const stalled = await get((app.server.address() as AddressInfo).port, '/stalled', keepAlive());
    const gone = connectionClosed(stalled);
    await closeApi(app, 50);
    await gone;
  });
});

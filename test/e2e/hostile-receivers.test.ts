import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { postWebhook, WebhookError } from '../../services/notify/channels/webhook.ts';
import { Channels, type Channel } from '../../services/notify/channels/channel.ts';
import { sendMessage } from '../../services/notify/send.ts';
import { Registry } from '../../services/registry/registry.ts';
import { parseRegistry } from '../../services/registry/load.ts';
import { stringify } from 'yaml';
import { testRegistry } from '../support/registry.ts';
import { applyOutcome } from '../../services/alerts/lifecycle.ts';
import { alertJson, transitionJson } from '../../services/alerts/model.ts';
import type { OutboxItem } from '../../services/notify/outbox-store.ts';

/**
 * Receivers that answer in ways a POST must not trust: a redirect (followed, a POST becomes a GET
 * without the alarm while the receiver says 200), an endless body, and a timeout whose error
 * cannot be renamed. Real HTTP servers on loopback.
 */
describe('hostile receivers', () => {
  let servers: Server[] = [];
  const serve = async (handler: Parameters<typeof createServer>[1]) => {
    const s = createServer(handler!);
    servers.push(s);
    s.listen(0, '127.0.0.1');
    await new Promise((r) => s.once('listening', r));
    return `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
  };
  afterEach(async () => {
    for (const s of servers) s.closeAllConnections();
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
    servers = [];
  });

  it('does not follow a redirect: the attempt fails, naming where it pointed, and the target hears nothing', async () => {
    const heard: string[] = [];
    const url = await serve((req, res) => {
      heard.push(`${req.method} ${req.url}`);
      if (req.url === '/hook') res.writeHead(302, { location: '/elsewhere' }).end();
      else res.writeHead(200).end('{}');
    });
    const hook = { url: `${url}/hook`, format: 'generic' as const };
    const err = await postWebhook(hook, { url: hook.url, body: { alarm: 1 } }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(WebhookError);
    expect((err as Error).message).toMatch(/HTTP 302: redirects are not followed \(to \/elsewhere\)/);
    expect(heard).toEqual(['POST /hook']);
  });

  it('reads a few kilobytes of an endless answer and lets the connection go', async () => {
    let closed = false;
    const url = await serve((req, res) => {
      req.resume();
      res.writeHead(500, { 'content-type': 'text/plain' });
      const chunk = Buffer.alloc(64 * 1024, 'x');
      const pump = () => {
        while (!closed && res.write(chunk));
        if (!closed) res.once('drain', pump);
      };
      res.on('close', () => (closed = true));
      pump();
    });
    const hook = { url: `${url}/hook`, format: 'generic' as const };
    const err = await postWebhook(hook, { url: hook.url, body: {} }, undefined, 30_000).catch((e: Error) => e);
    expect((err as Error).message).toMatch(/^HTTP 500: x+$/);
    expect((err as Error).message.length).toBeLessThan(300);
    await expect.poll(() => closed).toBe(true);
  });

  it('records a timeout as a timeout when the message carried an acknowledge link (its error cannot be renamed)', async () => {
    const timeout: Channel = {
      kind: 'webhook',
      idsOf: () => ['webhook:0'],
      target: () => 'test',
      send: async () => {
        throw new DOMException('The operation was aborted due to timeout', 'TimeoutError');
      },
    };
    const registry = new Registry(parseRegistry(stringify(testRegistry())));
    const step = applyOutcome(undefined, { key: 'gas-1/gas-lel', change: 'raise', ruleId: 'gas-lel', ruleKind: 'threshold', enterpriseId: 'E', deviceId: 'gas-1', metric: 'gas_lel', severity: 'critical', value: 50, peak: 50, threshold: 40, at: 0, message: 'gas' }, { newId: () => 'a1', region: '', industry: 'hazchem' })!;
    const item = { id: 'i1', unitId: 'ent-chem', channel: 'webhook:0', alertId: 'a1', body: { notice: 'alert', alert: alertJson(step.alert, []), transition: transitionJson(step.transitions[0]) }, createdAt: 0, notBefore: 0, nextAttemptAt: 0, attempts: 0, status: 'pending', lastError: null, deliveredAt: null, notificationId: 'n1' } as OutboxItem;
    const link = 'http://x/a/AAAABBBBCCCCDDDDEEEEFFFFGGGG';
    const ctx = { channels: new Channels([timeout]), registry, publicUrl: 'http://x', ackLinks: { issue: () => ({ link, stored: Promise.resolve() }) } };
    const err = await sendMessage(ctx, registry.units.get('ent-chem')!, 'webhook:0', [item], 'n1').catch((e: Error) => e);
    expect((err as Error).message).toBe('The operation was aborted due to timeout');
  });
});

import { INDUSTRIES } from '../domain/indicators.ts';
import type { TemplateName } from '../rules/templates/index.ts';
import type { Job } from './generator.ts';
import { deviceKinds } from './rules.ts';

/**
 * A registry for a bench fleet: `devices` devices spread over every industry template (each
 * device has every point its template reads, so every rule is live), 50 to an enterprise, plain
 * secrets. Probe devices (gas detectors whose enterprise has a webhook) measure publish → alert.
 * `fleetWebhookUrl`: every fleet enterprise tells one more unit, at that webhook.
 */
export function benchRegistry(devices: number, opts: { webhookUrl?: string; probes?: number; perEnterprise?: number; fleetWebhookUrl?: string } = {}) {
  const kinds = deviceKinds();
  const enterprises: any[] = [];
  const clients: Job['clients'] = [];
  for (let i = 0; i < devices; i++) {
    const e = Math.floor(i / (opts.perEnterprise ?? 50));
    if (!enterprises[e]) {
      const kind = kinds[e % kinds.length].template as TemplateName;
      const industry = (INDUSTRIES as readonly string[]).includes(kind) ? kind : 'hazchem';
      enterprises[e] = { id: `E${String(e).padStart(5, '0')}`, name: `压测企业 ${e}`, industry, region: `3212830${String(e % 99).padStart(2, '0')}`, devices: [], ...(opts.fleetWebhookUrl ? { units: ['fleet-unit'] } : {}) };
    }
    const kind = kinds[e % kinds.length];
    const id = `b${i}`;
    enterprises[e].devices.push({ id, secret: `bench-secret-${i}`, reportIntervalS: 3600, templates: [kind.template], points: kind.metrics.map((metric) => ({ metric })) });
    clients.push({ id: `g-${id}`, username: id, password: `bench-secret-${i}`, topic: `v1/${enterprises[e].id}/${id}/telemetry`, metrics: kind.metrics });
  }
  const probes = Array.from({ length: opts.probes ?? 0 }, (_, i) => ({
    id: `probe-${i}`,
    secret: `probe-secret-${i}`,
    reportIntervalS: 3600,
    templates: ['hazchem'],
    points: [{ metric: 'gas_lel' }],
    // the probes raise and clear on purpose: no flapping hold
    flapping: { changes: 1000, windowS: 1 },
  }));
  if (probes.length)
    enterprises.push({ id: 'PROBE', name: '时延探针', industry: 'hazchem', region: '321283001', units: ['probe-unit'], devices: probes, routing: { groupWaitS: 0, groupIntervalS: 0 } });
  const registry = {
    units: [
      ...(opts.webhookUrl ? [{ id: 'probe-unit', name: '探针接收', kind: 'enterprise', webhooks: [{ url: opts.webhookUrl, format: 'generic' }] }] : []),
      ...(opts.fleetWebhookUrl ? [{ id: 'fleet-unit', name: '压测接收', kind: 'enterprise', webhooks: [{ url: opts.fleetWebhookUrl, format: 'generic' }] }] : []),
    ],
    enterprises,
    users: [{ name: 'bench', token: 'bench-operator-token', role: 'operator' }],
    gateway: { maxConnectionsPerEnterprise: 1000 },
  };
  return { registry, clients };
}

/**
 * One more enterprise of `n` gas detectors reporting every 3 s, telling a unit of its own at
 * `webhookUrl`: run them for a while, then stop, and all go offline at once.
 */
export function offlineWave(registry: ReturnType<typeof benchRegistry>['registry'], n: number, webhookUrl: string): Job['clients'] {
  const devices = Array.from({ length: n }, (_, i) => ({ id: `w${i}`, secret: `wave-secret-${i}`, reportIntervalS: 3, templates: ['hazchem'], points: [{ metric: 'gas_lel' }] }));
  registry.units.push({ id: 'wave-unit', name: '离线潮接收', kind: 'enterprise', webhooks: [{ url: webhookUrl, format: 'generic' }] });
  registry.enterprises.push({ id: 'WAVE', name: '离线潮企业', industry: 'hazchem', region: '321283002', units: ['wave-unit'], devices });
  registry.gateway.maxConnectionsPerEnterprise = Math.max(registry.gateway.maxConnectionsPerEnterprise, n + 100);
  return devices.map((d) => ({ id: `g-${d.id}`, username: d.id, password: d.secret, topic: `v1/WAVE/${d.id}/telemetry`, metrics: ['gas_lel'] }));
}

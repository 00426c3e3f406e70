import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Reading } from '../../domain/types.ts';
import type { Alert, Transition } from '../alerts/model.ts';
import type { Registry } from '../registry/registry.ts';
import { coverage } from './coverage.ts';
import type { UplinkConfig } from '../registry/schema.ts';
import { desSender } from './http-des.ts';
import { sm4Sender } from './http-sm4.ts';
import { alarmEventOf, samplesOf, type PointCodes } from './items.ts';
import { mqttSender } from './mqtt-bridge.ts';
import type { Sender } from './sender.ts';
import { Uplink, type UplinkDeps } from './uplink.ts';

export interface ForwarderDeps extends Omit<UplinkDeps, 'log'> {
  dataDir: string;
  log: Logger;
  /** the MQTT client id prefix on other brokers */
  gatewayName: string;
}

interface Route {
  uplink: Uplink;
  enterprises: Set<string>;
  codes: PointCodes;
}

function senderFor(u: UplinkConfig, gatewayName: string): Sender {
  switch (u.kind) {
    case 'mqtt':
      return mqttSender(u, gatewayName);
    case 'http-sm4':
      return sm4Sender(u);
    case 'http-des':
      return desSender(u);
  }
}

/**
 * Sends monitoring data and alarm events up to the platforms the registry lists (`uplinks:`),
 * each enterprise only to the uplinks that cover it, each point under the code that platform
 * knows it by. Nothing here waits on a platform: the local pipeline never slows for one.
 */
export class Forwarder {
  private routes = new Map<string, Route>();
  private changing: Promise<void> = Promise.resolve();

  constructor(private readonly deps: ForwarderDeps) {}

  /** Follow the registry: new uplinks open, removed ones stop, changed ones restart on their queue. */
  use(registry: Registry): Promise<void> {
    this.changing = this.changing.then(() => this.apply(registry));
    return this.changing;
  }

  private async apply(registry: Registry) {
    // a disabled uplink neither collects nor sends: its queue waits on disk as it was
    const wanted = new Map(registry.file.uplinks.filter((u) => u.enabled).map((u) => [u.id, u]));
    for (const [id, r] of this.routes) {
      const next = wanted.get(id);
      if (!next || JSON.stringify(next) !== JSON.stringify(r.uplink.config)) {
        this.routes.delete(id);
        await r.uplink.stop();
      }
    }
    const next = new Map<string, Route>();
    for (const cfg of wanted.values()) {
      const uplink =
        this.routes.get(cfg.id)?.uplink ??
        (await Uplink.open(cfg, join(this.deps.dataDir, 'forward', cfg.id), senderFor(cfg, this.deps.gatewayName), { ...this.deps, log: this.deps.log.child({ uplink: cfg.id }) }));
      next.set(cfg.id, { uplink, ...coverage(cfg, registry) });
    }
    this.routes = next;
  }

  readings(readings: readonly Reading[]): void {
    if (!this.routes.size) return;
    for (const r of this.routes.values()) {
      const byEnterprise = new Map<string, Reading[]>();
      for (const reading of readings) {
        if (!r.enterprises.has(reading.enterpriseId)) continue;
        let list = byEnterprise.get(reading.enterpriseId);
        if (!list) byEnterprise.set(reading.enterpriseId, (list = []));
        list.push(reading);
      }
      for (const [enterpriseId, list] of byEnterprise) r.uplink.accept(enterpriseId, samplesOf(list, r.codes));
    }
  }

  alarm(alert: Alert, t: Transition): void {
    for (const r of this.routes.values()) {
      if (!r.enterprises.has(alert.enterpriseId)) continue;
      const code = r.codes.get(alert.deviceId)?.get(alert.pointId ?? alert.metric);
      if (code === undefined) continue;
      const event = alarmEventOf(alert, t, code);
      if (event)
        r.uplink.alarm(alert.enterpriseId, event).catch((err: Error) => this.deps.log.error({ uplink: r.uplink.id, alertId: alert.id, err: err.message }, 'alarm event not queued for the platform'));
    }
  }

  /** The audit trail's head to every uplink whose format carries it. */
  async auditHead(head: { n: number; hash: string; at: number }): Promise<void> {
    await Promise.all([...this.routes.values()].map((r) => r.uplink.auditHead(head)));
  }

  get(id: string): Uplink | undefined {
    return this.routes.get(id)?.uplink;
  }

  status() {
    return [...this.routes.values()].map((r) => ({ ...r.uplink.status(), enterprises: [...r.enterprises] }));
  }

  /** Cut what has collected into entries now (before a stop, or in tests). */
  async cut(): Promise<void> {
    await Promise.all([...this.routes.values()].map((r) => r.uplink.cut()));
  }

  async stop(): Promise<void> {
    await this.changing;
    await Promise.all([...this.routes.values()].map((r) => r.uplink.stop()));
    this.routes.clear();
  }
}

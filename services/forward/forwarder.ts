import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Reading } from '../../domain/types.ts';
import type { OwedChange } from '../alerts/alert-store.ts';
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
  /** the record's changes whose alarm events are queued for every uplink (no longer owed) */
  settle?: (lines: number[]) => Promise<void>;
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

  /** Whether any uplink is open (only then is a change owed to the platforms). */
  get forwarding(): boolean {
    return this.routes.size > 0;
  }

  /**
   * An alert change to every uplink covering its enterprise, queued on disk. `line`: its line in
   * the record, owed to the platforms until every queue has it (a queue that cannot take it
   * leaves it owed, for the next start).
   */
  alarm(alert: Alert, t: Transition, line?: number): void {
    const queued: Promise<void>[] = [];
    for (const r of this.routes.values()) {
      if (!r.enterprises.has(alert.enterpriseId)) continue;
      const code = r.codes.get(alert.deviceId)?.get(alert.pointId ?? alert.metric);
      if (code === undefined) continue;
      const event = alarmEventOf(alert, t, code);
      if (event) queued.push(r.uplink.alarm(alert.enterpriseId, event).catch((err: Error) => (this.deps.log.error({ uplink: r.uplink.id, alertId: alert.id, err: err.message }, 'alarm event not queued for the platform'), Promise.reject(err))));
    }
    if (line === undefined) return;
    void Promise.all(queued).then(
      () => this.settleSoon(line),
      () => {},
    );
  }

  /** Changes committed before the last stop whose alarm events never reached the uplinks' queues. */
  async alarmOwed(owed: OwedChange[]): Promise<void> {
    await this.changing;
    for (const o of owed) this.alarm(o.alert, o.transition, o.n);
    if (owed.length) this.deps.log.warn({ changes: owed.length }, 'alarm events owed to upstream platforms by changes committed before the last stop: queued now');
  }

  private settling: number[] = [];
  private settleTimer?: NodeJS.Timeout;
  private settleSoon(line: number) {
    this.settling.push(line);
    this.settleTimer ??= setTimeout(() => void this.flushSettled(), 100);
  }

  /** in batches: a crash before a batch is written sends those events once more, never none */
  private async flushSettled() {
    clearTimeout(this.settleTimer);
    this.settleTimer = undefined;
    const lines = this.settling.splice(0);
    if (lines.length) await this.deps.settle?.(lines).catch((err: Error) => this.deps.log.warn({ err: err.message }, 'alarm events queued, not yet marked so (sent again after a restart)'));
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
    // what the queues took before they stopped is no longer owed (once their promises have settled)
    await new Promise((r) => setImmediate(r));
    await this.flushSettled();
    this.routes.clear();
  }
}

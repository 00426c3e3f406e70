import { getHeapStatistics } from 'node:v8';
import type { Logger } from 'pino';
import type { Outcome } from '../../domain/types.ts';
import type { AlertBook } from '../alerts/alert-book.ts';
import { deviceHeldBack, messageHeldBack, pipelineDown, pipelineSilent, storeBufferFull } from '../alerts/system-alerts.ts';
import type { Forwarder } from '../forward/forwarder.ts';
import type { Faults } from '../faults.ts';
import { pipelineDepth, threadCpu, threadHeap, type Metrics } from '../metrics.ts';
import { telemetrySettings } from '../open-stores.ts';
import { PipelineClient, type PipelineInit } from '../pipeline/client.ts';
import type { WorldSnapshot } from '../pipeline/protocol.ts';
import type { Alert } from '../alerts/model.ts';
import type { Stores } from '../open-stores.ts';
import type { Registry } from '../registry/registry.ts';
import type { Settings } from '../settings.ts';
import { thisThreadTid } from '../thread-cpu.ts';
import type { AppOptions } from '../app-options.ts';

/** What the rules read of the world besides readings: maintenance windows and silences, suspension orders. */
export const worldOf = (stores: Pick<Stores, 'silences' | 'statuses'>): WorldSnapshot => ({ maintenance: stores.silences.maintenanceSpans(), suspended: stores.statuses.suspendedIds() });

/**
 * Where the pipeline starts from (at start, and again should its thread ever end unasked): the
 * registry, the world, the baselines, and where each rule stood for the alerts still open.
 */
export async function pipelineInit(d: { registry: Registry; stores: Pick<Stores, 'silences' | 'statuses' | 'baselines'>; open: Alert[]; now: number }): Promise<PipelineInit> {
  return {
    registry: d.registry.loaded,
    world: worldOf(d.stores),
    baselines: (await d.stores.baselines.current()).map((b) => ({ deviceId: b.deviceId, metric: b.metric, value: b.value })),
    open: d.open.map((a) => ({ key: a.key, state: a.state, severity: a.severity, peak: a.peak, value: a.value, flapping: a.flapping })),
    now: d.now,
  };
}

/**
 * The reading pipeline (decode, rules and the time-series store) on a thread of its own, and
 * where its answers go. What readings raised is in the alert record before they are in the
 * store (the pipeline waits for it): after a crash in between, the device's resend is evaluated
 * again instead of being dropped as a duplicate of stored readings whose alarm was lost. The
 * PUBACK waits for both.
 */
export function composePipeline(d: {
  settings: Settings;
  options: AppOptions['pipeline'];
  book: AlertBook;
  forwarder: Forwarder;
  metrics: Metrics;
  faults: Faults;
  raiseSystem: (o: Outcome) => void;
  clock: () => number;
  log: Logger;
}): PipelineClient {
  const { settings, clock, log } = d;
  const pipeline = new PipelineClient({
    settings: telemetrySettings(settings),
    mode: d.options?.mode ?? (settings.PIPELINE_THREAD === 'on' ? 'thread' : 'inline'),
    entry: d.options?.entry,
    maxInFlight: d.options?.maxInFlight,
    silentAfterMs: d.options?.silentAfterMs,
    // a failed commit is tried again: the readings (and their PUBACK) wait for it, not for the first try
    onOutcomes: (outcomes) => d.book.handle(outcomes).catch(() => d.book.whenRecorded()),
    onForward: (readings) => d.forwarder.readings(readings),
    onEvaluated: (n) => d.metrics.ruleEvaluations.inc(n),
    onFault: (part, err, about) => d.faults.fault(part)(err, about),
    // a full buffer refuses readings (QoS 1 devices then retry): operators must know at once
    onBuffer: (full, depth) => d.raiseSystem(storeBufferFull(full, depth, settings.INFLUX_BUFFER_MB * 1024 * 1024, clock())),
    onExit: (code) => {
      log.error({ code }, 'the reading pipeline stopped unasked: restarting it');
      d.raiseSystem(pipelineDown(`exit ${code}`, clock()));
    },
    onRestarted: () => d.raiseSystem(pipelineDown(null, clock())),
    onHeldBack: (deviceId, held) => {
      if (held.what === 'message') log.error({ device: deviceId }, 'a message ended the reading pipeline twice as it was judged: it is held back from now on');
      else log.error({ device: deviceId, until: new Date(held.until).toISOString() }, "a device's messages ended the reading pipeline again and again: none is taken for a while");
      d.raiseSystem(held.what === 'message' ? messageHeldBack(deviceId, clock()) : deviceHeldBack(deviceId, held.until, clock()));
    },
    onSilence: (silentMs) => {
      if (silentMs !== null) log.error({ silentMs: Math.round(silentMs) }, 'the reading pipeline does not answer: readings and alarms wait for it');
      d.raiseSystem(pipelineSilent(silentMs, clock()));
    },
    log: log.child({ part: 'pipeline' }),
  });
  const mainTid = thisThreadTid();
  // inline (PIPELINE_THREAD=off), the pipeline's CPU and heap are the main thread's
  const ownThread = () => pipeline.tid !== mainTid;
  threadCpu(d.metrics.registry, () => [
    ['main', mainTid],
    ...(ownThread() ? [['pipeline', pipeline.tid] as [string, number | undefined]] : []),
  ]);
  pipelineDepth(d.metrics.registry, () => pipeline.depth());
  threadHeap(d.metrics.registry, () => {
    const h = getHeapStatistics();
    return [['main', [h.used_heap_size, h.total_heap_size]], ...(ownThread() ? [['pipeline', pipeline.heap()] as [string, [number, number] | null]] : [])];
  });
  return pipeline;
}

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { threadCpuSeconds } from './thread-cpu.ts';

/** seconds: the alarm path's targets are 0.05 (live) and 0.3 (a webhook); a group wait adds its own */
const ALARM_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

/** The service's Prometheus metrics, one registry per service instance. */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const c = <L extends string>(name: string, help: string, labelNames: L[] = []) => new Counter({ name, help, labelNames, registers: [registry] });
  return {
    registry,
    messagesIn: c('gateway_messages_in_total', 'MQTT messages received from devices'),
    readingsAccepted: c('gateway_readings_accepted_total', 'readings accepted and stored'),
    rejected: c('gateway_rejected_total', 'things refused from devices, by reject code', ['code']),
    authFailures: c('gateway_auth_failures_total', 'refused MQTT logins', ['reason']),
    connectionsRefused: c('gateway_connections_refused_total', 'connections closed by the gateway limits', ['reason']),
    offlineQueueDropped: c('gateway_offline_queue_dropped_total', 'QoS 1 messages not kept for an offline persistent session that held its limit'),
    sessionsReplaced: c('gateway_sessions_replaced_total', 'kept (persistent, disconnected) sessions let go because their device or user logged in under a ninth client id'),
    answersUnsent: c('gateway_answers_unsent_total', 'answers (PUBACKs) not written because the connection had closed: the device sends again what it did not hear acknowledged'),
    publishFaults: c('gateway_publish_faults_total', 'messages whose processing threw (answered MESSAGE_NOT_PROCESSED, nothing stored)'),
    internalFaults: c('internal_faults_total', 'exceptions caught and isolated (a rule, a listener, a reading step), by part', ['part']),
    ruleEvaluations: c('rules_evaluations_total', 'readings run through the rules engine'),
    alertTransitions: c('alerts_transitions_total', 'alert transitions', ['type', 'severity']),
    notifications: c('notifications_total', 'notification deliveries', ['channel', 'outcome']),
    ackLinks: c('ack_links_total', 'acknowledge links tapped, by outcome (ok, used, expired, invalid)', ['outcome']),
    firePanelFrames: c('fire_panel_frames_total', 'GB/T 26875.3 frames from fire alarm panels, by outcome', ['outcome']),
    apiErrors: c('api_errors_total', 'API requests refused', ['status']),
    registryReloads: c('registry_reloads_total', 'registry reloads, applied or refused', ['outcome']),
    forwarded: c('forward_entries_total', 'queue entries sent to upstream platforms, by outcome (sent, refused, failed, dead)', ['uplink', 'lane', 'outcome']),
    forwardQueue: new Gauge({ name: 'forward_queue_entries', help: 'entries waiting for an upstream platform', labelNames: ['uplink', 'lane'], registers: [registry] }),
    forwardDeadLetters: new Gauge({ name: 'forward_dead_letters', help: 'entries given up on, kept for people to requeue', labelNames: ['uplink'], registers: [registry] }),
    storeLag: new Gauge({ name: 'store_write_lag_seconds', help: 'age of the oldest reading not yet committed', registers: [registry] }),
    storePending: new Gauge({ name: 'store_pending_readings', help: 'readings accepted and not yet committed', registers: [registry] }),
    storeBufferBytes: new Gauge({ name: 'store_buffer_bytes', help: 'bytes waiting on disk for InfluxDB', registers: [registry] }),
    outbox: new Gauge({ name: 'notifications_outbox', help: 'notifications in the outbox, by status', labelNames: ['status'], registers: [registry] }),
    openAlerts: new Gauge({ name: 'alerts_open', help: 'alerts not closed', labelNames: ['severity'], registers: [registry] }),
    devicesOnline: new Gauge({ name: 'devices_online', help: 'devices connected now', registers: [registry] }),
    // the alarm path's two waits after the rules: the record, then the receiver
    alertRecordSeconds: new Histogram({ name: 'alerts_record_seconds', help: 'time from an alert change decided to its commit in the alert record', labelNames: ['severity'], buckets: ALARM_BUCKETS, registers: [registry] }),
    notificationSeconds: new Histogram({
      name: 'notifications_first_delivery_seconds',
      help: 'time from a notice queued to its channel taking it, for notices delivered at their first attempt (a critical alarm: a critical raise, reactivation or worsening)',
      labelNames: ['notice'],
      buckets: ALARM_BUCKETS,
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;

/** A gauge read when scraped: one value per label value, as `read` gives them now. */
function gaugeRead(registry: Registry, name: string, help: string, label: string, read: () => Record<string, number>) {
  new Gauge({
    name,
    help,
    labelNames: [label],
    registers: [registry],
    collect() {
      for (const [value, n] of Object.entries(read())) this.set({ [label]: value }, n);
    },
  });
}

/** `pipeline_messages{where}`: telemetry waiting on the main thread, and handed over and not yet committed. */
export function pipelineDepth(registry: Registry, depth: () => { waiting: number; inFlight: number }) {
  const help = 'telemetry messages waiting on the main thread to be handed to the pipeline (over its bound: their PUBACKs wait), and handed over and not yet committed';
  gaugeRead(registry, 'pipeline_messages', help, 'where', () => {
    const d = depth();
    return { waiting: d.waiting, in_flight: d.inFlight };
  });
}

/** `gateway_publishes_unanswered`: PUBLISH packets taken from devices and not yet answered (a QoS 1 one waits for the disk). */
export function publishesUnanswered(registry: Registry, count: () => number) {
  new Gauge({
    name: 'gateway_publishes_unanswered',
    help: 'PUBLISH packets of all connections taken and not yet answered (a QoS 1 reading waits until it is stored); near 24 000 the gateway reads each connection one packet at a time',
    registers: [registry],
    collect() {
      this.set(count());
    },
  });
}

/** `gateway_logins_hashing{state}`: scrypt secret checks running, and logins waiting for their turn. */
export function loginsHashing(registry: Registry, hashing: () => { running: number; waiting: number }) {
  const help = 'device logins whose scrypt secret is being checked (running) or waits its turn (waiting); the checks take at most half the thread pool';
  gaugeRead(registry, 'gateway_logins_hashing', help, 'state', hashing);
}

/** `outbound_name_lookups{state}` and `outbound_name_lookups_total{outcome}`: host names resolved in turns (services/name-lookups.ts). */
export function nameLookups(registry: Registry, stats: () => { running: number; waiting: number; done: number; refused: number }) {
  const help = 'host name lookups for outgoing connections running or waiting their turn (at most a quarter of the thread pool at once)';
  gaugeRead(registry, 'outbound_name_lookups', help, 'state', () => {
    const s = stats();
    return { running: s.running, waiting: s.waiting };
  });
  new Counter({
    name: 'outbound_name_lookups_total',
    help: 'host name lookups for outgoing connections: done, or refused at once because too many waited',
    labelNames: ['outcome'],
    registers: [registry],
    collect() {
      const s = stats();
      this.reset();
      this.inc({ outcome: 'done' }, s.done);
      this.inc({ outcome: 'refused' }, s.refused);
    },
  });
}

/**
 * `process_thread_heap_bytes{thread,kind}`: each thread's V8 heap (its own isolate), used and
 * total. The process's RSS is these, the stores' own memory (DuckDB, bounded by STORE_MEMORY_MB)
 * and the buffers of connections.
 */
export function threadHeap(registry: Registry, heaps: () => [name: string, heap: [used: number, total: number] | null][]) {
  new Gauge({
    name: 'process_thread_heap_bytes',
    help: 'V8 heap of each thread of the service, used and total (main: MQTT, API, alerts; pipeline: decode, rules, store)',
    labelNames: ['thread', 'kind'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [thread, heap] of heaps()) {
        if (!heap) continue;
        this.set({ thread, kind: 'used' }, heap[0]);
        this.set({ thread, kind: 'total' }, heap[1]);
      }
    },
  });
}

/** `process_thread_cpu_seconds{thread}`: CPU used by each named thread (Linux), read when scraped. */
export function threadCpu(registry: Registry, threads: () => [name: string, tid: number | undefined][]) {
  new Gauge({
    name: 'process_thread_cpu_seconds',
    help: 'user and system CPU seconds used by each thread of the service (main: MQTT, API, alerts; pipeline: decode, rules, store)',
    labelNames: ['thread'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [thread, tid] of threads()) {
        const s = tid === undefined ? undefined : threadCpuSeconds(tid);
        if (s !== undefined) this.set({ thread }, s);
      }
    },
  });
}

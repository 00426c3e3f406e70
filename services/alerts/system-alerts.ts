import { formatCst } from '../../domain/cst.ts';
import type { Outcome } from '../../domain/types.ts';

/**
 * The service's own alarms, raised like any rule's so that they reach the operators through the
 * same book, record and notifications: a notification channel that keeps failing, an InfluxDB
 * buffer that is full. They belong to the pseudo-enterprise `_system`.
 */
export const SYSTEM = '_system';

const base = { ruleKind: 'system', enterpriseId: SYSTEM, deviceId: SYSTEM } as const;

/** The key of a unit's channel's failing alert. */
export const channelHealthKey = (unitId: string, channel: string) => `${SYSTEM}/notify:${unitId}:${channel}`;

/** A unit's channel failed `failuresBeforeAlert` times in a row (raise), or delivers again (clear). */
export function channelHealth(unit: { id: string; name: string }, channel: string, failing: boolean, error: string | undefined, at: number): Outcome {
  return {
    ...base,
    key: channelHealthKey(unit.id, channel),
    change: failing ? 'raise' : 'clear',
    ruleId: 'notification-channel',
    metric: channel,
    severity: failing ? 'major' : null,
    value: null,
    peak: null,
    threshold: null,
    at,
    message: failing ? `通知渠道持续失败：${unit.name} ${channel}（${error}）/ notification channel failing: ${unit.id} ${channel}: ${error}` : `通知渠道恢复 / notification channel delivering again: ${unit.id} ${channel}`,
  };
}

/**
 * InfluxDB's disk buffer is full: readings are being refused (raise); or it has room again (clear).
 * Full means InfluxDB takes less than comes in: down, or too slow for the load.
 */
export function storeBufferFull(full: boolean, depth: { batches: number; bytes: number }, maxBytes: number, at: number): Outcome {
  const mb = (b: number) => (b / 1048576).toFixed(1);
  return {
    ...base,
    key: `${SYSTEM}/influx-buffer`,
    change: full ? 'raise' : 'clear',
    ruleId: 'store-buffer-full',
    metric: 'influx_buffer',
    severity: full ? 'critical' : null,
    value: depth.bytes,
    peak: depth.bytes,
    threshold: maxBytes,
    at,
    message: full
      ? `InfluxDB 写入跟不上或不可用，磁盘缓冲已满（${depth.batches} 批，${mb(depth.bytes)} / ${mb(maxBytes)} MB），正在拒收设备数据 / InfluxDB is down or slower than the readings coming in, and its disk buffer is full (${depth.batches} batches, ${mb(depth.bytes)} of ${mb(maxBytes)} MB): readings are being refused`
      : `InfluxDB 磁盘缓冲已有空间，恢复接收 / InfluxDB's disk buffer has room again (${mb(depth.bytes)} of ${mb(maxBytes)} MB): readings are accepted`,
  };
}

/** The audit trail no longer holds the head published beside the database: entries were removed. */
export function auditTruncated(head: { n: number; hash: string }, at: number): Outcome {
  return {
    ...base,
    key: `${SYSTEM}/audit-trail`,
    change: 'raise',
    ruleId: 'audit-trail-truncated',
    metric: 'audit',
    severity: 'critical',
    value: head.n,
    peak: head.n,
    threshold: null,
    at,
    message: `审计记录被删改：已发布的第 ${head.n} 条不在记录中 / the audit trail lost entries: published entry ${head.n} (${head.hash.slice(0, 12)}…) is no longer in it`,
  };
}

/**
 * A fire panel reported a fire (or a fault) from a component no point of its device stands for:
 * the operators hear of it at once rather than it being dropped; a recovery of that component clears it.
 */
export function panelUnmapped(device: { enterpriseId: string; deviceId: string }, from: string, where: string, fire: boolean, fault: boolean, at: number): Outcome {
  const alarming = fire || fault;
  return {
    ...base,
    // by the component's addresses: its recovery clears it whatever description it carries
    key: `${SYSTEM}/panel:${device.deviceId}:${from}`,
    change: alarming ? 'raise' : 'clear',
    ruleId: 'fire-panel-unmapped',
    metric: 'fire_panel',
    severity: fire ? 'critical' : fault ? 'major' : null,
    value: null,
    peak: null,
    threshold: null,
    at,
    message: alarming
      ? `消防主机 ${device.deviceId}（${device.enterpriseId}）未登记部件${fire ? '火警' : '故障'}：${where} / fire panel ${device.deviceId} reports ${fire ? 'FIRE' : 'a fault'} from a component no point stands for: ${where}`
      : `消防主机未登记部件恢复：${where} / unregistered component back to normal: ${device.deviceId} ${where}`,
  };
}

/** More unregistered components of one panel alarming at once than get an alert each: counted in one. */
export function panelUnmappedMore(device: { enterpriseId: string; deviceId: string }, count: number, shown: number, fire: boolean, at: number): Outcome {
  return {
    ...base,
    key: `${SYSTEM}/panel:${device.deviceId}:more`,
    change: count > 0 ? 'raise' : 'clear',
    ruleId: 'fire-panel-unmapped',
    metric: 'fire_panel',
    severity: count === 0 ? null : fire ? 'critical' : 'major',
    value: count,
    peak: count,
    threshold: shown,
    at,
    message:
      count > 0
        ? `消防主机 ${device.deviceId}（${device.enterpriseId}）另有 ${count} 个未登记部件${fire ? '报火警或故障' : '报故障'}（已单独报警 ${shown} 个）/ fire panel ${device.deviceId} reports ${fire ? 'FIRE or faults' : 'faults'} from ${count} more unregistered components (besides the ${shown} alerted one by one)`
        : `消防主机 ${device.deviceId} 其余未登记部件均已恢复 / the other unregistered components of fire panel ${device.deviceId} are back to normal`,
  };
}

/**
 * The reading pipeline runs and has said nothing for a while (raise): every reading and alarm
 * waits behind whatever holds it. Or it speaks again (clear).
 */
export function pipelineSilent(silentMs: number | null, at: number): Outcome {
  return {
    ...base,
    key: `${SYSTEM}/pipeline-silent`,
    change: silentMs === null ? 'clear' : 'raise',
    ruleId: 'reading-pipeline-silent',
    metric: 'pipeline',
    severity: silentMs === null ? null : 'critical',
    value: null,
    peak: null,
    threshold: null,
    at,
    message:
      silentMs === null
        ? '数据处理线程已恢复响应 / the reading pipeline answers again'
        : `数据处理线程 ${Math.round(silentMs / 1000)} 秒无响应，设备数据与报警均在等待 / the reading pipeline has not answered for ${Math.round(silentMs / 1000)} s: readings and alarms wait for it`,
  };
}

/**
 * A device's message ended the reading pipeline's thread twice as it was judged: it is held back
 * from now on (answered MESSAGE_NOT_PROCESSED, never judged). Its readings may have held an alarm,
 * so the operators hear of it at once and follow it up with the enterprise; it stays until they
 * close it.
 */
export function messageHeldBack(deviceId: string, at: number): Outcome {
  return heldBack(`held-back:${deviceId}`, 'message-held-back', at, `设备 ${deviceId} 的一条数据导致数据处理线程停止，已被拦截、未处理，其中可能含有报警，请联系企业核查 / a message of device ${deviceId} stopped the reading pipeline: it is held back, not judged (it may have held an alarm); follow it up with the enterprise`);
}

/**
 * A device's messages, each new, ended the reading pipeline's thread again and again as they were
 * judged (suspects.ts): none of its messages is judged until `until`. What it sends meanwhile may
 * hold alarms, so the operators hear of it at once and follow it up with the enterprise; it stays
 * until they close it.
 */
export function deviceHeldBack(deviceId: string, until: number, at: number): Outcome {
  return heldBack(`device-held-back:${deviceId}`, 'device-held-back', at, `设备 ${deviceId} 的数据多次导致数据处理线程停止，${formatCst(until)} 前其数据一律拦截、不予处理（其中可能含有报警），请联系企业核查 / the messages of device ${deviceId} stopped the reading pipeline again and again: none is judged until ${formatCst(until)} CST (they may hold alarms); follow it up with the enterprise`);
}

/** What the reading pipeline holds back: critical, raised, until the operators close it. */
function heldBack(key: string, ruleId: string, at: number, message: string): Outcome {
  return { ...base, key: `${SYSTEM}/${key}`, change: 'raise', ruleId, metric: 'pipeline', severity: 'critical', value: null, peak: null, threshold: null, at, message };
}

/** The reading pipeline's thread ended unasked: telemetry is refused (not acknowledged) until it is back. */
export function pipelineDown(error: string | null, at: number): Outcome {
  return {
    ...base,
    key: `${SYSTEM}/pipeline`,
    change: error === null ? 'clear' : 'raise',
    ruleId: 'reading-pipeline',
    metric: 'pipeline',
    severity: error === null ? null : 'critical',
    value: null,
    peak: null,
    threshold: null,
    at,
    message:
      error === null
        ? '数据处理线程已恢复 / the reading pipeline is running again'
        : `数据处理线程意外停止，正在重启；期间不确认设备数据 / the reading pipeline stopped (${error}) and is restarting; telemetry is not acknowledged meanwhile`,
  };
}

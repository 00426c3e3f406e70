import { INDICATORS, isMetric } from '../../rules/indicators.ts';
import type { Alert, Transition } from '../alerts/model.ts';

/** What people read: Chinese first, English below, times in China Standard Time. */
const cst = new Intl.DateTimeFormat('sv-SE', {
  timeZone: 'Asia/Shanghai',
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
  hour12: false,
});

export const formatCst = (ms: number) => cst.format(new Date(ms));

const SEVERITY_ZH = { info: '提示', warning: '预警', major: '严重', critical: '紧急' } as const;
const EVENT = {
  raised: ['报警', 'ALARM'],
  reactivated: ['再次报警', 'ALARM AGAIN'],
  flapping: ['报警频繁跳变', 'FLAPPING'],
  severity_changed: ['报警级别变化', 'SEVERITY CHANGED'],
  cleared: ['报警消除', 'CLEARED'],
  acknowledged: ['已确认', 'ACKNOWLEDGED'],
  closed: ['已关闭', 'CLOSED'],
  notified: ['通知', 'NOTIFIED'],
  notification_failed: ['通知失败', 'NOTIFICATION FAILED'],
} as const;

export interface MessageContext {
  enterpriseName: string;
  link: string;
}

export interface Message {
  title: string;
  text: string;
  markdown: string;
}

export function renderMessage(a: Alert, t: Transition, ctx: MessageContext): Message {
  const [zhEvent, enEvent] = EVENT[t.type];
  const ind = isMetric(a.metric) ? INDICATORS[a.metric] : undefined;
  const unit = ind?.unit ? ` ${ind.unit}` : '';
  const value = a.value === null ? '—' : `${a.value}${typeof a.value === 'number' ? unit : ''}`;
  const threshold = a.threshold === null ? '—' : `${a.threshold}${unit}`;
  const when = `${formatCst(t.at)} (UTC+8)`;
  const title = `【${SEVERITY_ZH[a.severity]}·${zhEvent}】${ctx.enterpriseName} ${ind?.zh ?? a.metric} / [${a.severity.toUpperCase()} ${enEvent}] ${a.deviceId} ${ind?.en ?? a.metric}`;
  const zh = [
    `事件：${zhEvent}（${SEVERITY_ZH[a.severity]}）`,
    `企业：${ctx.enterpriseName}（${a.enterpriseId}）`,
    `设备/点位：${a.deviceId} / ${ind?.zh ?? a.metric}`,
    `当前值：${value}，报警阈值：${threshold}`,
    `时间：${when}`,
    `说明：${a.message}`,
    t.note ? `备注：${t.note}（${t.actor}）` : '',
    `详情：${ctx.link}`,
  ].filter(Boolean);
  const en = [
    `Event: ${enEvent} (${a.severity})`,
    `Enterprise: ${ctx.enterpriseName} (${a.enterpriseId})`,
    `Device / point: ${a.deviceId} / ${ind?.en ?? a.metric}`,
    `Value: ${value}, threshold: ${threshold}`,
    `Time: ${when}`,
    t.note ? `Note: ${t.note} (${t.actor})` : '',
    `Details: ${ctx.link}`,
  ].filter(Boolean);
  const text = [...zh, '', '----', ...en].join('\n');
  const markdown = [`### ${title}`, ...zh.map((l) => `- ${l}`), '', ...en.map((l) => `- ${l}`)].join('\n');
  return { title, text, markdown };
}

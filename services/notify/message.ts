import { INDICATORS, isMetric } from '../../domain/indicators.ts';
import type { Alert, Transition } from '../alerts/model.ts';
import type { Silence } from '../alerts/silences.ts';
import { formatCst } from '../../domain/cst.ts';
import { severityRank } from '../../domain/types.ts';
import type { PhoneParams } from './channels/providers/phone-provider.ts';

/** What people read: Chinese first, English below, times in China Standard Time. */
export { formatCst };

const SEVERITY_ZH = { info: '提示', warning: '预警', major: '严重', critical: '紧急' } as const;
const EVENT = {
  raised: ['报警', 'ALARM'],
  reactivated: ['再次报警', 'ALARM AGAIN'],
  flapping: ['报警频繁跳变', 'FLAPPING'],
  severity_changed: ['报警级别变化', 'SEVERITY CHANGED'],
  cleared: ['报警消除', 'CLEARED'],
  acknowledged: ['已确认', 'ACKNOWLEDGED'],
  closed: ['已关闭', 'CLOSED'],
  escalated: ['报警升级（无人确认）', 'ESCALATED (not acknowledged)'],
  reminded: ['提醒：报警尚未确认', 'REMINDER: not acknowledged'],
  overdue: ['报警超时未闭环', 'NOT CLOSED IN TIME'],
  notified: ['通知', 'NOTIFIED'],
  notification_failed: ['通知失败', 'NOTIFICATION FAILED'],
  notification_held: ['通知暂缓（维护/静默）', 'NOTIFICATION HELD'],
  notification_expired: ['通知过期', 'NOTIFICATION EXPIRED'],
  feedback: ['企业处置反馈（待核查）', 'FEEDBACK REPORTED (to review)'],
  review_returned: ['核查未通过，退回企业', 'REVIEW: RETURNED TO THE ENTERPRISE'],
  feedback_overdue: ['处置反馈逾期', 'FEEDBACK OVERDUE'],
} as const;

export interface MessageContext {
  enterpriseName: string;
  /** the device's name in the registry, when it has one */
  deviceName?: string;
  link: string;
}

/** a device as people know it: its name, with the id beside it for the record */
const deviceLabel = (id: string, name?: string) => (name ? `${inert(name)}（${id}）` : id);

/**
 * Text from people (a device's name an enterprise registered, a note with an acknowledgement) on
 * one line, and no markdown link or tag: a name with "\n- [详情](http://…)" made a line of its own,
 * with its own link, in the messages a regulator's robot shows.
 */
export const inert = (s: string) => oneLine(s).replace(/\[/g, '［').replace(/\]/g, '］').replace(/</g, '＜').replace(/>/g, '＞');
/** a line of a message stays one line */
const oneLine = (s: string) => s.replace(/[\u0000-\u001F\u007F\u2028\u2029]+/g, ' ');

export interface Message {
  title: string;
  text: string;
  markdown: string;
}

/** The point as people name it: its own name (1号灶台) or id with the metric's, else the metric's. */
function pointOf(a: Alert, metricName: string | undefined): string {
  const what = metricName ?? a.metric;
  const own = a.pointName ?? (a.pointId && a.pointId !== a.metric ? a.pointId : null);
  return own ? `${inert(own)} ${what}` : what;
}

export function renderMessage(a: Alert, t: Transition, ctx0: MessageContext): Message {
  const ctx = { ...ctx0, enterpriseName: inert(ctx0.enterpriseName) };
  const [zhEvent, enEvent] = EVENT[t.type];
  const ind = isMetric(a.metric) ? INDICATORS[a.metric] : undefined;
  const unit = ind?.unit ? ` ${ind.unit}` : '';
  const value = a.value === null ? '—' : `${a.value}${typeof a.value === 'number' ? unit : ''}`;
  const threshold = a.threshold === null ? '—' : `${a.threshold}${unit}`;
  // a switch (a smoke alarm, a valve) alarms by its state: "yes", not "true, threshold 1"
  const isSwitch = typeof a.value === 'boolean' || ind?.type === 'boolean';
  const [zhValue, enValue] = isSwitch
    ? a.value === null
      ? ['状态：—', 'State: —']
      : a.value === true || a.value === 1
        ? ['状态：是', 'State: yes']
        : ['状态：否', 'State: no']
    : [`当前值：${value}，报警阈值：${threshold}`, `Value: ${value}, threshold: ${threshold}`];
  const when = `${formatCst(t.at)} (UTC+8)`;
  const title = `【${SEVERITY_ZH[a.severity]}·${zhEvent}】${ctx.enterpriseName} ${ind?.zh ?? a.metric} / [${a.severity.toUpperCase()} ${enEvent}] ${a.deviceId} ${ind?.en ?? a.metric}`;
  const zh = [
    `事件：${zhEvent}（${SEVERITY_ZH[a.severity]}）`,
    `企业：${ctx.enterpriseName}（${a.enterpriseId}）`,
    `设备/点位：${deviceLabel(a.deviceId, ctx.deviceName)} / ${pointOf(a, ind?.zh)}`,
    zhValue,
    `时间：${when}`,
    // the words a rule made may hold a point's name an enterprise registered
    `说明：${inert(t.message ?? a.message)}`,
    t.note ? `备注：${inert(t.note)}（${inert(t.actor)}）` : '',
    `详情：${ctx.link}`,
  ].filter(Boolean);
  const en = [
    `Event: ${enEvent} (${a.severity})`,
    `Enterprise: ${ctx.enterpriseName} (${a.enterpriseId})`,
    `Device / point: ${a.deviceId} / ${pointOf(a, ind?.en)}`,
    enValue,
    `Time: ${when}`,
    t.note ? `Note: ${inert(t.note)} (${inert(t.actor)})` : '',
    `Details: ${ctx.link}`,
  ].filter(Boolean);
  const text = [...zh, '', '----', ...en].join('\n');
  const markdown = [`### ${title}`, ...zh.map((l) => `- ${l}`), '', ...en.map((l) => `- ${l}`)].join('\n');
  return { title, text, markdown };
}

/**
 * A storm in one message: one line per change, the worst first and then by time. A robot cuts a
 * long message (WeCom at 4 096 bytes): a critical alarm that joined a digest of hundreds of lesser
 * changes must be in what it keeps.
 */
export function renderDigest(unordered: { alert: Alert; transition: Transition; enterpriseName: string; deviceName?: string }[], link: string): Message {
  const items = [...unordered].sort((x, y) => severityRank(y.alert.severity) - severityRank(x.alert.severity) || x.transition.at - y.transition.at);
  const count = items.length;
  const enterprises = [...new Set(items.map((i) => inert(i.enterpriseName)))];
  const worst = items.reduce((w, i) => (severityRank(i.alert.severity) > severityRank(w) ? i.alert.severity : w), 'info' as Alert['severity']);
  const title = `【报警汇总·${SEVERITY_ZH[worst]}】${enterprises.slice(0, 2).join('、')}${enterprises.length > 2 ? '等' : ''} ${count} 条报警变化 / [DIGEST] ${count} alert changes`;
  // each line names the place as people know it and links to the alert (not its id)
  const lines = items.map(({ alert: a, transition: t, enterpriseName, deviceName }) => {
    const ind = isMetric(a.metric) ? INDICATORS[a.metric] : undefined;
    const value = a.value === null || typeof a.value === 'boolean' ? '' : ` ${a.value}${ind?.unit ? ` ${ind.unit}` : ''}`;
    return { line: `${formatCst(t.at)} ${EVENT[t.type][0]}/${EVENT[t.type][1]} [${SEVERITY_ZH[a.severity]}] ${inert(enterpriseName)} ${deviceName === undefined ? a.deviceId : inert(deviceName)} ${pointOf(a, ind?.zh)}${value}`, href: `${link}/${a.id}` };
  });
  const text = [`共 ${count} 条报警变化（时间为北京时间）/ ${count} alert changes (times UTC+8):`, '', ...lines.map((l) => `${l.line} ${l.href}`), '', `详情 / Details: ${link}`].join('\n');
  const markdown = [`### ${title}`, ...lines.map((l) => `- ${l.line} [查看 / view](${l.href})`), '', `[详情 / Details](${link})`].join('\n');
  return { title, text, markdown };
}


/**
 * The markdown in at most `maxBytes` (UTF-8) for a robot that refuses a longer message for good
 * (DingTalk: errcode 460101 past 20 000 bytes) or cuts it (WeCom at 4 096). The title stays, and
 * what follows the list (the details and acknowledge links), which a cut at the end lost.
 * `digest`: whole lines of the list go from its end (a digest lists the worst first), and a line
 * says how many went. Otherwise (one alert's message, whose lines are its facts, and the note of
 * whoever acknowledged it) every line stays, the longest cut first.
 */
export function fitMarkdown(markdown: string, maxBytes: number, digest: boolean): string {
  if (bytes(markdown) <= maxBytes) return markdown;
  const lines = markdown.split('\n');
  const lastItem = lines.findLastIndex((l) => l.startsWith('- '));
  if (lastItem < 1) return truncateBytes(markdown, maxBytes);
  const tail = lines.slice(lastItem + 1);
  const list = lines.slice(1, lastItem + 1);
  // a title too long for the message (two enterprises' names of thousands of characters) is cut
  // to a quarter of it: the links and the list come first
  const headRoom = Math.min(Math.floor(maxBytes / 4), maxBytes - bytes(tail.join('\n')) - 2 - 256);
  if (headRoom < 32) return truncateBytes(markdown, maxBytes);
  const head = bytes(lines[0]) > headRoom ? truncateBytes(lines[0], headRoom) : lines[0];
  const out = digest ? dropLines(head, list, tail, maxBytes) : cutLongest(head, list, tail, maxBytes);
  return bytes(out) <= maxBytes ? out : truncateBytes(markdown, maxBytes);
}

const bytes = (x: string) => Buffer.byteLength(x, 'utf8');

/** the list's lines that fit, from the top, with a line saying how many more there are */
function dropLines(head: string, list: string[], tail: string[], maxBytes: number): string {
  const items = list.filter((l) => l.startsWith('- ')).length;
  const note = (left: number) => `- …另有 ${left} 条未列出，见详情 / ${left} more not listed: see Details`;
  const fixed = bytes([head, ...tail].join('\n')) + 1;
  // each line costs its bytes and a newline
  let kept = 0;
  let used = 0;
  let shownItems = 0;
  while (kept < list.length) {
    const item = list[kept].startsWith('- ') ? 1 : 0;
    const cost = bytes(list[kept]) + 1;
    if (fixed + used + cost + bytes(note(items - shownItems - item)) + 1 > maxBytes) break;
    used += cost;
    shownItems += item;
    kept++;
  }
  const shown = list.slice(0, kept);
  // not even the first line fits whole: the worst of the list, cut, rather than nothing of it
  const room = maxBytes - fixed - bytes(note(items - 1)) - 2;
  if (kept === 0 && room >= 64) (shown.push(truncateBytes(list[0], room)), (shownItems = 1));
  return [head, ...shown, note(items - shownItems), ...tail].join('\n');
}

/**
 * every line, the longest cut to one length until the whole fits: the Chinese and the English of
 * a long note keep as much of it each
 */
function cutLongest(head: string, list: string[], tail: string[], maxBytes: number): string {
  const sizes = list.map(bytes);
  const fixed = bytes([head, ...tail].join('\n')) + list.length + 1;
  const fits = (cap: number) => fixed + sizes.reduce((n, b) => n + Math.min(b, cap), 0) <= maxBytes;
  // the largest length every line may keep (a line cut to less than 48 bytes keeps little but its label)
  let lo = 48;
  let hi = Math.max(lo, ...sizes);
  if (!fits(lo)) return [head, ...list.map((l) => (bytes(l) > lo ? truncateBytes(l, lo) : l)), ...tail].join('\n');
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (fits(mid)) lo = mid;
    else hi = mid - 1;
  }
  return [head, ...list.map((l, i) => (sizes[i] > lo ? truncateBytes(l, lo) : l)), ...tail].join('\n');
}

export function truncateBytes(s: string, max: number): string {
  const buf = Buffer.from(s, 'utf8');
  if (buf.length <= max) return s;
  return buf.subarray(0, max - 3).toString('utf8').replace(/\uFFFD$/, '') + '…';
}

export type SilenceView = Pick<Silence, 'deviceId' | 'rule' | 'reason' | 'by' | 'from' | 'until'> & { enterpriseName: string };

export function renderSilence(s: SilenceView, phase: 'started' | 'ended'): Message {
  const scope = [s.enterpriseName, s.deviceId, s.rule]
    .filter((x): x is string => !!x)
    .map(inert)
    .join(' / ');
  const [zh, en] = phase === 'started' ? ['维护/静默开始，期间报警照常记录，通知暂缓', 'maintenance / silence started: alerts are recorded, notifications held'] : ['维护/静默结束，通知恢复', 'maintenance / silence ended: notifications resume'];
  const title = `【${phase === 'started' ? '静默开始' : '静默结束'}】${scope} / [SILENCE ${phase.toUpperCase()}]`;
  const body = [
    `${zh}`,
    `范围：${scope}`,
    `原因：${inert(s.reason)}（${inert(s.by)}）`,
    `时间：${formatCst(s.from)} — ${formatCst(s.until)} (UTC+8)`,
    '',
    '----',
    `${en}`,
    `Scope: ${scope}`,
    `Reason: ${inert(s.reason)} (${inert(s.by)})`,
    `Time: ${formatCst(s.from)} — ${formatCst(s.until)} (UTC+8)`,
  ];
  return { title, text: body.join('\n'), markdown: [`### ${title}`, ...body.filter((l) => l && l !== '----').map((l) => `- ${l}`)].join('\n') };
}

/** MM-DD HH:mm, China Standard Time: what fits a template variable */
const shortCst = (ms: number) => formatCst(ms).slice(5, 16);

/**
 * What fits an SMS or a call: the template variables the cloud providers fill in, and a short
 * text for gateways taking free text. Chinese only: an SMS is 70 characters a part.
 */
export function renderPhone(items: { alert: Alert; transition: Transition; enterpriseName: string }[], ackLink?: string): { params: PhoneParams; text: string } {
  const worst = items.reduce((w, i) => (severityRank(i.alert.severity) > severityRank(w.alert.severity) ? i : w), items[0]);
  const a = worst.alert;
  const ind = isMetric(a.metric) ? INDICATORS[a.metric] : undefined;
  // a switch says what it is by its name (烟感火灾报警): "true" is no word for an SMS
  const said = (v: Alert['value']) => (v === null || typeof v === 'boolean' ? '' : ` ${v}${ind?.unit ?? ''}`);
  // an alarm that came and went before the message left is still an alarm: a phone that only
  // says "cleared" hides from the person on duty that something happened
  const last = items.at(-1)!.transition.type;
  const cameAndWent = last === 'cleared' && items.some((i) => i.transition.type === 'raised' || i.transition.type === 'reactivated' || i.transition.type === 'severity_changed');
  const value = cameAndWent && a.peak !== null && typeof a.peak !== 'boolean' ? ` 峰值${said(a.peak)}` : said(a.value);
  const enterprises = [...new Set(items.map((i) => inert(i.enterpriseName)))];
  const alerts = new Set(items.map((i) => i.alert.id)).size;
  const params: PhoneParams = {
    level: SEVERITY_ZH[a.severity],
    enterprise: enterprises.length > 1 ? `${enterprises[0]}等${enterprises.length}家` : enterprises[0],
    point: alerts > 1 ? `${pointOf(a, ind?.zh)}等${alerts}处` : `${pointOf(a, ind?.zh)}${value}`,
    event: alerts > 1 ? '报警汇总' : cameAndWent ? '报警（已消除）' : EVENT[last][0],
    time: shortCst(worst.transition.at),
    code: ackLink ? ackLink.slice(ackLink.lastIndexOf('/') + 1) : '-',
  };
  const text = `【${params.level}${params.event}】${params.enterprise} ${params.point} ${params.time}${ackLink ? ` 一键确认：${ackLink}` : ''}`;
  return { params, text };
}

/** A silence or summary by SMS: its title. */
export function phoneOf(m: Message): { params: PhoneParams; text: string } {
  return { params: { level: '提示', enterprise: m.title.slice(0, 30), point: '-', event: '通知', time: '-', code: '-' }, text: m.title };
}

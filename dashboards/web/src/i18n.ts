import { INDICATORS, isMetric } from '../../../domain/indicators.ts';

/** Chinese by default, English on the switch; times always in China Standard Time. */
const zh = {
  title: '安全风险监测预警',
  board: '值班台',
  devices: '设备监测',
  alertsMine: '本企业报警',
  stats: '统计分析',
  logout: '退出',
  token: '访问令牌',
  login: '登录',
  hint: '演示令牌：demo-operator（值班员）、demo-regulator（监管）、demo-longxin（企业）',
  badToken: '令牌无效或已停用',
  live: '实时',
  offlineStream: '连接中断，正在重连',
  soundOn: '声音已开',
  soundOff: '声音已关',
  soundBlocked: '点击启用声音',
  criticalBanner: '【紧急】{n} 条紧急报警未确认：',
  criticalTitle: '{n} 条紧急报警未确认',
  criticalCleared: '（其中 {n} 条已消除，仍待确认）',
  linkLost: '与监测服务器的连接已中断，页面数据可能已过时；正在重连。中断于',
  openAlerts: '未闭环报警',
  severity: '级别',
  time: '时间',
  enterprise: '企业',
  industry: '行业',
  region: '区域',
  point: '设备 / 点位',
  value: '数值',
  threshold: '阈值',
  message: '说明',
  state: '状态',
  actions: '操作',
  all: '全部',
  ack: '确认',
  close: '关闭',
  detail: '详情',
  active: '报警中',
  cleared: '已消除',
  closed: '已关闭',
  open: '未闭环',
  acked: '已确认',
  unacked: '未确认',
  flapping: '频繁跳变',
  online: '在线',
  offline: '离线',
  neverSeen: '从未上报',
  heldBackUntil: '数据拦截至',
  lastSeen: '最后上报',
  devicesOnline: '设备在线',
  noAlerts: '没有符合条件的报警',
  history: '处理记录',
  notifications: '通知记录',
  unit: '单位',
  channel: '渠道',
  status: '状态',
  attempts: '次数',
  lastError: '最后错误',
  raisedAt: '报警时间',
  ackAt: '确认时间',
  clearedAt: '消除时间',
  closedAt: '关闭时间',
  peak: '峰值',
  closeTitle: '关闭报警',
  disposition: '处置结论',
  note: '处置说明',
  notePlaceholder: '现场核查情况、采取的措施',
  cancel: '取消',
  confirmClose: '确认关闭',
  ackNote: '确认备注（可选）',
  select: '选择',
  themeDark: '深色',
  themeLight: '浅色',
  selectCleared: '选择全部已消除',
  bulkAck: '确认所选',
  bulkClose: '关闭所选',
  clearSelection: '取消选择',
  selectedN: '已选',
  bulkCloseTitle: '关闭所选报警',
  bulkDone: '完成',
  bulkFailed: '未完成',
  bulkNeedsReview: '须经企业反馈和核查后关闭',
  bulkAlreadyAcked: '已有人确认',
  criticalNeedsAck: '紧急报警须先确认再关闭',
  feedback: '处置反馈',
  feedbackTitle: '处置反馈（原因、措施、照片）',
  cause: '原因',
  measures: '采取的措施',
  photos: '照片',
  sendFeedback: '提交反馈',
  review: '核查',
  reviewTitle: '核查企业反馈',
  accept: '通过并关闭',
  returnIt: '退回企业',
  feedbackDue: '反馈期限',
  reviewState: '核查',
  awaiting: '待核查',
  returned: '已退回',
  needsReview: '须经核查通过后关闭',
  loop: '处置闭环',
  reviewQueue: '待核查的处置反馈',
  hazards: '隐患整改',
  hazard: '隐患',
  dueAt: '整改期限',
  overdue: '逾期',
  openState: '整改中',
  rectifiedState: '已整改待验收',
  reportRectified: '整改完成',
  signOff: '验收销号',
  coverageNav: '联网覆盖',
  coverage: '联网覆盖（应联尽联）',
  mustConnect: '应联网',
  notConnected: '未联网',
  connected: '已联网',
  onlineNow: '当前在线',
  yes: '是',
  no: '否',
  alerts: '报警',
  feedbackOverdue: '反馈逾期',
  hazardsOpen: '隐患未销号',
  monthly: '月度报告',
  downloadXlsx: '下载 Excel',
  exposedWorkers: '涉粉作业人数',
  dustType: '粉尘',
  majorHazardLevel: '重大危险源等级',
  range: '时间范围',
  noData: '该时段无数据',
  registerDevice: '登记设备',
  deviceId: '设备编号',
  deviceName: '设备名称',
  reportInterval: '上报周期（秒）',
  templates: '规则模板',
  points: '监测点位',
  addPoint: '添加点位',
  metric: '指标',
  rangeLow: '量程下限',
  rangeHigh: '量程上限',
  register: '登记',
  secretOnce: '设备密钥只显示这一次，请立即复制到设备配置中；服务端只保存其哈希。',
  mqttSettings: 'MQTT 接入参数',
  copy: '复制',
  copied: '已复制',
  done: '完成',
  period: '统计期间',
  from: '开始',
  to: '结束',
  apply: '查询',
  days7: '近 7 天',
  days30: '近 30 天',
  customRange: '自定义时段',
  byIndustry: '报警数量（按行业）',
  bySeverity: '报警数量（按级别）',
  perEnterprise: '各企业处置与在线情况',
  alertsCount: '报警数',
  medianAck: '确认用时中位数',
  medianClose: '闭环用时中位数',
  onlineRate: '在线率',
  mostUnhandled: '未处置报警最多的企业',
  unhandled: '未处置',
  alertHistory: '报警历史',
  exportCsv: '导出 CSV',
  loadMore: '加载更多',
  forbidden: '无权查看该企业',
  chooseEnterprise: '选择企业',
  lang: 'English',
  minutes: '分钟',
  hours: '小时',
  seconds: '秒',
};
type Key = keyof typeof zh;
const en: Record<Key, string> = {
  title: 'Risk monitoring and early warning',
  board: 'Duty board',
  devices: 'Devices',
  alertsMine: 'Our alerts',
  stats: 'Statistics',
  logout: 'Log out',
  token: 'Access token',
  login: 'Log in',
  hint: 'Demo tokens: demo-operator (operator), demo-regulator (regulator), demo-longxin (enterprise)',
  badToken: 'The token is not valid',
  live: 'live',
  offlineStream: 'connection lost, reconnecting',
  soundOn: 'Sound on',
  soundOff: 'Sound off',
  soundBlocked: 'Click to enable sound',
  criticalBanner: '[CRITICAL] {n} unacknowledged:',
  criticalTitle: '{n} critical alarms unacknowledged',
  criticalCleared: '({n} of them cleared, still to acknowledge)',
  linkLost: 'The link to the monitoring server is lost: what this page shows may be stale; reconnecting. Lost at',
  openAlerts: 'Open alerts',
  severity: 'Severity',
  time: 'Time',
  enterprise: 'Enterprise',
  industry: 'Industry',
  region: 'Region',
  point: 'Device / point',
  value: 'Value',
  threshold: 'Threshold',
  message: 'Message',
  state: 'State',
  actions: 'Actions',
  all: 'All',
  ack: 'Acknowledge',
  close: 'Close',
  detail: 'Details',
  active: 'active',
  cleared: 'cleared',
  closed: 'closed',
  open: 'open',
  acked: 'acknowledged',
  unacked: 'not acknowledged',
  flapping: 'flapping',
  online: 'online',
  offline: 'offline',
  neverSeen: 'never reported',
  heldBackUntil: 'readings held back until',
  lastSeen: 'Last seen',
  devicesOnline: 'devices online',
  noAlerts: 'No alerts match',
  history: 'Record',
  notifications: 'Notifications',
  unit: 'Unit',
  channel: 'Channel',
  status: 'Status',
  attempts: 'Tries',
  lastError: 'Last error',
  raisedAt: 'Raised',
  ackAt: 'Acknowledged',
  clearedAt: 'Cleared',
  closedAt: 'Closed',
  peak: 'Peak',
  closeTitle: 'Close alert',
  disposition: 'Disposition',
  note: 'What was done',
  notePlaceholder: 'what was found on site, what was done',
  cancel: 'Cancel',
  confirmClose: 'Close it',
  ackNote: 'Note (optional)',
  select: 'Select',
  themeDark: 'Dark',
  themeLight: 'Light',
  selectCleared: 'Select all cleared',
  bulkAck: 'Acknowledge selected',
  bulkClose: 'Close selected',
  clearSelection: 'Clear selection',
  selectedN: 'Selected',
  bulkCloseTitle: 'Close the selected alerts',
  bulkDone: 'done',
  bulkFailed: 'not done',
  bulkNeedsReview: 'closes through the enterprise\'s feedback and a review',
  bulkAlreadyAcked: 'acknowledged already',
  criticalNeedsAck: 'A critical alert must be acknowledged before it is closed',
  feedback: 'Feedback',
  feedbackTitle: 'Feedback (cause, measures, photos)',
  cause: 'Cause',
  measures: 'Measures taken',
  photos: 'Photos',
  sendFeedback: 'Send feedback',
  review: 'Review',
  reviewTitle: 'Review the feedback',
  accept: 'Accept and close',
  returnIt: 'Return it',
  feedbackDue: 'Feedback due',
  reviewState: 'Review',
  awaiting: 'awaiting review',
  returned: 'returned',
  needsReview: 'closes through an accepted review',
  loop: 'Closed loop',
  reviewQueue: 'Feedback awaiting review',
  hazards: 'Rectification items',
  hazard: 'Hazard',
  dueAt: 'Due',
  overdue: 'overdue',
  openState: 'being rectified',
  rectifiedState: 'rectified, to sign off',
  reportRectified: 'Report rectified',
  signOff: 'Sign off',
  coverageNav: 'Coverage',
  coverage: 'Coverage (who must be connected)',
  mustConnect: 'Must connect',
  notConnected: 'Not connected',
  connected: 'Connected',
  onlineNow: 'Online now',
  yes: 'yes',
  no: 'no',
  alerts: 'Alerts',
  feedbackOverdue: 'Feedback overdue',
  hazardsOpen: 'Hazards open',
  monthly: 'Monthly report',
  downloadXlsx: 'Download Excel',
  exposedWorkers: 'workers exposed to dust',
  dustType: 'dust',
  majorHazardLevel: 'major hazard level',
  range: 'Range',
  noData: 'No data in this period',
  registerDevice: 'Register a device',
  deviceId: 'Device id',
  deviceName: 'Name',
  reportInterval: 'Report interval (s)',
  templates: 'Rule templates',
  points: 'Points',
  addPoint: 'Add a point',
  metric: 'Metric',
  rangeLow: 'Range low',
  rangeHigh: 'Range high',
  register: 'Register',
  secretOnce: 'The device secret is shown only now: copy it into the device. The service keeps only its hash.',
  mqttSettings: 'MQTT settings',
  copy: 'Copy',
  copied: 'Copied',
  done: 'Done',
  period: 'Period',
  from: 'From',
  to: 'To',
  apply: 'Apply',
  days7: 'Last 7 days',
  days30: 'Last 30 days',
  customRange: 'Custom range',
  byIndustry: 'Alerts by industry',
  bySeverity: 'Alerts by severity',
  perEnterprise: 'Handling and online rate per enterprise',
  alertsCount: 'Alerts',
  medianAck: 'Median time to acknowledge',
  medianClose: 'Median time to close',
  onlineRate: 'Online rate',
  mostUnhandled: 'Most unhandled alerts',
  unhandled: 'Unhandled',
  alertHistory: 'Alert history',
  exportCsv: 'Export CSV',
  loadMore: 'Load more',
  forbidden: 'This enterprise is outside your scope',
  chooseEnterprise: 'Enterprise',
  lang: '中文',
  minutes: 'min',
  hours: 'h',
  seconds: 's',
};

export type Lang = 'zh' | 'en';
export let lang: Lang = localStorage.getItem('lang') === 'en' ? 'en' : 'zh';

export function setLang(l: Lang) {
  lang = l;
  localStorage.setItem('lang', l);
  document.documentElement.lang = l === 'zh' ? 'zh-CN' : 'en';
}

export const t = (k: Key): string => (lang === 'zh' ? zh : en)[k];

const SEVERITY = { zh: { info: '提示', warning: '预警', major: '严重', critical: '紧急' }, en: { info: 'info', warning: 'warning', major: 'major', critical: 'critical' } } as const;
export const SEVERITIES = ['critical', 'major', 'warning', 'info'] as const;
export const severityName = (s: string) => (SEVERITY[lang] as Record<string, string>)[s] ?? s;

const INDUSTRY = {
  zh: { dust: '粉尘涉爆', aluminum_casting: '铝加工（深井铸造）', steel: '钢铁冶金', hazchem: '危险化学品', gas_user: '燃气使用', fire: '人员密集场所', building_materials: '建材', system: '系统' },
  en: { dust: 'dust explosion', aluminum_casting: 'aluminium casting', steel: 'steel', hazchem: 'hazardous chemicals', gas_user: 'gas users', fire: 'crowded premises', building_materials: 'building materials', system: 'system' },
} as const;
export const industryName = (i: string) => (INDUSTRY[lang] as Record<string, string>)[i] ?? i;

const TEMPLATE = {
  zh: { fire: '消防报警', common: '通用' },
  en: { fire: 'fire alarms', common: 'general' },
} as const;
/** A rule template as people choose it: by what it is for (its id is the registry's word). */
export const templateName = (n: string) => (TEMPLATE[lang] as Record<string, string>)[n] ?? industryName(n);

// `_device` is what device-wide rules (offline, data gaps) report on
export const metricName = (m: string) => (isMetric(m) ? INDICATORS[m][lang] : m === '_device' ? (lang === 'zh' ? '设备' : 'device') : m);
/** An alert's point as people name it: its own name, or id, beside what it measures. */
export const pointName = (a: { metric: string; pointId?: string | null; pointName?: string | null }) => {
  const own = a.pointName ?? (a.pointId && a.pointId !== a.metric ? a.pointId : null);
  return own ? `${own} · ${metricName(a.metric)}` : metricName(a.metric);
};
export const metricUnit = (m: string) => (isMetric(m) ? INDICATORS[m].unit : '');

const DISPOSITION = {
  zh: { hazard_rectified: '隐患已整改', false_alarm: '误报', device_fault: '设备故障', drill: '演练', other: '其他' },
  en: { hazard_rectified: 'hazard rectified', false_alarm: 'false alarm', device_fault: 'device fault', drill: 'drill', other: 'other' },
} as const;
export const DISPOSITIONS = ['hazard_rectified', 'false_alarm', 'device_fault', 'drill', 'other'] as const;
export const dispositionName = (d: string) => (DISPOSITION[lang] as Record<string, string>)[d] ?? d;

const TRANSITION_ZH: Record<string, string> = {
  feedback: '处置反馈',
  review_returned: '核查退回',
  feedback_overdue: '反馈逾期',
  raised: '报警',
  reactivated: '再次报警',
  severity_changed: '级别变化',
  cleared: '报警消除',
  flapping: '频繁跳变',
  acknowledged: '确认',
  closed: '关闭',
  escalated: '升级',
  reminded: '提醒',
  overdue: '超时未闭环',
  notified: '已通知',
  notification_failed: '通知失败',
  notification_held: '通知暂缓（屏蔽中）',
  notification_expired: '通知放弃',
};
export const transitionName = (type: string) => (lang === 'zh' ? (TRANSITION_ZH[type] ?? type) : type.replaceAll('_', ' '));

const timeFmt = () => new Intl.DateTimeFormat(lang === 'zh' ? 'zh-CN' : 'en-GB', { timeZone: 'Asia/Shanghai', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });
export const cst = (iso: string | number | null | undefined) => (iso === null || iso === undefined ? '—' : timeFmt().format(new Date(iso)));

export function durationText(s: number | null | undefined): string {
  if (s === null || s === undefined) return '—';
  if (s < 120) return `${Math.round(s)} ${t('seconds')}`;
  if (s < 7200) return `${Math.round(s / 60)} ${t('minutes')}`;
  return `${(s / 3600).toFixed(1)} ${t('hours')}`;
}

/** A measured number as people read it: no more digits than a sensor resolves (1 234.5, 62.35, 0.0235). */
export const numberText = (v: number) =>
  Math.abs(v) >= 100 ? String(Math.round(v * 10) / 10) : Math.abs(v) >= 1 || v === 0 ? String(Math.round(v * 100) / 100) : String(Number(v.toPrecision(3)));

/** The unit of the figures of the rules that count their own: seconds of silence, readings refused. */
const RULE_UNITS = new Map([
  ['device-offline', { zh: '秒', en: 's' }],
  ['readings-refused', { zh: '条', en: 'readings' }],
]);

/** An alert's value, peak or threshold with its unit: its metric's, or its rule's own (a bare "181 / 180" said nothing). */
export function figureText(v: unknown, a: { rule: string; metric: string }): string {
  const own = RULE_UNITS.get(a.rule);
  return own && typeof v === 'number' ? `${numberText(v)} ${own[lang]}` : valueText(v, a.metric);
}

/** An alert's threshold, null when it has none to show. */
export const alertThresholdText = (a: { rule: string; metric: string; threshold: number | null }) => (RULE_UNITS.has(a.rule) ? (a.threshold === null ? null : figureText(a.threshold, a)) : thresholdText(a.threshold, a.metric));

/** A switch (a smoke alarm, a valve's end position) alarms by its state: it has no threshold to show. */
export const thresholdText = (v: number | null, metric: string) => (v === null || (isMetric(metric) && INDICATORS[metric].type === 'boolean') ? null : valueText(v, metric));

export const valueText = (v: unknown, metric?: string) =>
  v === null || v === undefined
    ? '—'
    : typeof v === 'boolean'
      ? v
        ? lang === 'zh'
          ? '是'
          : 'yes'
        : lang === 'zh'
          ? '否'
          : 'no'
      : `${typeof v === 'number' ? numberText(v) : String(v)}${metric && metricUnit(metric) ? ` ${metricUnit(metric)}` : ''}`;

/**
 * An alert's text in the page's language: the service writes "中文 / English" (its e-mails show
 * both); a page shows one.
 */
export function messageText(message: string): string {
  // the separator is "/ " after a space or a Chinese character or bracket: "… / …", "…）/ …"
  const m = /(?: |(?<=[^\x00-\x7f]))\/ /.exec(message);
  if (!m) return message;
  return lang === 'zh' ? message.slice(0, m.index).trim() : message.slice(m.index + m[0].length).trim();
}

/** Fill in every element that names its text with data-i18n. */
export function translatePage() {
  for (const el of document.querySelectorAll<HTMLElement>('[data-i18n]')) el.textContent = t(el.dataset.i18n as Key);
  document.title = t('title');
}

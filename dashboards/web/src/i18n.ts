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
  criticalNeedsAck: '紧急报警须先确认再关闭',
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
  criticalNeedsAck: 'A critical alert must be acknowledged before it is closed',
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

export const valueText = (v: unknown, metric?: string) =>
  v === null || v === undefined ? '—' : typeof v === 'boolean' ? (v ? (lang === 'zh' ? '是' : 'yes') : lang === 'zh' ? '否' : 'no') : `${v}${metric && metricUnit(metric) ? ` ${metricUnit(metric)}` : ''}`;

/** Fill in every element that names its text with data-i18n. */
export function translatePage() {
  for (const el of document.querySelectorAll<HTMLElement>('[data-i18n]')) el.textContent = t(el.dataset.i18n as Key);
  document.title = t('title');
}

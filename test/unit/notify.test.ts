import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { Alert, Transition } from '../../services/alerts/model.ts';
import { formatCst, renderDigest, renderMessage, renderSilence } from '../../services/notify/message.ts';
import { DEFAULT_IMMEDIATE, immediateKinds, policyFor } from '../../services/alerts/routing.ts';
import { audienceOf } from '../../services/notify/audience.ts';
import { buildWebhookRequest, DINGTALK_MAX_BYTES, fitEvent, jsonBytes, signDingTalk, WebhookChannel } from '../../services/notify/channels/webhook.ts';

const alert: Alert = {
  id: 'a1', key: 'D/gas', rule: 'gas-lel', ruleKind: 'threshold', enterpriseId: 'E', deviceId: 'gas-1', metric: 'gas_lel', pointId: 'gas_lel', pointName: null, region: '321283103', industry: 'hazchem',
  severity: 'critical', state: 'active', acknowledged: false, raisedAt: Date.UTC(2026, 10, 22, 0, 5, 0), activatedAt: Date.UTC(2026, 10, 22, 0, 5, 0), ackAt: null, ackBy: null, clearedAt: null, closedAt: null,
  closedBy: null, disposition: null, closeNote: null, value: 62, peak: 65, threshold: 40, message: 'm', escalationLevel: 0, remindedAt: null, overdueAt: null, flapping: false, peakSeverity: 'critical', feedback: null, review: null, feedbackDueAt: null, feedbackOverdueAt: null,
};
const raisedT: Transition = { alertId: 'a1', at: alert.raisedAt, type: 'raised', actor: 'rule:gas-lel', severity: 'critical' };

describe('messages people read', () => {
  it('shows China Standard Time', () => {
    expect(formatCst(Date.UTC(2026, 10, 22, 16, 30, 0))).toBe('2026-11-23 00:30:00');
  });

  it('puts Chinese first and English below, with enterprise, point, value, threshold, time and link', () => {
    const m = renderMessage(alert, raisedT, { enterpriseName: '测试化工', link: 'http://x/#/alerts/a1' });
    expect(m.title).toBe('【紧急·报警】测试化工 可燃气体浓度 / [CRITICAL ALARM] gas-1 combustible gas');
    const [zh, en] = m.text.split('----');
    expect(zh).toContain('当前值：62 %LEL，报警阈值：40 %LEL');
    expect(zh).toContain('时间：2026-11-22 08:05:00 (UTC+8)');
    expect(en).toContain('Value: 62 %LEL, threshold: 40 %LEL');
    expect(en).toContain('Details: http://x/#/alerts/a1');
  });

  it('says a switch by its state (a smoke alarm: yes), not "true" against a threshold of 1', () => {
    const smoke = { ...alert, metric: 'smoke_alarm', pointId: 'smoke_alarm', value: true, peak: 1, threshold: 1 };
    const [zh, en] = renderMessage(smoke, raisedT, { enterpriseName: '商场', link: 'http://x' }).text.split('----');
    expect(zh).toContain('状态：是');
    expect(en).toContain('State: yes');
    expect(zh).not.toContain('阈值');
    expect(en).not.toMatch(/true|threshold/);
    expect(renderMessage({ ...smoke, value: false }, raisedT, { enterpriseName: '商场', link: 'http://x' }).text).toContain('State: no');
  });

  it('names devices by their registry name, and a digest links each alert instead of printing its id', () => {
    expect(renderMessage(alert, raisedT, { enterpriseName: '测试化工', deviceName: '1号罐区探测器', link: 'http://x' }).text).toContain('设备/点位：1号罐区探测器（gas-1）');
    const d = renderDigest(
      [
        { alert, transition: raisedT, enterpriseName: '测试化工', deviceName: '1号罐区探测器' },
        { alert: { ...alert, id: 'a2', deviceId: 'gas-2' }, transition: { ...raisedT, alertId: 'a2' }, enterpriseName: '测试化工' },
      ],
      'http://x/#/alerts',
    );
    expect(d.markdown).toContain('[紧急] 测试化工 1号罐区探测器 可燃气体浓度 62 %LEL [查看 / view](http://x/#/alerts/a1)');
    expect(d.text).toContain('测试化工 gas-2 可燃气体浓度 62 %LEL http://x/#/alerts/a2');
    expect(d.markdown).not.toMatch(/— a1/);
  });

  it('puts the worst first in a digest, so a robot that cuts a long message keeps a critical alarm that joined hundreds of lesser changes', () => {
    const major = (i: number) => ({ alert: { ...alert, id: `m${i}`, deviceId: `clock-${i}`, severity: 'major' as const }, transition: { ...raisedT, alertId: `m${i}`, at: raisedT.at + i }, enterpriseName: '老味道餐馆' });
    const critical = { alert: { ...alert, id: 'crit', deviceId: 'kitchen-gas-1' }, transition: { ...raisedT, alertId: 'crit', at: raisedT.at + 500 }, enterpriseName: '老味道餐馆' };
    const d = renderDigest([...Array.from({ length: 300 }, (_, i) => major(i)), critical], 'http://x/#/alerts');
    const wecom = buildWebhookRequest({ url: 'http://w', format: 'wecom' } as never, d, null, 0).body as { markdown: { content: string } };
    expect(Buffer.byteLength(wecom.markdown.content)).toBeLessThanOrEqual(4096);
    expect(wecom.markdown.content).toContain('kitchen-gas-1');
    // the rest by time
    expect(d.text.indexOf('clock-0 ')).toBeLessThan(d.text.indexOf('clock-1 '));
  });
});

describe('messages that fit their receiver', () => {
  const major = (i: number) => ({ alert: { ...alert, id: `m${i}`, deviceId: `clock-${i}`, severity: 'major' as const }, transition: { ...raisedT, alertId: `m${i}`, at: raisedT.at + i }, enterpriseName: '老味道餐馆' });
  const critical = { alert: { ...alert, id: 'crit', deviceId: 'kitchen-gas-1' }, transition: { ...raisedT, alertId: 'crit', at: raisedT.at + 500 }, enterpriseName: '老味道餐馆' };
  const ack = '\n\n[一键确认 / Acknowledge](http://x/a/TOKEN)';
  const storm = renderDigest([...Array.from({ length: 300 }, (_, i) => major(i)), critical], 'http://x/#/alerts');
  const withAck = { ...storm, markdown: storm.markdown + ack };

  it('keeps a DingTalk robot\'s body within its 20 000 bytes, the worst first, saying how many were left out, with the details and acknowledge links', () => {
    expect(Buffer.byteLength(withAck.markdown)).toBeGreaterThan(DINGTALK_MAX_BYTES);
    const req = buildWebhookRequest({ url: 'http://d', format: 'dingtalk' }, withAck, { digest: true }, 0);
    const text = (req.body as { markdown: { text: string } }).markdown.text;
    expect(jsonBytes(req.body)).toBeLessThanOrEqual(DINGTALK_MAX_BYTES);
    expect(text.split('\n')[0]).toBe(storm.markdown.split('\n')[0]);
    expect(text.split('\n')[1]).toContain('kitchen-gas-1');
    const listed = text.split('\n').filter((l) => l.includes('[查看 / view]')).length;
    expect(listed).toBeGreaterThan(50);
    expect(text).toContain(`- …另有 ${301 - listed} 条未列出，见详情 / ${301 - listed} more not listed: see Details`);
    expect(text.endsWith(`[详情 / Details](http://x/#/alerts)${ack}`)).toBe(true);
    // a message that fits goes as it is
    const one = renderMessage(alert, raisedT, { enterpriseName: '测试化工', link: 'http://x' });
    expect((buildWebhookRequest({ url: 'http://d', format: 'dingtalk' }, one, null, 0).body as { markdown: { text: string } }).markdown.text).toBe(one.markdown);
  });

  it('keeps the acknowledge link in a WeCom message cut to 4 096 bytes, even when one line alone is longer', () => {
    const content = (m: typeof withAck, event: unknown = null) => (buildWebhookRequest({ url: 'http://w', format: 'wecom' }, m, event, 0).body as { markdown: { content: string } }).markdown.content;
    const cut = content(withAck, { digest: true });
    expect(Buffer.byteLength(cut)).toBeLessThanOrEqual(4096);
    expect(cut).toContain('kitchen-gas-1');
    expect(cut.endsWith(ack)).toBe(true);
    // an interlock's words naming forty valves: the line is cut, the link stays
    const long = renderMessage({ ...alert, message: '联锁未动作：'.padEnd(3000, '阀') }, raisedT, { enterpriseName: '测试化工', link: 'http://x' });
    const single = content({ ...long, markdown: long.markdown + ack });
    expect(Buffer.byteLength(single)).toBeLessThanOrEqual(4096);
    expect(single.endsWith(ack)).toBe(true);
    expect(single).toContain('测试化工');
  });

  it("keeps every line of one alert's message, its note cut, the English and the links, when an acknowledgement's note is long", () => {
    const acked = renderMessage(alert, { ...raisedT, type: 'acknowledged', actor: 'user:duty', note: '已到现场'.padEnd(1980, '查') }, { enterpriseName: '测试化工', link: 'http://x/#/alerts/a1' });
    const content = (buildWebhookRequest({ url: 'http://w', format: 'wecom' }, { ...acked, markdown: acked.markdown + ack }, { id: 'a1' }, 0).body as { markdown: { content: string } }).markdown.content;
    expect(Buffer.byteLength(content)).toBeLessThanOrEqual(4096);
    expect(Buffer.byteLength(content)).toBeGreaterThan(3500);
    for (const kept of ['备注：已到现场', 'Note: 已到现场', 'Details: http://x/#/alerts/a1', '详情：http://x/#/alerts/a1', 'Value: 62 %LEL']) expect(content).toContain(kept);
    expect(content.endsWith(ack)).toBe(true);
    expect(content).not.toContain('未列出');
    // the Chinese and the English keep as much of the note each
    const line = (start: string) => Buffer.byteLength(content.split('\n').find((l) => l.startsWith(start))!);
    expect(Math.abs(line('- 备注：') - line('- Note: '))).toBeLessThan(8);
  });

  it('keeps a DingTalk body within its limit whatever the names hold, and a name makes no line or link of its own', () => {
    const hostile = 'x"\\\u0001'.repeat(3000);
    const d = renderDigest([major(1), { ...critical, enterpriseName: hostile }], 'http://x/#/alerts');
    const body = buildWebhookRequest({ url: 'http://d', format: 'dingtalk' }, { ...d, markdown: d.markdown + ack }, { digest: true }, 0).body as { markdown: { text: string } };
    expect(jsonBytes(body)).toBeLessThanOrEqual(DINGTALK_MAX_BYTES);
    expect(body.markdown.text.endsWith(ack)).toBe(true);
    // two enterprises' names of 1 500 characters each: the title is cut, the links stay
    const long = renderDigest([{ ...major(1), enterpriseName: '长'.repeat(1500) }, { ...critical, enterpriseName: '名'.repeat(1500) }], 'http://x/#/alerts');
    const wecom = (buildWebhookRequest({ url: 'http://w', format: 'wecom' }, { ...long, markdown: long.markdown + ack }, { digest: true }, 0).body as { markdown: { content: string } }).markdown.content;
    expect(Buffer.byteLength(wecom)).toBeLessThanOrEqual(4096);
    expect(wecom).toContain('[详情 / Details](http://x/#/alerts)');
    expect(wecom.endsWith(ack)).toBe(true);
    // and the list still shows, the critical first (its line cut: the enterprise's name is in it)
    expect(wecom.split('\n')[1]).toMatch(/^- .* \[紧急\] 名/);
    // a device name an enterprise registered, made to look like a line of the message
    const sly = renderDigest([{ ...critical, deviceName: '1号\n- [详情 / Details](http://evil.example)' }], 'http://x/#/alerts');
    expect(sly.markdown).not.toContain('](http://evil');
    expect(sly.markdown.split('\n').filter((l) => l.startsWith('- '))).toHaveLength(1);
    // a silence's scope and reason, a rule's words with a point's registered name
    const silence = renderSilence({ enterpriseName: '测试化工\n### x', deviceId: 'gas-1', rule: 'gas-lel\n- [解除](http://evil.example)', reason: '检修\u2028- [y](http://evil.example)', by: 'u<b>', from: 0, until: 1 }, 'started');
    for (const m of [silence.markdown, silence.text, silence.title]) expect(m).not.toMatch(/\]\(http|\n### x|\n- \[|<b>/);
    expect(renderMessage({ ...alert, message: 'P\n- [链接](http://evil.example) <b>x</b>' }, raisedT, { enterpriseName: 'E', link: 'http://x' }).markdown).not.toMatch(/\]\(http|<b>|\n- \[/);
    const one = renderMessage(alert, { ...raisedT, note: 'ok\n### 【紧急】fake', actor: 'user:x' }, { enterpriseName: '测试化工', deviceName: 'a\r\nb', link: 'http://x' });
    expect(one.text).not.toMatch(/\n### /);
    expect(one.markdown.split('\n').filter((l) => l.startsWith('### '))).toHaveLength(1);
  });

  it('trims the long texts of a change larger than a generic receiver takes alone, and leaves the rest as it is', () => {
    const feedback = { id: 'a1', severity: 'critical', feedback: { cause: '原因'.repeat(2000), measures: '措施'.repeat(2000) }, transition: { type: 'feedback', note: 'x'.repeat(5000) } };
    const fitted = fitEvent(feedback, 16 * 1024) as typeof feedback & { trimmed: boolean };
    expect(jsonBytes(fitted)).toBeLessThanOrEqual(16 * 1024);
    expect(fitted).toMatchObject({ id: 'a1', severity: 'critical', trimmed: true, transition: { type: 'feedback' } });
    expect(fitted.feedback.cause.startsWith('原因原因')).toBe(true);
    expect(fitted.feedback.cause.endsWith('…')).toBe(true);
    expect(fitEvent({ id: 'a1' }, 16 * 1024)).toEqual({ id: 'a1' });
  });
});

describe('webhook formats', () => {
  it('names a receiver in the record by scheme and host only: its token may be in the path or the query', () => {
    const channel = new WebhookChannel(() => 0);
    const unit = (url: string, format = 'generic') => ({ webhooks: [{ url, format }] }) as never;
    expect(channel.target(unit('https://open.feishu.cn/open-apis/bot/v2/hook/6f1c-secret-token', 'feishu'), 'webhook:0')).toBe('feishu https://open.feishu.cn/…');
    expect(channel.target(unit('https://oapi.dingtalk.com/robot/send?access_token=abc', 'dingtalk'), 'webhook:0')).toBe('dingtalk https://oapi.dingtalk.com/…');
    expect(channel.target(unit('http://10.0.0.5:8080'), 'webhook:0')).toBe('generic http://10.0.0.5:8080');
  });

  const m = renderMessage(alert, raisedT, { enterpriseName: '测试化工', link: 'http://x' });

  it('signs DingTalk robot calls: HMAC-SHA256 over "timestamp\\nsecret", Base64, URL-encoded', () => {
    const ts = 1763791200000;
    const url = new URL(signDingTalk('https://oapi.dingtalk.com/robot/send?access_token=T', 'SECabc', ts));
    expect(url.searchParams.get('access_token')).toBe('T');
    expect(url.searchParams.get('timestamp')).toBe(String(ts));
    const expected = createHmac('sha256', 'SECabc').update(`${ts}\nSECabc`).digest('base64');
    expect(url.searchParams.get('sign')).toBe(expected);
    expect(url.search).toContain(`sign=${encodeURIComponent(expected)}`);
  });

  it('builds a DingTalk markdown message and leaves the URL alone without a secret', () => {
    const req = buildWebhookRequest({ url: 'https://oapi.dingtalk.com/robot/send?access_token=T', format: 'dingtalk' }, m, {}, 1);
    expect(req.url).toBe('https://oapi.dingtalk.com/robot/send?access_token=T');
    expect(req.body).toEqual({ msgtype: 'markdown', markdown: { title: expect.any(String), text: m.markdown }, at: { atMobiles: [], isAtAll: false } });
  });

  it('builds a WeCom markdown message within its 4096-byte limit', () => {
    const long = { ...m, markdown: '报'.repeat(3000) };
    const req = buildWebhookRequest({ url: 'https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=K', format: 'wecom' }, long, {}, 1);
    const body = req.body as { msgtype: string; markdown: { content: string } };
    expect(body.msgtype).toBe('markdown');
    expect(Buffer.byteLength(body.markdown.content)).toBeLessThanOrEqual(4096);
  });

  it('sends the alert event itself to a generic webhook', () => {
    const event = { id: 'a1' };
    expect(buildWebhookRequest({ url: 'http://h/x', format: 'generic' }, m, event, 1)).toEqual({ url: 'http://h/x', body: event });
  });
});

describe('routing', () => {
  const routing = policyFor({ immediate: {}, byMetric: { smoke_alarm: ['fire'] }, escalation: [], byIndustry: {} });
  it('follows domain.md when the registry says nothing: enterprise always, township for critical', () => {
    expect(immediateKinds(routing, 'warning', 'gas_lel')).toEqual(DEFAULT_IMMEDIATE.warning);
    expect(immediateKinds(routing, 'critical', 'gas_lel')).toEqual(['enterprise', 'township']);
    expect(immediateKinds(routing, 'critical', 'smoke_alarm')).toEqual(['enterprise', 'township', 'fire']);
  });
  it('tells newly routed units of a raise or a rise, and those already told of the rest', () => {
    expect(audienceOf(raisedT, alert, routing, false)).toEqual({ kinds: ['enterprise', 'township'], told: false });
    expect(audienceOf({ ...raisedT, type: 'severity_changed', detail: { direction: 'rose' } }, alert, routing, false)).toEqual({ kinds: ['enterprise', 'township'], told: true });
    expect(audienceOf({ ...raisedT, type: 'severity_changed', detail: { direction: 'fell' } }, alert, routing, false)).toEqual({ kinds: [], told: true });
    expect(audienceOf({ ...raisedT, type: 'cleared' }, alert, routing, false)).toEqual({ kinds: [], told: true });
    expect(audienceOf({ ...raisedT, type: 'escalated', detail: { to: 'regulator' } }, alert, routing, false)).toEqual({ kinds: ['regulator'], told: false });
    expect(audienceOf({ ...raisedT, type: 'acknowledged' }, alert, routing, false)).toBeNull();
    expect(audienceOf({ ...raisedT, type: 'acknowledged' }, alert, routing, true)).toEqual({ kinds: [], told: true });
    expect(audienceOf({ ...raisedT, type: 'notified' }, alert, routing, false)).toBeNull();
  });

  it('layers the policy: global, then the industry, then the enterprise', () => {
    const global = { immediate: { major: ['enterprise' as const] }, byMetric: {}, escalation: [{ afterMin: 10, to: 'township' as const }], groupWaitS: 5, byIndustry: { dust: { immediate: { major: ['enterprise' as const, 'township' as const] }, groupWaitS: 1 } } };
    const dust = policyFor(global, 'dust');
    expect(dust.immediate.major).toEqual(['enterprise', 'township']);
    expect(dust.groupWaitS).toBe(1);
    expect(dust.escalation).toEqual([{ afterMin: 10, to: 'township' }]);
    const own = policyFor(global, 'dust', { escalation: [], groupWaitS: 0 });
    expect(own.escalation).toEqual([]);
    expect(own.groupWaitS).toBe(0);
    expect(policyFor(global, 'steel').immediate.major).toEqual(['enterprise']);
  });
});

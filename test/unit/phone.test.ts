import { describe, expect, it } from 'vitest';
import type { Alert, Transition } from '../../services/alerts/model.ts';
import { policyFor } from '../../services/alerts/routing.ts';
import { ackable, maskPhone, tokenOf, linkId, verifyToken } from '../../services/notify/ack-links.ts';
import { nextAllowed } from '../../services/notify/channels/phone-limits.ts';
import { canonicalQuery, signAliyun } from '../../services/notify/channels/providers/aliyun.ts';
import { signTc3 } from '../../services/notify/channels/providers/tencent.ts';
import { renderPhone } from '../../services/notify/message.ts';
import { channelKindsFor } from '../../services/notify/reach.ts';
import { escalate } from '../../services/alerts/escalation.ts';
import { audienceOf } from '../../services/notify/audience.ts';
import { loggableUrl } from '../../services/api/server.ts';

const alert: Alert = {
  id: 'a1', key: 'D/gas', rule: 'gas-lel', ruleKind: 'threshold', enterpriseId: 'E', deviceId: 'gas-1', metric: 'gas_lel', pointId: 'k1', pointName: '1号灶台', region: '321283103', industry: 'gas_user',
  severity: 'critical', state: 'active', acknowledged: false, raisedAt: Date.UTC(2026, 10, 22, 0, 5, 0), activatedAt: Date.UTC(2026, 10, 22, 0, 5, 0), ackAt: null, ackBy: null, clearedAt: null, closedAt: null,
  closedBy: null, disposition: null, closeNote: null, value: 62, peak: 65, threshold: 40, message: 'm', escalationLevel: 0, remindedAt: null, overdueAt: null, flapping: false, peakSeverity: 'critical', feedback: null, review: null, feedbackDueAt: null, feedbackOverdueAt: null,
};
const t = (type: Transition['type'], detail?: Record<string, unknown>): Transition => ({ alertId: 'a1', at: alert.raisedAt, type, actor: 'system', ...(detail ? { detail } : {}) });

describe('provider signatures, against the providers\' own worked examples', () => {
  it('Alibaba Cloud RPC signature (the SendSms example of the SMS documentation)', () => {
    const params = {
      AccessKeyId: 'testId', Action: 'SendSms', Format: 'XML', OutId: '123', PhoneNumbers: '15300000001', RegionId: 'cn-hangzhou', SignName: '阿里云短信测试专用',
      SignatureMethod: 'HMAC-SHA1', SignatureNonce: '45e25e9b-0a6f-4070-8c85-2956eda1b466', SignatureVersion: '1.0', TemplateCode: 'SMS_71390007', TemplateParam: '{"customer":"test"}',
      Timestamp: '2017-07-12T02:42:19Z', Version: '2017-05-25',
    };
    expect(canonicalQuery(params)).toBe(
      'AccessKeyId=testId&Action=SendSms&Format=XML&OutId=123&PhoneNumbers=15300000001&RegionId=cn-hangzhou&SignName=%E9%98%BF%E9%87%8C%E4%BA%91%E7%9F%AD%E4%BF%A1%E6%B5%8B%E8%AF%95%E4%B8%93%E7%94%A8&SignatureMethod=HMAC-SHA1&SignatureNonce=45e25e9b-0a6f-4070-8c85-2956eda1b466&SignatureVersion=1.0&TemplateCode=SMS_71390007&TemplateParam=%7B%22customer%22%3A%22test%22%7D&Timestamp=2017-07-12T02%3A42%3A19Z&Version=2017-05-25',
    );
    expect(signAliyun(params, 'testSecret', 'GET')).toBe('zJDF+Lrzhj/ThnlvIToysFRq6t4=');
  });

  it('Alibaba Cloud percent-encoding: space %20, * %2A, ~ kept', () => {
    expect(canonicalQuery({ a: 'x y*z~' })).toBe('a=x%20y%2Az~');
  });

  it('Tencent Cloud TC3-HMAC-SHA256 (the API 3.0 documentation example)', () => {
    const body = '{"Limit": 1, "Filters": [{"Values": ["\\u672a\\u547d\\u540d"], "Name": "instance-name"}]}';
    const auth = signTc3({ secretId: 'AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE', secretKey: 'Gu5t9xGARNpq86cd98joQYCN3EXAMPLE', service: 'cvm', host: 'cvm.tencentcloudapi.com', timestamp: 1551113065, body });
    expect(auth).toBe(
      'TC3-HMAC-SHA256 Credential=AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE/2019-02-25/cvm/tc3_request, SignedHeaders=content-type;host, Signature=72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168',
    );
  });
});

describe('per-number limits', () => {
  const m = 60_000;
  it('lets a message go while every window has room', () => {
    expect(nextAllowed([], 0, { perMinute: 1 })).toBe(0);
    expect(nextAllowed([-2 * m], 0, { perMinute: 1 })).toBe(0);
  });
  it('holds the next one until the oldest leaves the fullest window', () => {
    expect(nextAllowed([-10_000], 0, { perMinute: 1 })).toBe(50_000);
    const sent = [-50 * m, -40 * m, -30 * m, -20 * m, -10 * m];
    expect(nextAllowed(sent, 0, { perMinute: 1, perHour: 5 })).toBe(10 * m);
    expect(nextAllowed(sent, 0, { perMinute: 1, perHour: 6 })).toBe(0);
  });
  it('counts a day for the daily limit', () => {
    expect(nextAllowed([-23 * 60 * m, -60 * m], 0, { perDay: 2 })).toBe(60 * m);
  });
});

describe('who is called', () => {
  const policy = policyFor({ immediate: {}, byMetric: {}, escalation: [], byIndustry: {} });
  it('calls for a critical raise, not for a major one, a clear or an acknowledged alert', () => {
    expect(policy.voiceFrom).toBe('critical');
    expect(channelKindsFor(alert, t('raised'), policy)('voice')).toBe(true);
    expect(channelKindsFor({ ...alert, severity: 'major' }, t('raised'), policy)('voice')).toBe(false);
    expect(channelKindsFor(alert, t('cleared'), policy)('voice')).toBe(false);
    expect(channelKindsFor({ ...alert, acknowledged: true }, t('reminded'), policy)('voice')).toBe(false);
    expect(channelKindsFor(alert, t('severity_changed', { direction: 'fell' }), policy)('voice')).toBe(false);
    expect(channelKindsFor(alert, t('raised'), policy)('sms')).toBe(true);
  });
  it('follows voiceFrom', () => {
    expect(channelKindsFor({ ...alert, severity: 'major' }, t('raised'), { voiceFrom: 'major' })('voice')).toBe(true);
    expect(channelKindsFor(alert, t('raised'), { voiceFrom: null })('voice')).toBe(false);
  });
  it('an escalation step with via reaches by those channels only, at any severity', () => {
    const p = policyFor({ immediate: {}, byMetric: {}, escalation: [{ afterMin: 5, to: 'enterprise', via: ['sms', 'voice'] }], byIndustry: {} });
    const step = escalate({ ...alert, severity: 'warning' }, p, alert.raisedAt + 5 * 60_000, true)!;
    const esc = step.transitions.find((x) => x.type === 'escalated')!;
    expect(esc.detail).toMatchObject({ to: 'enterprise', via: ['sms', 'voice'] });
    const audience = audienceOf(esc, step.alert, p, true)!;
    expect(audience).toMatchObject({ kinds: ['enterprise'], via: ['sms', 'voice'] });
    const over = channelKindsFor(step.alert, esc, p, audience.via);
    expect(['email', 'webhook', 'sms', 'voice'].filter(over)).toEqual(['sms', 'voice']);
  });
});

describe('what an SMS says', () => {
  it('fills the template variables, each short, and the text with the link', () => {
    const { params, text } = renderPhone([{ alert, transition: t('raised'), enterpriseName: '测试餐饮' }], 'https://x/ack/abcdefghijklmnopqrstuvwxyz12');
    expect(params).toEqual({ level: '紧急', enterprise: '测试餐饮', point: '1号灶台 可燃气体浓度 62%LEL', event: '报警', time: '11-22 08:05', code: 'abcdefghijklmnopqrstuvwxyz12' });
    expect(text).toBe('【紧急报警】测试餐饮 1号灶台 可燃气体浓度 62%LEL 11-22 08:05 一键确认：https://x/ack/abcdefghijklmnopqrstuvwxyz12');
  });
  it('one alert\'s two changes are one alert: its latest event, no digest', () => {
    const { params } = renderPhone([
      { alert, transition: t('raised'), enterpriseName: 'A' },
      { alert, transition: t('severity_changed', { direction: 'rose' }), enterpriseName: 'A' },
    ]);
    expect(params).toMatchObject({ enterprise: 'A', event: '报警级别变化', point: '1号灶台 可燃气体浓度 62%LEL' });
    const smoke = renderPhone([{ alert: { ...alert, metric: 'smoke_alarm', pointName: null, pointId: 'smoke_alarm', value: true }, transition: t('raised'), enterpriseName: 'A' }]);
    expect(smoke.text).not.toContain('true');
  });

  it('an alarm that cleared before the message left is said as an alarm, with its peak', () => {
    const { params } = renderPhone([
      { alert: { ...alert, peak: 75 }, transition: t('raised'), enterpriseName: 'A' },
      { alert: { ...alert, peak: 75, value: 3, state: 'cleared' }, transition: t('cleared'), enterpriseName: 'A' },
    ]);
    expect(params).toMatchObject({ event: '报警（已消除）', point: '1号灶台 可燃气体浓度 峰值 75%LEL' });
    const onlyClear = renderPhone([{ alert: { ...alert, value: 3, state: 'cleared' }, transition: t('cleared'), enterpriseName: 'A' }]);
    expect(onlyClear.params).toMatchObject({ event: '报警消除', point: '1号灶台 可燃气体浓度 3%LEL' });
  });

  it('sums several changes up', () => {
    const { params } = renderPhone([
      { alert: { ...alert, id: 'a2', severity: 'major' }, transition: t('raised'), enterpriseName: 'A' },
      { alert, transition: t('raised'), enterpriseName: 'B' },
    ]);
    expect(params).toMatchObject({ level: '紧急', enterprise: 'A等2家', event: '报警汇总', code: '-' });
  });
});

describe('acknowledge link tokens', () => {
  const secret = Buffer.alloc(32, 7);
  it('are 28 characters, the same for the same notification and recipient, and verify', () => {
    const id = linkId(secret, 'n1', 'u1\nsms:0');
    const token = tokenOf(secret, id);
    expect(token).toHaveLength(28);
    expect(tokenOf(secret, linkId(secret, 'n1', 'u1\nsms:0'))).toBe(token);
    expect(tokenOf(secret, linkId(secret, 'n1', 'u1\nsms:1'))).not.toBe(token);
    expect(verifyToken(secret, token)).toBe(id.toString('base64url'));
  });
  it('refuse a changed character, another key, and anything not a token', () => {
    const token = tokenOf(secret, linkId(secret, 'n1', 'u1'));
    const changed = token.slice(0, 20) + (token[20] === 'A' ? 'B' : 'A') + token.slice(21);
    expect(verifyToken(secret, changed)).toBeNull();
    expect(verifyToken(Buffer.alloc(32, 8), token)).toBeNull();
    for (const bad of ['', 'x', '../../etc/passwd', token + 'A', 'toString', '__proto__'.padEnd(28, '_')]) expect(verifyToken(secret, bad)).toBeNull();
  });
  it('masks phone numbers and knows what may be acknowledged', () => {
    expect(maskPhone('13800001234')).toBe('138****1234');
    expect(maskPhone('+8613800001234')).toBe('138****1234');
    expect(ackable({ state: 'active', acknowledged: false })).toBe(true);
    expect(ackable({ state: 'cleared', acknowledged: false })).toBe(true);
    expect(ackable({ state: 'closed', acknowledged: false })).toBe(false);
  });
});

it('keeps acknowledge tokens out of the request log', () => {
  expect(loggableUrl('/ack/abcdefghijklmnopqrstuvwxyz12')).toBe('/ack/[redacted]');
  expect(loggableUrl('/ack/abc?x=1')).toBe('/ack/[redacted]');
  expect(loggableUrl('/%61ck/abcdefghijklmnopqrstuvwxyz12')).toBe('/ack/[redacted]');
  expect(loggableUrl('/ACK/abcdefghijklmnopqrstuvwxyz12')).toBe('/ack/[redacted]');
  expect(loggableUrl('http://127.0.0.1:3000/ack/abcdefghijklmnopqrstuvwxyz12')).toBe('/ack/[redacted]');
  expect(loggableUrl('//ack/abcdefghijklmnopqrstuvwxyz12')).toBe('/ack/[redacted]');
  expect(loggableUrl('/x/abcdefghijklmnopqrstuvwxyz12')).toBe('/x/[redacted]');
  expect(loggableUrl('/?x=abcdefghijklmnopqrstuvwxyz12')).toBe('/?x=[redacted]');
  // alert ids (UUIDs) stay readable
  expect(loggableUrl('/api/alerts/4f1c2a9e-8b7d-4e2a-9c1b-3d5e6f7a8b9c')).toBe('/api/alerts/4f1c2a9e-8b7d-4e2a-9c1b-3d5e6f7a8b9c');
  // from an outside probe: a bad escape elsewhere in the line, an escaped token, an escaped value
  expect(loggableUrl('/%61ck/%33GLDhn8ZJz7RaO4EH5t-z9TrTONS?%E0')).toBe('/ack/[redacted]');
  expect(loggableUrl('/x?q=%33GLDhn8ZJz7RaO4EH5t-z9TrTONS&%ZZ')).toBe('/x?q=[redacted]&%ZZ');
  expect(loggableUrl('/%E0/%33GLDhn8ZJz7RaO4EH5t-z9TrTONS')).toBe('/%E0/[redacted]');
  expect(loggableUrl('/api/x?Tok%65n=%E0abc')).toBe('/api/x?Tok%65n=[redacted]');
});

describe('an acknowledge link never leaves through an error', () => {
  it('a receiver echoing what it got: the link and its token are cut from the error the record and log get', async () => {
    const { sendMessage } = await import('../../services/notify/send.ts');
    const { Channels } = await import('../../services/notify/channels/channel.ts');
    const { alertJson, transitionJson } = await import('../../services/alerts/model.ts');
    const link = 'https://x.example/ack/abcdefghijklmnopqrstuvwxyz12';
    const echoing = { kind: 'sms', idsOf: () => ['sms:0'], target: () => '138****0000', send: async (_u: unknown, _id: string, d: { phone: { text: string; params: { code: string } } }) => {
      throw new Error(`gateway HTTP 500: bad request ${d.phone.text} code=${d.phone.params.code}`);
    } };
    const item = { id: 'i1', unitId: 'u1', channel: 'sms:0', alertId: 'a1', body: { notice: 'alert' as const, alert: alertJson(alert, []), transition: transitionJson(t('raised')) }, createdAt: 0, notBefore: 0, nextAttemptAt: 0, attempts: 0, status: 'pending' as const, lastError: null, deliveredAt: null, notificationId: 'n1' };
    const ctx = { channels: new Channels([echoing as never]), registry: { enterprises: new Map(), devices: new Map() } as never, publicUrl: 'https://x.example', ackLinks: { issue: () => ({ link, stored: Promise.resolve() }) } };
    const err = await sendMessage(ctx, { id: 'u1' } as never, 'sms:0', [item], 'n1').catch((e: Error) => e);
    expect((err as Error).message).toContain('[acknowledge link]');
    expect((err as Error).message).toContain('code=[token]');
    expect((err as Error).message).not.toContain('abcdefghijklmnopqrstuvwxyz12');
  });
});

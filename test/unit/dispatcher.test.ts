import { stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { applyOutcome } from '../../services/alerts/lifecycle.ts';
import type { Alert, Transition } from '../../services/alerts/model.ts';
import { policyFor } from '../../services/alerts/routing.ts';
import type { Silence } from '../../services/alerts/silences.ts';
import { Dispatcher } from '../../services/notify/dispatcher.ts';
import { ToldUnits } from '../../services/notify/told.ts';
import type { Notice } from '../../services/notify/outbox.ts';
import { parseRegistry } from '../../services/registry/load.ts';
import { Registry } from '../../services/registry/registry.ts';
import { CHEM, testRegistry } from '../support/registry.ts';

/**
 * The dispatcher on its own: who hears of a change (routing), what a silence holds back, and the
 * on-site alarm that follows critical alarms. Its outbox, live stream and record are recorders.
 */
const reg = testRegistry() as any;
reg.enterprises[0].alarmDevice = 'gas-2';
const registry = new Registry(parseRegistry(stringify(reg)));
const NOW = Date.UTC(2026, 10, 29, 8);

function setup(silence?: Silence) {
  const notices: Notice[] = [];
  const settled: number[] = [];
  const lines: Transition[] = [];
  const mqtt: { topic: string; payload: any }[] = [];
  const live: string[] = [];
  // the outbox notes who is told as it queues: the recorder does the same
  const told = new ToldUnits({ told: async () => new Map() });
  const d = new Dispatcher({
    registry: () => registry,
    policy: (id) => policyFor(registry.file.routing, registry.enterprises.get(id)?.industry),
    record: async (l) => void lines.push(...l),
    told,
    openAlerts: () => [],
    live: { send: (e, event) => live.push(`${e} ${event}`) },
    outbox: {
      enqueue: async (n, settles = []) => {
        for (const x of n) if (x.alertId) told.note(x.alertId, [x.unitId]);
        notices.push(...n);
        settled.push(...settles);
      },
    },
    silences: { matching: () => silence },
    channelsOf: (u) => (u.email.length ? ['email'] : []),
    publishMqtt: async (topic, payload) => void mqtt.push({ topic, payload: JSON.parse(payload) }),
    clock: () => NOW,
    log: { warn: () => {} },
  });
  return { d, notices, lines, mqtt, live, told, settled };
}

const raise = (severity: 'critical' | 'warning'): { alert: Alert; transition: Transition } => {
  const step = applyOutcome(undefined, { key: 'gas-1/gas-lel', change: 'raise', ruleId: 'gas-lel', ruleKind: 'threshold', enterpriseId: CHEM, deviceId: 'gas-1', metric: 'gas_lel', severity, value: 45, peak: 45, threshold: 40, at: NOW, message: 'gas' }, { newId: () => 'a1', region: '321283103', industry: 'hazchem' })!;
  return { alert: step.alert, transition: step.transitions[0] };
};

describe('the dispatcher', () => {
  it('tells the enterprise and its township of a critical raise, live at once and through the outbox once committed', async () => {
    const { d, notices, mqtt, live } = setup();
    const change = raise('critical');
    d.onLive(change);
    expect(live).toEqual([`${CHEM} alert`]);
    expect(mqtt.map((m) => [m.topic, m.payload.command ?? m.payload.transition?.type])).toEqual([
      [`alerts/${CHEM}`, 'raised'],
      [`v1/${CHEM}/gas-2/command`, 'alarm_on'],
    ]);
    d.onChange(change);
    await d.idle();
    expect(notices.map((n) => n.unitId).sort()).toEqual(['ent-chem', 'twn-a']);
    expect(notices.every((n) => n.urgent && n.channel === 'email' && n.alertId === 'a1')).toBe(true);
  });

  it('tells only the enterprise of a warning, and sounds no on-site alarm for it', async () => {
    const { d, notices, mqtt } = setup();
    const change = raise('warning');
    d.onLive(change);
    d.onChange(change);
    await d.idle();
    expect(notices.map((n) => n.unitId)).toEqual(['ent-chem']);
    expect(mqtt.some((m) => m.topic.endsWith('/command'))).toBe(false);
  });

  it('holds notifications under a silence and says so in the record', async () => {
    const silence: Silence = { id: 's1', enterpriseId: CHEM, deviceId: null, rule: null, reason: 'maintenance', by: 'op', from: NOW - 1000, until: NOW + 3_600_000, createdAt: NOW - 1000, endedAt: null, endedBy: null, source: 'api', startAnnounced: true, endAnnounced: false };
    const { d, notices, lines } = setup(silence);
    d.onChange(raise('critical'));
    await d.idle();
    expect(notices).toEqual([]);
    expect(lines).toMatchObject([{ type: 'notification_held', alertId: 'a1', detail: { silence: 's1' } }]);
  });

  it('sends a clear heard right after its raise to the units the raise went to, and nobody else', async () => {
    const { d, notices, told } = setup();
    const change = raise('critical');
    const cleared = applyOutcome(change.alert, { key: 'gas-1/gas-lel', change: 'clear', ruleId: 'gas-lel', ruleKind: 'threshold', enterpriseId: CHEM, deviceId: 'gas-1', metric: 'gas_lel', severity: 'critical', value: 10, peak: 45, threshold: 40, at: NOW + 1, message: 'gas' }, { newId: () => 'a2', region: '321283103', industry: 'hazchem' })!;
    d.onChange(change);
    d.onChange({ alert: cleared.alert, transition: cleared.transitions[0] });
    await d.idle();
    expect(notices.map((n) => `${(n.body as { transition: { type: string } }).transition.type} ${n.unitId}`).sort()).toEqual(['cleared ent-chem', 'cleared twn-a', 'raised ent-chem', 'raised twn-a']);
    expect(told.of('a1').sort()).toEqual(['ent-chem', 'twn-a']);
  });

  it('counts as told only units whose notice was queued: a held raise leaves nobody told, and its acknowledgement tells nobody', async () => {
    const silence: Silence = { id: 's1', enterpriseId: CHEM, deviceId: null, rule: null, reason: 'maintenance', by: 'op', from: NOW - 1000, until: NOW + 3_600_000, createdAt: NOW - 1000, endedAt: null, endedBy: null, source: 'api', startAnnounced: true, endAnnounced: false };
    const { d, notices, told } = setup(silence);
    const change = raise('critical');
    d.onChange(change);
    await d.idle();
    expect(told.anyone('a1')).toBe(false);
    d.onChange({ alert: { ...change.alert, acknowledged: true }, transition: { alertId: 'a1', at: NOW, type: 'acknowledged', actor: 'op' } });
    await d.idle();
    expect(notices).toEqual([]);
  });

  it("settles each committed change's line with its notices, or alone when nobody is told or a silence holds it", async () => {
    const silence: Silence = { id: 's1', enterpriseId: CHEM, deviceId: null, rule: null, reason: 'maintenance', by: 'op', from: NOW - 1000, until: NOW + 3_600_000, createdAt: NOW - 1000, endedAt: null, endedBy: null, source: 'api', startAnnounced: true, endAnnounced: false };
    const told = setup();
    told.d.onChange({ ...raise('critical'), line: 7 });
    // an acknowledgement of an alert nobody was told of has no audience
    told.d.onChange({ alert: { ...raise('warning').alert, id: 'b1', acknowledged: true }, transition: { alertId: 'b1', at: NOW, type: 'acknowledged', actor: 'op' }, line: 8 });
    await told.d.idle();
    expect(told.settled.sort()).toEqual([7, 8]);
    const held = setup(silence);
    held.d.onChange({ ...raise('critical'), line: 9 });
    await held.d.idle();
    expect(held.lines.map((l) => l.type)).toEqual(['notification_held']);
    expect(held.settled).toEqual([9]);
  });

  it('tells what changes committed before a crash still owe, in order, as it would have then', async () => {
    const { d, notices, settled } = setup();
    const change = raise('critical');
    const cleared: Transition = { alertId: 'a1', at: NOW + 1, type: 'cleared', actor: 'rule:gas-lel' };
    const alert = { ...change.alert, state: 'cleared' as const };
    d.tellOwed([
      { n: 3, alert: { ...alert }, transition: change.transition },
      { n: 4, alert: { ...alert }, transition: cleared },
    ]);
    await d.idle();
    expect(notices.map((n) => `${(n.body as { transition: { type: string } }).transition.type} ${n.unitId}`).sort()).toEqual(['cleared ent-chem', 'cleared twn-a', 'raised ent-chem', 'raised twn-a']);
    expect(settled.sort()).toEqual([3, 4]);
  });
});

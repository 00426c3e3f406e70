import { LoginGuard } from '../../gateway/login-guard.ts';
import { describe, expect, it } from 'vitest';
import { LoginsWaiting, SecretVerifier, hashSecret } from '../../gateway/credentials.ts';
import { poolShares, threadPoolSize } from '../../services/thread-pool.ts';
import { TelemetryIntake } from '../../gateway/ingest.ts';
import { previousDayCst } from '../../domain/cst.ts';
import { loggableUrl } from '../../services/api/server.ts';
import { immediateKinds, policyFor } from '../../services/alerts/routing.ts';

/** The pure pieces behind the hardening: each of them on its own, without a network. */
const scope = { enterpriseId: 'E', deviceId: 'D', points: new Map<string, { metric: string; range?: readonly [number, number] }>([['gas_lel', { metric: 'gas_lel', range: [0, 100] }], ['gas_shutoff_valve_closed', { metric: 'gas_shutoff_valve_closed' }]]) };
const limits = { maxPayloadBytes: 4096, maxReadingsPerMessage: 10, maxFutureSkewMs: 60_000, maxPastMs: 365 * 86_400_000 };
const NOW = Date.UTC(2026, 10, 29, 0, 30);
const take = (intake: TelemetryIntake, body: unknown) => intake.take(Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)), scope, NOW);

describe('decoding hostile telemetry', () => {
  it('refuses times a Date cannot hold and numbers far outside the sensor range', () => {
    const intake = new TelemetryIntake(limits);
    for (const ts of [1e300, 8.64e15 + 1, -1e300]) expect(take(intake, { ts, values: { gas_lel: 1 } }).rejects[0]).toMatchObject({ code: 'TS_INVALID', path: 'ts' });
    // within ten spans of the physical range it is still a reading (the range rule alerts on it)
    expect(take(intake, { values: { gas_lel: 1100 } }).readings).toHaveLength(1);
    expect(take(intake, { values: { gas_lel: 1100.5 } }).rejects[0]).toMatchObject({ code: 'VALUE_OUT_OF_RANGE', path: 'values.gas_lel' });
    expect(take(intake, { values: { gas_lel: -1e300 } }).rejects[0]).toMatchObject({ code: 'VALUE_OUT_OF_RANGE' });
  });

  it('keeps values and qualities in objects without a prototype, and only for the device\'s points', () => {
    const intake = new TelemetryIntake(limits);
    const { readings, rejects } = take(intake, '{"values":{"gas_lel":1,"__proto__":{"x":1}},"quality":{"toString":"fault","gas_lel":"maintenance"}}');
    expect(rejects.map((r) => r.path)).toEqual(['values.__proto__', 'quality.toString']);
    const r = readings[0];
    expect(Object.getPrototypeOf(r.values)).toBe(null);
    expect(Object.keys(r.values)).toEqual(['gas_lel']);
    expect('toString' in r.quality!).toBe(false);
    expect(r.quality).toEqual({ gas_lel: 'maintenance' });
  });

  it('forgets the seqs of readings the store did not take, so their resend is accepted', () => {
    const intake = new TelemetryIntake(limits);
    const first = take(intake, { ts: NOW - 1000, seq: 7, values: { gas_lel: 1 } });
    expect(take(intake, { ts: NOW - 1000, seq: 7, values: { gas_lel: 1 } }).rejects[0]).toMatchObject({ code: 'DUPLICATE_SEQ' });
    intake.forgetSeqs('D', first.readings);
    expect(take(intake, { ts: NOW - 1000, seq: 7, values: { gas_lel: 1 } }).readings).toHaveLength(1);
  });
});

describe('device secrets', () => {
  it('stop working the moment the registry rotates them, plain or hashed', async () => {
    const v = new SecretVerifier();
    v.remember('D', 'old-secret');
    expect(await v.verify('D', Buffer.from('old-secret'), undefined)).toBe(true);
    v.remember('D', 'new-secret');
    expect(await v.verify('D', Buffer.from('old-secret'), undefined)).toBe(false);
    const [h1, h2] = [await hashSecret('first-hash'), await hashSecret('second-hash')];
    expect(await v.verify('D', Buffer.from('first-hash'), h1)).toBe(true);
    expect(v.credentialOf('D', h1)).toBe(h1);
    // the cached check for the first hash does not outlive it
    expect(await v.verify('D', Buffer.from('first-hash'), h2)).toBe(false);
    v.retain(() => false);
    expect(await v.verify('D', Buffer.from('new-secret'), undefined)).toBe(false);
  });
});

describe('address bans after a restart', () => {
  it('trust the logins remembered from before it at their own address, for a week from when they were', () => {
    const g = new LoginGuard({ windowS: 60, maxFailuresPerAddress: 1, maxFailuresPerUsername: 5, banS: 300 });
    const now = Date.UTC(2026, 11, 6);
    const day = 86_400_000;
    g.remember([{ username: 'gas-1', address: '10.0.0.5', at: now - day }, { username: 'old', address: '10.0.0.5', at: now - 8 * day }, { username: 'elsewhere', address: '10.0.0.6', at: now - 1000 }], now);
    g.fail('10.0.0.5', 'someone', now);
    expect(g.admits('gas-1', '10.0.0.5', now).ok).toBe(true);
    expect(g.admits('old', '10.0.0.5', now).ok).toBe(false);
    expect(g.admits('elsewhere', '10.0.0.5', now).ok).toBe(false);
    // the week runs from the login remembered, not from the restart
    const later = now + 6 * day + 1;
    g.fail('10.0.0.5', 'someone', later);
    expect(g.admits('gas-1', '10.0.0.5', later).ok).toBe(false);
  });
});

describe('device secrets, checked in turns', () => {
  it('hashes at most as many at once as the lane is wide; past the waiting bound a login is refused as busy; one whose asker left is not hashed', async () => {
    const v = new SecretVerifier({ lanes: 2, maxWaiting: 4 });
    const hash = await hashSecret('right');
    let most = 0;
    const watch = setInterval(() => (most = Math.max(most, v.hashing().running)), 1);
    const checks = Array.from({ length: 5 }, (_, i) => v.verify(`D${i}`, Buffer.from('right'), hash));
    let left = false;
    const gone = v.verify('D6', Buffer.from('right'), hash, () => !left);
    left = true;
    // two running, four waiting: the seventh is not queued
    await expect(v.verify('D5', Buffer.from('right'), hash)).rejects.toBeInstanceOf(LoginsWaiting);
    expect(await Promise.all(checks)).toEqual([true, true, true, true, true]);
    expect(await gone).toBeUndefined();
    clearInterval(watch);
    expect(most).toBeLessThanOrEqual(2);
    expect(v.hashing()).toEqual({ running: 0, waiting: 0 });
    // a device checked once is known: no turn to wait for, even with the lane full
    expect(await v.verify('D0', Buffer.from('right'), hash)).toBe(true);
    expect(await v.verify('D0', Buffer.from('wrong'), hash)).toBe(false);
  });

  it('reads the thread pool as libuv does: 4 unless UV_THREADPOOL_SIZE gives a whole number from 1 on, at most 1024', () => {
    expect(threadPoolSize({})).toBe(4);
    expect(threadPoolSize({ UV_THREADPOOL_SIZE: '16' })).toBe(16);
    for (const bad of ['0', '-3', 'abc', '2.5', '']) expect(threadPoolSize({ UV_THREADPOOL_SIZE: bad })).toBe(4);
    expect(threadPoolSize({ UV_THREADPOOL_SIZE: '5000' })).toBe(1024);
    // from four threads on the shares leave the stores a quarter or more; below, each still gets one
    expect(poolShares(16, 16)).toEqual({ loginHashing: 8, nameLookups: 4 });
    expect(poolShares(4, 8)).toEqual({ loginHashing: 2, nameLookups: 1 });
    expect(poolShares(1, 8)).toEqual({ loginHashing: 1, nameLookups: 1 });
    // scrypt is CPU too: logins leave a core to the alarm path
    expect(poolShares(16, 2)).toEqual({ loginHashing: 1, nameLookups: 4 });
    expect(poolShares(16, 1)).toEqual({ loginHashing: 1, nameLookups: 4 });
  });
});

describe('routing', () => {
  it('finds nothing for a metric named like a prototype member', () => {
    const policy = policyFor({ immediate: {}, byMetric: { smoke_alarm: ['fire'] }, escalation: [], byIndustry: {} });
    for (const m of ['toString', '__proto__', 'constructor', 'hasOwnProperty']) expect(immediateKinds(policy, 'critical', m)).toEqual(['enterprise', 'township']);
    expect(immediateKinds(policy, 'critical', 'smoke_alarm')).toEqual(['enterprise', 'township', 'fire']);
  });
});

describe('the daily summary', () => {
  it('covers the previous calendar day in China Standard Time, whenever it runs', () => {
    // 08:00 CST on 29 November is 00:00 UTC: the summary covers 28 November 00:00–24:00 CST
    const day = previousDayCst(Date.UTC(2026, 10, 29, 0, 0));
    expect(new Date(day.from).toISOString()).toBe('2026-11-27T16:00:00.000Z');
    expect(new Date(day.to).toISOString()).toBe('2026-11-28T16:00:00.000Z');
    // a late run at 23:59 CST still covers the day before
    expect(previousDayCst(Date.UTC(2026, 10, 29, 15, 59))).toEqual(day);
    expect(previousDayCst(Date.UTC(2026, 10, 29, 16, 0)).from).toBe(day.to);
  });
});

describe('request logging', () => {
  it('masks tokens in the query, whatever their case or encoding', () => {
    expect(loggableUrl('/api/alerts/stream?token=abc&x=1')).toBe('/api/alerts/stream?token=[redacted]&x=1');
    expect(loggableUrl('/api/x?Access_Token=abc')).toBe('/api/x?Access_Token=[redacted]');
    expect(loggableUrl('/api/x?%74oken=abc')).toBe('/api/x?%74oken=[redacted]');
    expect(loggableUrl('/api/health')).toBe('/api/health');
  });
});

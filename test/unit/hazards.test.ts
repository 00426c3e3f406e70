import { describe, expect, it } from 'vitest';
import { HazardError, openHazard, overdue, rectify, signOff } from '../../services/hazards/hazard.ts';

/** The rectification item's lifecycle as plain functions. */
const DAY = 86_400_000;
const fresh = () => openHazard({ id: 'h1', enterpriseId: 'E', region: 'R', industry: 'dust', alertId: null, description: 'd', dueAt: DAY }, 'reg', 0).hazard;

describe('rectification items', () => {
  it('goes open → rectified → closed, or back to open when returned', () => {
    const r = rectify(fresh(), 'ent', 10, 'fixed', ['p1']);
    expect(r.hazard).toMatchObject({ state: 'rectified', rectification: { measures: 'fixed', photos: ['p1'], by: 'ent' } });
    expect(signOff(r.hazard, 'reg', 20, false, 'not enough')).toMatchObject({ hazard: { state: 'open', closedAt: null }, event: { type: 'returned' } });
    expect(signOff(r.hazard, 'reg', 20, true, 'ok')).toMatchObject({ hazard: { state: 'closed', closedAt: 20 }, event: { type: 'signed_off' } });
  });

  it('refuses a sign-off before a rectification, a second report, and anything once closed', () => {
    expect(() => signOff(fresh(), 'reg', 1, true, 'x')).toThrow(HazardError);
    const r = rectify(fresh(), 'ent', 1, 'm', []).hazard;
    expect(() => rectify(r, 'ent', 2, 'm', [])).toThrow(/waits for the regulator/);
    const closed = signOff(r, 'reg', 3, true, 'ok').hazard;
    expect(() => rectify(closed, 'ent', 4, 'm', [])).toThrow(/signed off already/);
  });

  it('is overdue once its deadline passes unsigned, and only once', () => {
    expect(overdue(fresh(), DAY - 1)).toBeNull();
    const step = overdue(fresh(), DAY)!;
    expect(step.hazard.overdueAt).toBe(DAY);
    expect(overdue(step.hazard, 2 * DAY)).toBeNull();
    const closed = signOff(rectify(fresh(), 'e', 1, 'm', []).hazard, 'r', 2, true, 'ok').hazard;
    expect(overdue(closed, 2 * DAY)).toBeNull();
  });
});

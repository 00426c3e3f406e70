import { describe, expect, it } from 'vitest';
import { Silences } from '../../services/alerts/silences.ts';
import { Database } from '../../services/store/database.ts';
import { tempDir } from '../support/app.ts';

/**
 * Silences on their own: what they cover (enterprise, device, rule, time), each start and end
 * announced exactly once, across a restart, and the registry's maintenance windows kept by id.
 */
const T = Date.UTC(2026, 10, 29, 8);
const H = 3_600_000;

describe('silences', () => {
  it('cover their enterprise, device and rule for their time only, and end early when a person ends them', async () => {
    const db = await Database.open(await tempDir());
    const s = await Silences.create(await db.sql());
    const one = await s.add({ enterpriseId: 'E', deviceId: 'd1', rule: null, reason: 'calibration', by: 'op', from: T, until: T + H }, T);
    const at = (deviceId: string, rule = 'gas-lel', now = T + 1) => s.matching({ enterpriseId: 'E', deviceId, rule }, now)?.id;
    expect(at('d1')).toBe(one.id);
    expect(at('d2')).toBeUndefined();
    expect(s.matching({ enterpriseId: 'F', deviceId: 'd1', rule: 'gas-lel' }, T + 1)).toBeUndefined();
    expect(at('d1', 'gas-lel', T - 1)).toBeUndefined();
    expect(at('d1', 'gas-lel', T + H)).toBeUndefined();
    await s.end(one.id, 'op', T + 10);
    expect(at('d1', 'gas-lel', T + 11)).toBeUndefined();
    db.close();
  });

  it('announce each start and each end once, also after a restart', async () => {
    const dir = await tempDir();
    let db = await Database.open(dir);
    let s = await Silences.create(await db.sql());
    await s.add({ enterpriseId: 'E', deviceId: null, rule: null, reason: 'shutdown', by: 'op', from: T + H, until: T + 2 * H }, T);
    expect(await s.due(T)).toEqual({ started: [], ended: [] });
    expect((await s.due(T + H)).started).toHaveLength(1);
    expect((await s.due(T + H + 1)).started).toEqual([]);
    db.close();
    db = await Database.open(dir);
    s = await Silences.create(await db.sql());
    expect(await s.due(T + H + 2)).toEqual({ started: [], ended: [] });
    expect((await s.due(T + 2 * H)).ended).toHaveLength(1);
    expect((await s.due(T + 3 * H)).ended).toEqual([]);
    db.close();
  });

  it("keep a registry maintenance window's announcements across reloads", async () => {
    const db = await Database.open(await tempDir());
    const s = await Silences.create(await db.sql());
    const window = [{ enterprise: 'E', from: new Date(T).toISOString(), to: new Date(T + H).toISOString(), reason: 'maintenance', by: 'operator' }];
    s.useRegistry(window);
    expect((await s.due(T + 1)).started).toHaveLength(1);
    s.useRegistry(window);
    expect((await s.due(T + 2)).started).toEqual([]);
    db.close();
  });
});

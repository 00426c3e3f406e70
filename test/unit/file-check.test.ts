import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterEach, describe, expect, it } from 'vitest';
import { checkFile } from '../../services/registry/file-check.ts';
import { composeRegistry } from '../../services/registry/compose.ts';
import { RegistryHolder } from '../../services/registry/registry-holder.ts';
import type { RegisteredDevice } from '../../services/registry/registered-devices.ts';
import { REGISTRY_BUNDLE, tempDir } from '../support/app.ts';
import { CAST, CHEM, testRegistry } from '../support/registry.ts';

/**
 * An edited registry file is read and checked on a thread of its own (4–6 s of a core at 10 000
 * devices, which held the MQTT edge and the alarms), and the service takes only what changed.
 */
const HASH = `scrypt$16384$8$1$${Buffer.alloc(16, 1).toString('base64')}$${Buffer.alloc(32, 2).toString('base64')}`;
const registered = (id: string): RegisteredDevice => ({ enterpriseId: CHEM, registeredAt: '2026-12-07T00:00:00Z', registeredBy: 'test', device: { id, secretHash: HASH, points: [{ metric: 'gas_lel' }] } as RegisteredDevice['device'] });
type Raw = { units: { id: string; email?: string[] }[]; enterprises: { id: string; name: string; devices: { id: string; secret?: string }[] }[] };
const file = (edit: (r: Raw) => void = () => {}) => {
  const r = testRegistry() as Raw;
  edit(r);
  return stringify(r);
};

describe('the registry file checked on its own', () => {
  it('says what changed since the registry the service holds, by its parts; the whole without them', () => {
    const first = checkFile({ text: file(), source: 'registry', registered: [] });
    if (!first.ok || !('change' in first)) throw new Error('a check was expected');
    expect(first.change).toEqual({ whole: composeRegistry(testRegistry(), [], 'registry').registry.loaded });

    const renamed = checkFile({ text: file((r) => (r.enterprises[1].name = 'renamed')), source: 'registry', registered: [registered('reg-1')], before: first.parts });
    if (!renamed.ok || !('change' in renamed) || 'whole' in renamed.change) throw new Error('a change was expected');
    // the renamed enterprise, and the one a device was registered into meanwhile: nothing else
    expect(renamed.change.changed.map((e) => e.id).sort()).toEqual([CAST, CHEM].sort());
    expect(renamed.change.rest).toEqual({});

    const units = checkFile({ text: file((r) => ((r.enterprises[1].name = 'renamed'), (r.units[0].email = ['new@chem.test']))), source: 'registry', registered: [registered('reg-1')], before: renamed.parts });
    if (!units.ok || !('change' in units) || 'whole' in units.change) throw new Error('a change was expected');
    expect(units.change.changed).toEqual([]);
    expect(Object.keys(units.change.rest)).toEqual(['units']);

    // only the parts, for the first edit to compare with
    expect(checkFile({ text: file(), source: 'registry', registered: [] }, true)).toEqual({ ok: true, parts: first.parts });
    expect(checkFile({ text: 'enterprises: [', source: 'registry', registered: [] })).toMatchObject({ ok: false, problems: [expect.any(String)] });
    expect(checkFile({ text: file((r) => (r.enterprises[0].devices[0].secret = 'short')), source: 'registry', registered: [] })).toMatchObject({ ok: false, problems: [expect.stringMatching(/secret/)] });
  });
});

describe('a reload of an edited file', () => {
  const holders: RegistryHolder[] = [];
  afterEach(async () => {
    await Promise.all(holders.splice(0).map((h) => h.close()));
  });
  const open = async (checkThread: string, keepFromBytes?: number, checkTimeoutMs?: number) => {
    const dir = await tempDir();
    const configPath = join(dir, 'registry.yaml');
    await writeFile(configPath, file());
    const lines: string[] = [];
    const log = { info() {}, warn() {}, error: (o: object, msg?: string) => lines.push(`${msg} ${JSON.stringify(o)}`) };
    const holder = await RegistryHolder.open({ configPath, dataDir: dir, log, checkThread, keepFromBytes, checkTimeoutMs });
    holders.push(holder);
    return { holder, configPath, lines };
  };

  it('takes what the check thread found changed; the entries of the rest stay as they were', async () => {
    const { holder, configPath, lines } = await open(REGISTRY_BUNDLE);
    await holder.register(registered('reg-1'), 10);
    // the first reload's check has nothing of its own to compare with: the whole, equal to a check here
    await writeFile(configPath, file((r) => (r.enterprises[1].name = 'first edit')));
    expect(await holder.reload()).toEqual({ ok: true });
    expect(holder.current().loaded).toEqual(composeRegistry(stringifiedEdit((r) => (r.enterprises[1].name = 'first edit')), [registered('reg-1')], 'r').registry.loaded);
    const before = holder.current();

    await holder.register(registered('reg-2'), 10);
    const between = holder.current();
    await writeFile(configPath, file((r) => (r.enterprises[1].name = 'second edit')));
    expect(await holder.reload()).toEqual({ ok: true });
    const after = holder.current();
    expect(after.loaded).toEqual(composeRegistry(stringifiedEdit((r) => (r.enterprises[1].name = 'second edit')), [registered('reg-1'), registered('reg-2')], 'r').registry.loaded);
    // the enterprise edited, and the one registered into since the thread's last check, are the
    // thread's; every other is the registry's as it was, and keeps its entries
    expect(after.enterprises.get(CAST)).not.toBe(before.enterprises.get(CAST));
    expect(after.devices.has('reg-2')).toBe(true);
    const kept = [...after.enterprises.keys()].filter((id) => id !== CAST && id !== CHEM);
    expect(kept.length).toBeGreaterThan(1);
    for (const id of kept) expect(after.enterprises.get(id)).toBe(between.enterprises.get(id));
    for (const [id, e] of after.devices) if (kept.includes(e.enterprise.id)) expect(e).toBe(between.devices.get(id));
    expect(lines).toEqual([]);

    // refused there: the problems named, the registry in force kept
    await writeFile(configPath, file((r) => (r.enterprises[0].devices[0].secret = 'short')));
    expect(await holder.reload()).toMatchObject({ ok: false, problems: [expect.stringMatching(/secret/)] });
    expect(holder.current()).toBe(after);
    // checked there and refused here (it lists no users): the next is not taken as a change from it
    const noUsers = (r: Raw) => (r.enterprises[1].name = 'refused edit');
    await writeFile(configPath, stringify({ ...(stringifiedEdit(noUsers) as object), users: [] }));
    expect(await holder.reload()).toMatchObject({ ok: false, problems: [expect.stringMatching(/no users/)] });
    expect(holder.current()).toBe(after);
    await writeFile(configPath, file(noUsers));
    expect(await holder.reload()).toEqual({ ok: true });
    expect(holder.current().enterprises.get(CAST)!.name).toBe('refused edit');
    expect(holder.current().loaded).toEqual(composeRegistry(stringifiedEdit(noUsers), [registered('reg-1'), registered('reg-2')], 'r').registry.loaded);
  });

  it('takes even the first edit as what changed, when the file was kept on the check thread at the start', async () => {
    const { holder, configPath, lines } = await open(REGISTRY_BUNDLE, 0);
    const following = holder.follow(false);
    try {
      const before = holder.current();
      await holder.register(registered('reg-1'), 10);
      await writeFile(configPath, file((r) => (r.enterprises[1].name = 'first edit')));
      expect(await holder.reload()).toEqual({ ok: true });
      const after = holder.current();
      expect(after.loaded).toEqual(composeRegistry(stringifiedEdit((r) => (r.enterprises[1].name = 'first edit')), [registered('reg-1')], 'r').registry.loaded);
      const kept = [...after.enterprises.keys()].filter((id) => id !== CAST && id !== CHEM);
      for (const id of kept) expect(after.enterprises.get(id)).toBe(before.enterprises.get(id));
      expect(lines).toEqual([]);
    } finally {
      following.close();
    }
  });

  it('takes a registered device the file now sets aside out of its enterprise, though that enterprise reads as the thread last had it', async () => {
    const { holder, configPath, lines } = await open(REGISTRY_BUNDLE, 0);
    const following = holder.follow(false);
    try {
      // the thread read the file at the start; then a device is registered in CHEM, and the file gives its id to CAST
      await holder.register(registered('dup-1'), 10);
      const claimed = (r: Raw) => r.enterprises[1].devices.push({ id: 'dup-1', secret: 'claimed-by-the-file-1' });
      await writeFile(configPath, file((r) => (claimed(r), ((r.enterprises[1].devices.at(-1) as { points?: unknown[] }).points = [{ metric: 'battery_percent' }]))));
      expect(await holder.reload()).toEqual({ ok: true });
      const fresh = composeRegistry(stringifiedEdit((r) => (claimed(r), ((r.enterprises[1].devices.at(-1) as { points?: unknown[] }).points = [{ metric: 'battery_percent' }]))), [registered('dup-1')], 'r');
      expect(fresh.skipped.map((x) => x.id)).toEqual(['dup-1']);
      expect(holder.current().loaded).toEqual(fresh.registry.loaded);
      expect(holder.current().enterprises.get(CHEM)!.devices.map((d) => d.id)).not.toContain('dup-1');
      expect(holder.current().devices.get('dup-1')!.enterprise.id).toBe(CAST);
      expect(lines).toEqual([]);
    } finally {
      following.close();
    }
  });

  it('refuses, and keeps the registry in force, a file too large, an alias bomb, or one whose check fails once the thread runs', async () => {
    const { holder, configPath } = await open(REGISTRY_BUNDLE);
    const before = holder.current();
    const bomb = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
    for (let i = 1; i < 9; i++) bomb.push(`${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(9).fill('*' + String.fromCharCode(96 + i)).join(',')}]`);
    await writeFile(configPath, `${file()}\n${bomb.join('\n')}\n`);
    expect(await holder.reload()).toMatchObject({ ok: false, problems: [expect.stringMatching(/Excessive alias count/)] });
    await writeFile(configPath, `${file()}\njunk: "${'x'.repeat(17 * 2 ** 20)}"\n`);
    expect(await holder.reload()).toMatchObject({ ok: false, problems: [expect.stringMatching(/the file is 17 MiB, more than the 16 MiB/)] });
    expect(holder.current()).toBe(before);

    // a thread that loads, then fails on the file (as one out of its heap does): refused, not checked on the main thread
    const failing = join(await tempDir(), 'failing-thread.mjs');
    await writeFile(failing, "import { parentPort } from 'node:worker_threads';\nparentPort.postMessage({ ready: true });\nparentPort.once('message', () => { throw new Error('out of its heap'); });\n");
    const other = await open(failing);
    await writeFile(other.configPath, file((r) => (r.enterprises[1].name = 'edited')));
    expect(await other.holder.reload()).toMatchObject({ ok: false, problems: [expect.stringMatching(/the check of the file failed: out of its heap/)] });
    expect(other.holder.current().enterprises.get(CAST)!.name).not.toBe('edited');

    // one that never answers (a file built to be slow to read): refused once its time is up
    const stuck = join(await tempDir(), 'stuck-thread.mjs');
    await writeFile(stuck, "import { parentPort } from 'node:worker_threads';\nparentPort.postMessage({ ready: true });\nparentPort.once('message', () => setInterval(() => {}, 1000));\n");
    const slow = await open(stuck, undefined, 300);
    await writeFile(slow.configPath, file((r) => (r.enterprises[1].name = 'edited')));
    expect(await slow.holder.reload()).toMatchObject({ ok: false, problems: [expect.stringMatching(/the check of the file failed: it took longer than 0.3 s/)] });
  });

  it('checks the file on its own thread when the check thread cannot start, and says so', async () => {
    const broken = join(await tempDir(), 'broken-thread.mjs');
    await writeFile(broken, "throw new Error('this thread cannot start');\n");
    const { holder, configPath, lines } = await open(broken);
    await writeFile(configPath, file((r) => (r.enterprises[1].name = 'edited')));
    expect(await holder.reload()).toEqual({ ok: true });
    expect(holder.current().enterprises.get(CAST)!.name).toBe('edited');
    expect(lines.some((l) => l.includes('the registry check thread could not start'))).toBe(true);
  });
});

/** the test registry, edited, as the file gives it */
function stringifiedEdit(edit: (r: Raw) => void): unknown {
  const r = testRegistry() as Raw;
  edit(r);
  return r;
}

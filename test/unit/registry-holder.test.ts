import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { RegisteredDevice, RegisteredDeviceStore } from '../../services/registry/registered-devices.ts';
import { RegistryHolder } from '../../services/registry/registry-holder.ts';
import { REGISTRY_BUNDLE, tempDir } from '../support/app.ts';
import { CHEM, testRegistry } from '../support/registry.ts';
import { waitFor } from '../support/wait.ts';

const silent = { info() {}, warn() {}, error() {} };
/** a hash in the form `npm run secret` makes (the registry refuses malformed ones) */
const WELL_FORMED_HASH = `scrypt$16384$8$1$${Buffer.alloc(16, 1).toString('base64')}$${Buffer.alloc(32, 2).toString('base64')}`;
const entry = (id: string): RegisteredDevice => ({ enterpriseId: CHEM, registeredAt: '2026-12-06T00:00:00Z', registeredBy: 'test', device: { id, secretHash: WELL_FORMED_HASH, points: [{ metric: 'gas_lel' }] } });

/**
 * The shared table as another node's registrations change it: what a load reads is what the
 * table holds when it starts, and each load answers only when the test lets it.
 */
class HeldTable implements RegisteredDeviceStore {
  table: RegisteredDevice[] = [];
  private list: RegisteredDevice[] = [];
  readonly held: (() => void)[] = [];
  hold = false;
  async load() {
    const seen = [...this.table];
    if (this.hold) await new Promise<void>((r) => this.held.push(r));
    return (this.list = seen);
  }
  all() {
    return this.list;
  }
  async add(d: RegisteredDevice) {
    this.table.push(d);
    this.list = [...this.list, d];
  }
}

const opened: RegistryHolder[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((r) => r.close()));
});

async function holder() {
  const dir = await tempDir();
  const configPath = join(dir, 'registry.yaml');
  await writeFile(configPath, stringify(testRegistry()));
  const table = new HeldTable();
  const registry = await RegistryHolder.open({ configPath, dataDir: dir, log: silent, registered: table, checkThread: REGISTRY_BUNDLE });
  opened.push(registry);
  return { table, configPath, registry };
}

describe('registry holder', () => {
  it('checks a registration once, whatever the number registered: a refused one is refused for its own problem, and devices set aside stay aside, their ids kept', async () => {
    const { table, registry } = await holder();
    // a registered device the file no longer fits (its enterprise is gone) is set aside
    table.table.push({ ...entry('gas-gone'), enterpriseId: 'NO-SUCH' });
    expect(await registry.reload()).toEqual({ ok: true });
    for (let i = 0; i < 20; i++) await registry.register(entry(`gas-r${i}`), 500);
    const bad: RegisteredDevice = { ...entry('gas-bad'), device: { ...entry('gas-bad').device, points: [{ metric: 'gas_lel' }, { metric: 'gas_lel' }] } };
    // the registry is copied to be checked whole at most once. Refused, a registration had it
    // checked again once per registered device, to find which still fit (an alarm-path stall of
    // seconds); it is now checked against the device's enterprise alone, without a copy
    const copies = vi.spyOn(globalThis, 'structuredClone');
    try {
      await expect(registry.register(bad, 500)).rejects.toThrow(/gas_lel" listed twice/);
      expect(copies.mock.calls.length).toBeLessThanOrEqual(1);
    } finally {
      copies.mockRestore();
    }
    expect(registry.current().devices.has('gas-bad')).toBe(false);
    expect(registry.current().devices.has('gas-gone')).toBe(false);
    // its id stays its own: it comes back once the file fits it (an outside probe registered it
    // again in another enterprise, and a later reload dropped the newer device)
    await expect(registry.register(entry('gas-gone'), 500)).rejects.toThrow(/device id gas-gone is taken/);
    await registry.register(entry('gas-ok'), 500);
    expect(['gas-ok', 'gas-r0', 'gas-r19'].filter((id) => registry.current().devices.has(id))).toEqual(['gas-ok', 'gas-r0', 'gas-r19']);
    expect(registry.current().devices.has('gas-gone')).toBe(false);
  });

  it("takes another node's registrations at a reload as a registration here takes one, and sets aside one the file refuses; a changed file is checked whole", async () => {
    const { table, configPath, registry } = await holder();
    await registry.register(entry('gas-here'), 500);
    // registered on another node: in the shared table, and every node reloads
    table.table.push(entry('gas-there-1'), { ...entry('gas-there-bad'), device: { ...entry('gas-there-bad').device, points: [{ metric: 'gas_lel' }, { metric: 'gas_lel' }] } }, entry('gas-there-2'));
    const copies = vi.spyOn(globalThis, 'structuredClone');
    try {
      expect(await registry.reload()).toEqual({ ok: true });
      // the file did not change: the registry was not copied to be checked whole
      expect(copies).not.toHaveBeenCalled();
    } finally {
      copies.mockRestore();
    }
    const ids = ['gas-here', 'gas-there-1', 'gas-there-bad', 'gas-there-2'];
    expect(ids.filter((id) => registry.current().devices.has(id))).toEqual(['gas-here', 'gas-there-1', 'gas-there-2']);
    const incremental = registry.current().loaded;
    // the same registry as the whole check makes of the same file and devices
    const dir = await tempDir();
    await writeFile(join(dir, 'registry.yaml'), stringify(testRegistry()));
    const whole = new HeldTable();
    whole.table = [...table.table];
    const fresh = await RegistryHolder.open({ configPath: join(dir, 'registry.yaml'), dataDir: dir, log: silent, registered: whole });
    expect(incremental).toEqual(fresh.current().loaded);
    // the operator edits the file: checked whole, on the check thread (and the invalid device
    // still set aside): the same registry as a whole check of the edited file gives
    const edited = testRegistry() as { enterprises: { name: string }[] };
    edited.enterprises[0].name = 'renamed';
    await writeFile(configPath, stringify(edited));
    expect(await registry.reload()).toEqual({ ok: true });
    await writeFile(join(dir, 'registry.yaml'), stringify(edited));
    const freshEdited = await RegistryHolder.open({ configPath: join(dir, 'registry.yaml'), dataDir: dir, log: silent, registered: whole });
    expect(registry.current().loaded).toEqual(freshEdited.current().loaded);
    expect(registry.current().file.enterprises[0].name).toBe('renamed');
    expect(ids.filter((id) => registry.current().devices.has(id))).toEqual(['gas-here', 'gas-there-1', 'gas-there-2']);
  });

  it('applies reloads in the order they were asked for: an older read never stays in force', async () => {
    const { table, registry } = await holder();
    table.hold = true;
    table.table.push(entry('gas-a'));
    const first = registry.reload();
    await waitFor(() => table.held.length === 1, 2000, 'the first reload reading');
    table.table.push(entry('gas-b'));
    const second = registry.reload();
    // a third asked for while the second waits joins it: one more read, not two
    expect(registry.reload()).toBe(second);
    // the first read answers only after the second was asked for: the second still reads afresh
    table.held.shift()!();
    expect(await first).toEqual({ ok: true });
    expect(registry.current().devices.has('gas-a')).toBe(true);
    await waitFor(() => table.held.length === 1, 2000, 'the second reload reading');
    table.held.shift()!();
    expect(await second).toEqual({ ok: true });
    expect(registry.current().devices.has('gas-b')).toBe(true);
    expect(table.held).toEqual([]);
  });

  it('lets a registration under way finish before a reload reads, so the new device stays', async () => {
    const { table, registry } = await holder();
    const registering = registry.register(entry('gas-c'), 10);
    const reloading = registry.reload();
    await registering;
    expect(await reloading).toEqual({ ok: true });
    expect(registry.current().devices.has('gas-c')).toBe(true);
    expect(table.table.map((d) => d.device.id)).toEqual(['gas-c']);
  });
});

import { randomUUID } from 'node:crypto';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { StartError } from '../start-error.ts';
import type { Sql } from '../store/sql.ts';

const fileSchema = z.array(
  z.object({
    enterpriseId: z.string(),
    registeredAt: z.string(),
    registeredBy: z.string(),
    device: z.looseObject({ id: z.string(), secretHash: z.string() }),
  }),
);

/**
 * Devices that enterprises registered through the API. They live under DATA_DIR (with their
 * secret only as a hash) and are merged into the registry file's enterprises on every load.
 */
export interface RegisteredDevice {
  enterpriseId: string;
  registeredAt: string;
  registeredBy: string;
  device: Record<string, unknown> & { id: string; secretHash: string };
}

/** Where registered devices are kept: a file under DATA_DIR, or (cluster mode) the shared database. */
export interface RegisteredDeviceStore {
  load(): Promise<RegisteredDevice[]>;
  all(): readonly RegisteredDevice[];
  add(d: RegisteredDevice): Promise<void>;
}

export class RegisteredDevices implements RegisteredDeviceStore {
  private list: RegisteredDevice[] = [];
  private readonly path: string;

  constructor(dataDir: string) {
    this.path = join(dataDir, 'registered-devices.json');
  }

  async load(): Promise<RegisteredDevice[]> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      return (this.list = []);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (e) {
      throw new StartError(`${this.path} is not valid JSON (${(e as Error).message}); restore it from a backup or move it away to start without the devices registered through the API`);
    }
    const ok = fileSchema.safeParse(parsed);
    if (!ok.success) throw new StartError(`${this.path} does not hold registered devices (${ok.error.issues[0].path.join('.') || 'root'}: ${ok.error.issues[0].message}); restore it from a backup or move it away`);
    return (this.list = ok.data as RegisteredDevice[]);
  }

  all(): readonly RegisteredDevice[] {
    return this.list;
  }

  /** Write-then-rename, so a crash never leaves half a file. The caller runs one add at a time. */
  async add(d: RegisteredDevice): Promise<void> {
    const next = [...this.list, d];
    const tmp = `${this.path}.${process.pid}.${randomUUID()}.tmp`;
    await writeFile(tmp, JSON.stringify(next, null, 2));
    await rename(tmp, this.path);
    this.list = next;
  }
}

/**
 * The registry file with the registered devices added to their enterprises. The file is the
 * operator's and wins: a registered device whose id the file now uses too (or whose enterprise is
 * gone) is set aside, named in `skipped`, instead of making the whole registry invalid.
 */
export function withRegisteredDevices(raw: unknown, extra: readonly RegisteredDevice[]): { raw: unknown; skipped: { id: string; why: string }[] } {
  const skipped: { id: string; why: string }[] = [];
  if (!extra.length || typeof raw !== 'object' || raw === null) return { raw, skipped };
  const copy = structuredClone(raw) as { enterprises?: { id: string; devices?: { id?: unknown }[] }[] };
  const enterprises = Array.isArray(copy.enterprises) ? copy.enterprises : [];
  const taken = new Set<unknown>(enterprises.flatMap((e) => (Array.isArray(e?.devices) ? e.devices.map((d) => d?.id) : [])));
  for (const d of extra) {
    const ent = enterprises.find((e) => e?.id === d.enterpriseId);
    if (!ent) skipped.push({ id: d.device.id, why: `enterprise ${d.enterpriseId} is no longer in the registry` });
    else if (taken.has(d.device.id)) skipped.push({ id: d.device.id, why: 'the registry file now has a device with this id' });
    else {
      taken.add(d.device.id);
      (ent.devices ??= []).push(d.device);
    }
  }
  return { raw: copy, skipped };
}

/** Registered devices in the database a cluster shares, so every node composes the same registry. */
export class RegisteredDevicesTable implements RegisteredDeviceStore {
  private list: RegisteredDevice[] = [];

  private constructor(private readonly sql: Sql) {}

  static async open(sql: Sql): Promise<RegisteredDevicesTable> {
    await sql.run('CREATE TABLE IF NOT EXISTS registered_devices (id VARCHAR PRIMARY KEY, registered_at VARCHAR NOT NULL, doc TEXT NOT NULL)');
    return new RegisteredDevicesTable(sql);
  }

  async load(): Promise<RegisteredDevice[]> {
    const rows = await this.sql.all<{ doc: string }>('SELECT doc FROM registered_devices ORDER BY registered_at, id');
    const ok = fileSchema.safeParse(rows.map((r) => JSON.parse(r.doc) as unknown));
    if (!ok.success) throw new Error(`registered_devices does not hold registered devices (${ok.error.issues[0].path.join('.')}: ${ok.error.issues[0].message})`);
    return (this.list = ok.data as RegisteredDevice[]);
  }

  all(): readonly RegisteredDevice[] {
    return this.list;
  }

  async add(d: RegisteredDevice): Promise<void> {
    await this.sql.run('INSERT INTO registered_devices VALUES ($id, $at, $doc)', { id: d.device.id, at: d.registeredAt, doc: JSON.stringify(d) });
    this.list = [...this.list, d];
  }
}

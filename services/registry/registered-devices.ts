import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

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

export class RegisteredDevices {
  private list: RegisteredDevice[] = [];
  private readonly path: string;

  constructor(dataDir: string) {
    this.path = join(dataDir, 'registered-devices.json');
  }

  async load(): Promise<RegisteredDevice[]> {
    try {
      this.list = JSON.parse(await readFile(this.path, 'utf8')) as RegisteredDevice[];
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      this.list = [];
    }
    return this.list;
  }

  all(): readonly RegisteredDevice[] {
    return this.list;
  }

  /** Write-then-rename, so a crash never leaves half a file. */
  async add(d: RegisteredDevice): Promise<void> {
    const next = [...this.list, d];
    const tmp = `${this.path}.tmp`;
    await writeFile(tmp, JSON.stringify(next, null, 2));
    await rename(tmp, this.path);
    this.list = next;
  }
}

/** The registry file with the registered devices added to their enterprises. */
export function withRegisteredDevices(raw: unknown, extra: readonly RegisteredDevice[]): unknown {
  if (!extra.length || typeof raw !== 'object' || raw === null) return raw;
  const copy = structuredClone(raw) as { enterprises?: { id: string; devices?: unknown[] }[] };
  for (const d of extra) {
    const ent = copy.enterprises?.find((e) => e.id === d.enterpriseId);
    if (ent) (ent.devices ??= []).push(d.device);
  }
  return copy;
}

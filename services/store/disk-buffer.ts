import { mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * An append-only buffer on disk: each batch is one file, written and fsync'd before the append
 * resolves, read back in order and removed once shipped. What a crash or an outage of the
 * downstream store must not lose waits here. Bounded: past `maxBytes` an append is refused.
 *
 * A batch file is whole or absent: it is written under a temporary name and renamed once synced
 * (the folder synced too, so the name survives a crash). A half-written file under a batch's name
 * (a full disk, a kill in the middle of a write) was read back with the next batch and its cut
 * last line merged with that batch's first: InfluxDB refused the merged line, and an acknowledged
 * reading was lost.
 */
export class BufferFull extends Error {}

export class DiskBuffer {
  private next = 1;
  private bytes = 0;
  private files: { name: string; size: number; at: number; suffix: string }[] = [];

  private constructor(
    private readonly dir: string,
    readonly maxBytes: number,
  ) {}

  static async open(dir: string, maxBytes: number): Promise<DiskBuffer> {
    await mkdir(dir, { recursive: true });
    const b = new DiskBuffer(dir, maxBytes);
    const all = await readdir(dir);
    // batches never finished (their append never resolved): nobody was told they were kept
    for (const n of all.filter((x) => x.endsWith(TMP))) await rm(join(dir, n), { force: true });
    const names = all.filter((n) => /^\d{12}(\.[a-z]+)?\.batch$/.test(n)).sort();
    for (const name of names) {
      const s = await stat(join(dir, name));
      b.files.push({ name, size: s.size, at: s.mtimeMs, suffix: suffixOf(name) });
      b.bytes += s.size;
    }
    const last = names.at(-1);
    if (last) b.next = Number(last.slice(0, 12)) + 1;
    return b;
  }

  /** `suffix` marks what kind of batch it is (the shipper's business), kept in the file name */
  async append(text: string | Uint8Array, suffix = ''): Promise<void> {
    const size = typeof text === 'string' ? Buffer.byteLength(text) : text.byteLength;
    if (this.bytes + size > this.maxBytes) throw new BufferFull(`the buffer holds ${this.bytes} bytes, at most ${this.maxBytes}`);
    const name = `${String(this.next++).padStart(12, '0')}${suffix ? `.${suffix}` : ''}.batch`;
    const tmp = join(this.dir, name + TMP);
    try {
      await writeSynced(tmp, text);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      // the folder was removed under the running service: made again, not every batch refused
      await mkdir(this.dir, { recursive: true });
      await writeSynced(tmp, text);
    }
    try {
      await rename(tmp, join(this.dir, name));
      await syncFolder(this.dir);
    } catch (e) {
      await rm(tmp, { force: true }).catch(() => {});
      throw e;
    }
    this.files.push({ name, size, at: Date.now(), suffix });
    this.bytes += size;
  }

  /**
   * The oldest batches after the first `skip` (those being shipped already), up to about
   * `maxBytes` together, in the order they were appended, and all of one suffix (the suffix of the
   * first). What it reads is fixed when it is called: a removal meanwhile does not shift it.
   */
  async peek(maxBytes: number, skip = 0): Promise<{ names: string[]; bytes: Buffer; suffix: string; missing: string[] }> {
    const taken: { name: string; size: number }[] = [];
    let total = 0;
    const suffix = this.files[skip]?.suffix ?? '';
    for (const f of this.files.slice(skip)) {
      if (taken.length && (total + f.size > maxBytes || f.suffix !== suffix)) break;
      taken.push(f);
      total += f.size;
    }
    const read = await Promise.allSettled(taken.map((f) => readFile(join(this.dir, f.name))));
    const names: string[] = [];
    const parts: Buffer[] = [];
    // a batch file removed by hand is gone: it is forgotten (and said), not asked for again for
    // ever while every batch after it waits
    const missing: string[] = [];
    read.forEach((r, i) => {
      if (r.status === 'fulfilled') names.push(taken[i].name), parts.push(r.value);
      else if (r.reason?.code === 'ENOENT') missing.push(taken[i].name);
      else throw r.reason;
    });
    if (missing.length) this.forget(missing);
    return { names, bytes: parts.length === 1 ? parts[0] : Buffer.concat(parts), suffix, missing };
  }

  /** The oldest batches one by one, for a reader that looks without shipping. */
  async list(limit: number): Promise<{ name: string; text: string }[]> {
    return Promise.all(this.files.slice(0, limit).map(async (f) => ({ name: f.name, text: await readFile(join(this.dir, f.name), 'utf8') })));
  }

  async remove(names: string[]): Promise<void> {
    for (const name of names) {
      await rm(join(this.dir, name), { force: true });
      this.forget([name]);
    }
  }

  private forget(names: string[]) {
    for (const name of names) {
      const i = this.files.findIndex((f) => f.name === name);
      if (i >= 0) this.bytes -= this.files.splice(i, 1)[0].size;
    }
  }

  get depth() {
    return { batches: this.files.length, bytes: this.bytes, oldestAt: this.files[0]?.at ?? null };
  }
}

const TMP = '.tmp';

async function writeSynced(path: string, data: string | Uint8Array) {
  const fh = await open(path, 'w');
  try {
    await fh.writeFile(data);
    await fh.sync();
  } catch (e) {
    await fh.close().catch(() => {});
    await rm(path, { force: true }).catch(() => {});
    throw e;
  }
  await fh.close();
}

/** A rename is durable once its folder is synced. */
async function syncFolder(dir: string) {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

const suffixOf = (name: string) => /^\d{12}\.([a-z]+)\.batch$/.exec(name)?.[1] ?? '';

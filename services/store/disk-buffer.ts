import { mkdir, open, readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * An append-only buffer on disk: each batch is one file, written and fsync'd before the append
 * resolves, read back in order and removed once shipped. What a crash or an outage of the
 * downstream store must not lose waits here. Bounded: past `maxBytes` an append is refused.
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
    const names = (await readdir(dir)).filter((n) => /^\d{12}(\.[a-z]+)?\.batch$/.test(n)).sort();
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
    const fh = await open(join(this.dir, name), 'w');
    try {
      await fh.writeFile(text);
      await fh.sync();
    } finally {
      await fh.close();
    }
    this.files.push({ name, size, at: Date.now(), suffix });
    this.bytes += size;
  }

  /**
   * The oldest batches after the first `skip` (those being shipped already), up to about
   * `maxBytes` together, in the order they were appended, and all of one suffix (the suffix of the
   * first). What it reads is fixed when it is called: a removal meanwhile does not shift it.
   */
  async peek(maxBytes: number, skip = 0): Promise<{ names: string[]; bytes: Buffer; suffix: string }> {
    const taken: { name: string; size: number }[] = [];
    let total = 0;
    const suffix = this.files[skip]?.suffix ?? '';
    for (const f of this.files.slice(skip)) {
      if (taken.length && (total + f.size > maxBytes || f.suffix !== suffix)) break;
      taken.push(f);
      total += f.size;
    }
    const parts = await Promise.all(taken.map((f) => readFile(join(this.dir, f.name))));
    return { names: taken.map((f) => f.name), bytes: parts.length === 1 ? parts[0] : Buffer.concat(parts), suffix };
  }

  /** The oldest batches one by one, for a reader that looks without shipping. */
  async list(limit: number): Promise<{ name: string; text: string }[]> {
    return Promise.all(this.files.slice(0, limit).map(async (f) => ({ name: f.name, text: await readFile(join(this.dir, f.name), 'utf8') })));
  }

  async remove(names: string[]): Promise<void> {
    for (const name of names) {
      await rm(join(this.dir, name), { force: true });
      const i = this.files.findIndex((f) => f.name === name);
      if (i >= 0) this.bytes -= this.files.splice(i, 1)[0].size;
    }
  }

  get depth() {
    return { batches: this.files.length, bytes: this.bytes, oldestAt: this.files[0]?.at ?? null };
  }
}

const suffixOf = (name: string) => /^\d{12}\.([a-z]+)\.batch$/.exec(name)?.[1] ?? '';

import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DiskBuffer } from '../../services/store/disk-buffer.ts';
import { tempDir } from '../support/app.ts';

/** The disk buffer the InfluxDB store and the uplinks keep what is not delivered yet in: a real folder. */
describe('disk buffer', () => {
  it('keeps a batch whole or not at all: a write that fails leaves no batch behind, and what comes after is read alone', async () => {
    const dir = await tempDir('rm-disk-buffer-');
    const b = await DiskBuffer.open(dir, 1 << 20);
    await b.append('a1\na2\n', 'us');
    // the next write cannot be made (a folder where its file would go: as a full disk would refuse it)
    await mkdir(join(dir, '000000000002.us.batch.tmp'));
    await expect(b.append('b1\nb2 cut here', 'us')).rejects.toThrow();
    await b.append('c1\n', 'us');
    expect(b.depth).toMatchObject({ batches: 2, bytes: 9 });
    expect((await readdir(dir)).filter((n) => n.endsWith('.batch')).sort()).toEqual(['000000000001.us.batch', '000000000003.us.batch']);
    expect((await b.peek(1 << 20)).bytes.toString()).toBe('a1\na2\nc1\n');
  });

  it('drops what a crash left half written at the next start: it was never acknowledged', async () => {
    const dir = await tempDir('rm-disk-buffer-');
    const b = await DiskBuffer.open(dir, 1 << 20);
    await b.append('a1\n');
    await writeFile(join(dir, '000000000002.batch.tmp'), 'half a li');
    const again = await DiskBuffer.open(dir, 1 << 20);
    expect(again.depth.batches).toBe(1);
    expect(await readdir(dir)).toEqual(['000000000001.batch']);
    await again.append('b1\n');
    expect((await again.peek(1 << 20)).bytes.toString()).toBe('a1\nb1\n');
  });

  it('goes on past a batch removed by hand, naming it, and makes its folder again if the folder was removed', async () => {
    const dir = await tempDir('rm-disk-buffer-');
    const b = await DiskBuffer.open(dir, 1 << 20);
    for (const t of ['a\n', 'b\n', 'c\n']) await b.append(t);
    await rm(join(dir, '000000000001.batch'));
    const first = await b.peek(1 << 20);
    expect(first).toMatchObject({ names: ['000000000002.batch', '000000000003.batch'], missing: ['000000000001.batch'] });
    expect(first.bytes.toString()).toBe('b\nc\n');
    expect(b.depth).toMatchObject({ batches: 2, bytes: 4 });
    await b.remove(first.names);
    await rm(dir, { recursive: true });
    await b.append('d\n');
    expect((await b.peek(1 << 20)).bytes.toString()).toBe('d\n');
  });
});

import { randomUUID } from 'node:crypto';
import { mkdir, open, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import type { Sql } from '../store/sql.ts';

/**
 * Photos of what was found and done (处置反馈, 整改): kept under DATA_DIR/photos, one file each,
 * with who sent it, for which alert or rectification item of which enterprise. Only images are
 * kept, judged by their content (file-type reads the magic bytes), never by the name they came
 * with.
 */
export interface Photo {
  id: string;
  enterpriseId: string;
  subject: { kind: 'alert' | 'hazard'; id: string };
  mime: string;
  bytes: number;
  by: string;
  at: number;
}

export const PHOTO_TYPES: ReadonlyMap<string, string> = new Map([
  ['image/jpeg', 'jpg'],
  ['image/png', 'png'],
  ['image/webp', 'webp'],
  ['image/heic', 'heic'],
]);

export class NotAnImage extends Error {}

export class PhotoStore {
  private constructor(
    private readonly conn: Sql,
    /** the folder the images are kept in; null: in the database (a cluster's API nodes share it) */
    private readonly dir: string | null,
  ) {}

  static async create(conn: Sql, dir: string | null): Promise<PhotoStore> {
    if (dir !== null) await mkdir(dir, { recursive: true });
    await conn.run(`CREATE TABLE IF NOT EXISTS photos (id VARCHAR PRIMARY KEY, enterprise VARCHAR NOT NULL, doc VARCHAR NOT NULL)`);
    if (dir === null) await conn.run(`CREATE TABLE IF NOT EXISTS photo_bytes (id VARCHAR PRIMARY KEY, data TEXT NOT NULL)`);
    return new PhotoStore(conn, dir);
  }

  /** Keep an image (on disk, synced, before it is listed); anything else is refused. */
  async add(data: Buffer, meta: Omit<Photo, 'id' | 'mime' | 'bytes'>): Promise<Photo> {
    // a file cut short inside its header (eight bytes of a PNG signature) is not an image either
    // loaded with the first photo, not at every start
    const { fileTypeFromBuffer } = await import('file-type');
    const type = await fileTypeFromBuffer(data).catch(() => undefined);
    const ext = type && PHOTO_TYPES.get(type.mime);
    if (!type || !ext) throw new NotAnImage(type ? `${type.mime} is not an accepted image (JPEG, PNG, WebP, HEIC)` : 'the content is not an image');
    const photo: Photo = { ...meta, id: randomUUID(), mime: type.mime, bytes: data.length };
    if (this.dir === null) {
      await this.conn.tx(async (t) => {
        await t.run('INSERT INTO photo_bytes VALUES ($id, $data)', { id: photo.id, data: data.toString('base64') });
        await t.run('INSERT INTO photos VALUES ($id, $e, $doc)', { id: photo.id, e: photo.enterpriseId, doc: JSON.stringify(photo) });
      });
      return photo;
    }
    const file = join(this.dir, `${photo.id}.${ext}`);
    const fh = await open(`${file}.tmp`, 'w');
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(`${file}.tmp`, file);
    await this.conn.run('INSERT INTO photos VALUES ($id, $e, $doc)', { id: photo.id, e: photo.enterpriseId, doc: JSON.stringify(photo) });
    return photo;
  }

  async get(id: string): Promise<Photo | undefined> {
    const [row] = await this.conn.all<{ doc: string }>('SELECT doc FROM photos WHERE id = $id', { id });
    return row ? (JSON.parse(row.doc) as Photo) : undefined;
  }

  async read(photo: Photo): Promise<Buffer> {
    if (this.dir === null) {
      const [row] = await this.conn.all<{ data: string }>('SELECT data FROM photo_bytes WHERE id = $id', { id: photo.id });
      if (!row) throw Object.assign(new Error(`photo ${photo.id} has no content`), { code: 'ENOENT' });
      return Buffer.from(row.data, 'base64');
    }
    return readFile(join(this.dir, `${photo.id}.${PHOTO_TYPES.get(photo.mime)}`));
  }
}

import multipart from '@fastify/multipart';
import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { NotAnImage, type Photo } from '../../photos/photo-store.ts';
import type { ApiContext } from '../context.ts';
import { ApiError, parseInput } from '../errors.ts';

/**
 * Photo uploads for an alert's feedback or a rectification item: by the enterprise itself or an
 * operator, images only (by content), at most `PHOTO_MAX_BYTES`; served only to callers who see
 * the enterprise.
 */
export const PHOTO_MAX_BYTES = 5 * 1024 * 1024;

const uploadQuery = z.union([z.object({ alert: z.string().min(1).max(100) }).strict(), z.object({ hazard: z.string().min(1).max(100) }).strict()]);
const idParams = z.object({ id: z.uuid() }).strict();

export const photoUrl = (p: Pick<Photo, 'id'>) => `/api/photos/${p.id}`;

/** Photos named in a report must be ones uploaded for this enterprise. */
export async function checkOwnPhotos(photos: Pick<ApiContext['photos'], 'get'>, urls: readonly string[], enterpriseId: string): Promise<void> {
  for (const url of urls) {
    const id = /^\/api\/photos\/([0-9a-f-]{36})$/.exec(url)?.[1];
    const photo = id && (await photos.get(id));
    if (!photo || photo.enterpriseId !== enterpriseId) throw new ApiError('BAD_REQUEST', `body photos: ${url.slice(0, 80)} is not a photo uploaded for this enterprise (POST /api/photos)`, 'photos');
  }
}

export const photoRoutes =
  (ctx: ApiContext): FastifyPluginAsync =>
  async (app) => {
    // one byte over the limit is read, so a file cut at the limit is told from one of exactly that size
    await app.register(multipart, { limits: { fileSize: PHOTO_MAX_BYTES + 1, files: 1, fields: 0, parts: 1 } });

    app.post('/photos', async (req, reply) => {
      const q = parseInput(uploadQuery, req.query, 'query');
      const subject = 'alert' in q ? { kind: 'alert' as const, id: q.alert } : { kind: 'hazard' as const, id: q.hazard };
      const enterpriseId = subject.kind === 'alert' ? (await ctx.alerts.get(subject.id))?.alert.enterpriseId : (await ctx.hazardStore.get(subject.id))?.hazard.enterpriseId;
      if (!enterpriseId) throw new ApiError('NOT_FOUND', `no ${subject.kind} ${subject.id}`, subject.kind);
      if (!req.caller.sees(enterpriseId)) throw new ApiError('FORBIDDEN', `${subject.kind} ${subject.id} is outside your scope`, subject.kind);
      if (!req.caller.handles(enterpriseId)) throw new ApiError('FORBIDDEN', `${req.caller.role} callers do not send photos for ${enterpriseId}`, subject.kind);
      if (!req.isMultipart()) throw new ApiError('BAD_REQUEST', 'body: send the photo as multipart/form-data, field "file"', 'file');
      const part = await req.file().catch(() => undefined);
      if (!part) throw new ApiError('BAD_REQUEST', 'body file: no file sent', 'file');
      const tooLarge = () => new ApiError('PAYLOAD_TOO_LARGE', `body file: a photo may have at most ${PHOTO_MAX_BYTES / 1024 / 1024} MiB`, 'file');
      let data: Buffer;
      try {
        data = await part.toBuffer();
      } catch {
        // the stream stops at the size limit: what was read is dropped
        throw tooLarge();
      }
      // the limit's error can lose the race with the end of the stream: a cut file is never kept
      if (part.file.truncated || data.length > PHOTO_MAX_BYTES) throw tooLarge();
      const photo = await ctx.photos.add(data, { enterpriseId, subject, by: req.caller.name, at: ctx.clock() }).catch((e: unknown) => {
        if (e instanceof NotAnImage) throw new ApiError('BAD_REQUEST', `body file: ${e.message}`, 'file');
        throw e;
      });
      ctx.audit.append(req.caller.name, 'photo.added', photo.id, { enterpriseId, subject, mime: photo.mime, bytes: photo.bytes });
      return reply.status(201).send({ id: photo.id, url: photoUrl(photo), mime: photo.mime, bytes: photo.bytes });
    });

    app.get('/photos/:id', async (req, reply) => {
      const { id } = parseInput(idParams, req.params, 'params');
      const photo = await ctx.photos.get(id);
      if (!photo) throw new ApiError('NOT_FOUND', `no photo ${id}`);
      if (!req.caller.sees(photo.enterpriseId)) throw new ApiError('FORBIDDEN', `photo ${id} is outside your scope`);
      return reply.header('content-type', photo.mime).header('cache-control', 'private, max-age=86400').send(await ctx.photos.read(photo));
    });
  };

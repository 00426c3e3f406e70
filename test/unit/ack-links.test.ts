import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AckLinkStore } from '../../services/notify/ack-link-store.ts';
import { AckLinks } from '../../services/notify/ack-links.ts';
import { Database } from '../../services/store/database.ts';
import { tempDir } from '../support/app.ts';

/**
 * An acknowledge link goes out beside the write of its row: a tap that comes before the row is
 * in waits for it, and one whose row could not be written is refused.
 */
describe('acknowledge links', () => {
  let db: Database;
  let store: AckLinkStore;
  const now = Date.UTC(2026, 11, 6, 2);
  const to = { unitId: 'ent-chem', channel: 'sms:0', recipient: '138****0000' };

  beforeEach(async () => {
    db = await Database.open(await tempDir());
    store = await AckLinkStore.create(await db.sql());
  });
  afterEach(() => db.close());

  /** links over a store whose writes wait for `release` (or fail with `fail`) */
  const links = (o: { held?: Promise<void>; fail?: string } = {}) => {
    const add = store.add.bind(store);
    const held: Pick<AckLinkStore, 'add' | 'get' | 'markUsed'> = {
      add: async (r) => {
        await o.held;
        if (o.fail) throw new Error(o.fail);
        return add(r);
      },
      get: (id) => store.get(id),
      markUsed: (id, at) => store.markUsed(id, at),
    };
    return new AckLinks({ store: held, secret: Buffer.alloc(32, 7), publicUrl: 'https://x.example', ttlMs: 3_600_000, clock: () => now });
  };
  const tokenOf = (link: string) => link.slice(link.lastIndexOf('/') + 1);

  it('gives the link at once and answers a tap that comes before its row is written once it is', async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const l = links({ held });
    const { link, stored } = l.issue('n1', to, ['a1']);
    expect(link).toMatch(/^https:\/\/x\.example\/ack\/[A-Za-z0-9_-]{28}$/);
    let answered = false;
    const seen = l.look(tokenOf(link)).then((s) => ((answered = true), s));
    await new Promise((r) => setImmediate(r));
    expect(answered).toBe(false);
    release();
    await stored;
    expect(await seen).toMatchObject({ outcome: 'ok', link: { alertIds: ['a1'], unitId: 'ent-chem' } });
  });

  it('issues the same link for a resend, and refuses a tap on one whose row could not be written', async () => {
    const failing = links({ fail: 'IO Error: No space left on device' });
    const first = failing.issue('n1', to, ['a1']);
    await expect(first.stored).rejects.toThrow('No space left');
    expect(await failing.look(tokenOf(first.link))).toEqual({ outcome: 'invalid' });
    const again = links().issue('n1', to, ['a1']);
    expect(again.link).toBe(first.link);
    await again.stored;
    expect(await links().look(tokenOf(first.link))).toMatchObject({ outcome: 'ok' });
  });
});

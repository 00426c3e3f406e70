import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Alert } from '../alerts/model.ts';
import type { AckLinkRow, AckLinkStore } from './ack-link-store.ts';

/**
 * One-tap acknowledgement from a phone at night: a notification carries a link that acknowledges
 * its alerts without a login, once, until it expires, recorded with the person it was sent to.
 *
 * The token is short enough for an SMS (28 characters): 12 bytes of id and 9 of signature. The id
 * is derived from the notification and recipient, so a resend of the same notification carries
 * the same link; the signature lets a forged or mistyped token be refused without a lookup.
 */
const ID_BYTES = 12;
const SIG_BYTES = 9;

export function linkId(secret: Buffer, notificationId: string, recipientKey: string): Buffer {
  return createHmac('sha256', secret).update(`ack-link-id\n${notificationId}\n${recipientKey}`).digest().subarray(0, ID_BYTES);
}

export function tokenOf(secret: Buffer, id: Buffer): string {
  const sig = createHmac('sha256', secret).update('ack-link-sig\n').update(id).digest().subarray(0, SIG_BYTES);
  return Buffer.concat([id, sig]).toString('base64url');
}

/** The link's id when the token is one this service signed, else null. */
export function verifyToken(secret: Buffer, token: string): string | null {
  if (typeof token !== 'string' || token.length !== 28 || !/^[A-Za-z0-9_-]+$/.test(token)) return null;
  const raw = Buffer.from(token, 'base64url');
  if (raw.length !== ID_BYTES + SIG_BYTES) return null;
  const id = raw.subarray(0, ID_BYTES);
  const expected = Buffer.from(tokenOf(secret, id), 'base64url').subarray(ID_BYTES);
  return timingSafeEqual(expected, raw.subarray(ID_BYTES)) ? id.toString('base64url') : null;
}

/** Which of a notification's alerts a link may acknowledge: open and not yet acknowledged. */
export const ackable = (a: Pick<Alert, 'state' | 'acknowledged'>) => a.state !== 'closed' && !a.acknowledged;

/** A phone number as a record may show it: 138****0000. */
export function maskPhone(n: string): string {
  const d = n.replace(/^\+86/, '');
  return d.length >= 7 ? `${d.slice(0, 3)}****${d.slice(-4)}` : '****';
}

export type LinkUse =
  | { outcome: 'invalid' }
  | { outcome: 'expired'; link: AckLinkRow }
  | { outcome: 'used'; link: AckLinkRow }
  | { outcome: 'ok'; link: AckLinkRow };

export interface AckLinkDeps {
  store: Pick<AckLinkStore, 'add' | 'get' | 'markUsed'>;
  secret: Buffer;
  publicUrl: string;
  ttlMs: number;
  clock(): number;
}

export class AckLinks {
  constructor(private readonly deps: AckLinkDeps) {}

  /** link id → its row being written (a tap that comes first waits for it) */
  private readonly writing = new Map<string, Promise<void>>();

  /**
   * The link for one recipient of one notification (the same on every attempt to send it), known
   * at once; `stored` settles once its row is written. The message goes out beside the write, not
   * after it: a tap before the row is in waits for it (`look`), and a write that fails fails the
   * delivery, which is tried again with the same link.
   */
  issue(notificationId: string, to: { unitId: string; channel: string; recipient: string }, alertIds: string[]): { link: string; stored: Promise<void> } {
    const id = linkId(this.deps.secret, notificationId, `${to.unitId}\n${to.channel}`);
    const key = id.toString('base64url');
    const now = this.deps.clock();
    const stored = this.deps.store.add({ id: key, alertIds, unitId: to.unitId, recipient: to.recipient, channel: to.channel, createdAt: now, expiresAt: now + this.deps.ttlMs });
    this.writing.set(key, stored);
    const done = () => void (this.writing.get(key) === stored && this.writing.delete(key));
    stored.then(done, done);
    return { link: `${this.deps.publicUrl}/ack/${tokenOf(this.deps.secret, id)}`, stored };
  }

  /** What a token is, without using it (the page a phone opens first: link previews must not acknowledge). */
  async look(token: string): Promise<LinkUse> {
    const id = verifyToken(this.deps.secret, token);
    if (id !== null) await this.writing.get(id)?.catch(() => {});
    const link = id === null ? undefined : await this.deps.store.get(id);
    if (!link) return { outcome: 'invalid' };
    if (link.usedAt !== null) return { outcome: 'used', link };
    if (this.deps.clock() >= link.expiresAt) return { outcome: 'expired', link };
    return { outcome: 'ok', link };
  }

  /** Uses a link `look` found usable: `ok` once, `used` ever after (two taps at once: one wins). */
  async use(seen: Extract<LinkUse, { outcome: 'ok' }>): Promise<LinkUse> {
    const now = this.deps.clock();
    if (!(await this.deps.store.markUsed(seen.link.id, now))) return { outcome: 'used', link: (await this.deps.store.get(seen.link.id)) ?? seen.link };
    return { outcome: 'ok', link: { ...seen.link, usedAt: now } };
  }
}

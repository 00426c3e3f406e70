import { Repeats } from './repeats.ts';

/**
 * Brute-force protection: too many failed logins from one address, or for one device id from one
 * address, within a window ban that address, or that id from that address, for a while. A device
 * id is never banned everywhere: anyone can send wrong secrets for a device id, and a ban of the
 * id itself would lock the genuine device out (an alarm silenced by whoever knows the id).
 *
 * An address ban does not lock out those who have logged in from that address before (`trusted`):
 * the sensors behind a plant's NAT, the duty board behind a centre's, which whoever else is behind
 * it could otherwise keep offline by failing ten logins every five minutes. A name trusted there
 * still has its own ban after its own failures, so guessing its secret stays as slow as ever.
 * Plain state and the clock passed in.
 */
export interface LoginGuardConfig {
  windowS: number;
  maxFailuresPerAddress: number;
  maxFailuresPerUsername: number;
  banS: number;
}

export const TRUST_MS = 7 * 86_400_000;
export const MAX_TRUSTED = 200_000;

export const DEFAULT_LOGIN_GUARD: LoginGuardConfig = { windowS: 60, maxFailuresPerAddress: 10, maxFailuresPerUsername: 5, banS: 300 };

export class LoginGuard {
  private readonly failures = new Map<string, number[]>();
  private readonly bans = new Map<string, number>();
  /** username@address → when it last logged in there */
  private readonly trusted = new Map<string, number>();

  constructor(private readonly cfg: LoginGuardConfig = DEFAULT_LOGIN_GUARD) {}

  /** When the ban on this address or username ends, or null if there is none. */
  bannedUntil(key: string, now: number): number | null {
    const until = this.bans.get(key);
    if (until === undefined) return null;
    if (until > now) return until;
    this.bans.delete(key);
    return null;
  }

  /** A failed login; returns the keys that are banned because of it. */
  fail(address: string | undefined, username: string | undefined, now: number): string[] {
    const banned: string[] = [];
    const note = (key: string, max: number) => {
      const recent = (this.failures.get(key) ?? []).filter((t) => now - t < this.cfg.windowS * 1000);
      recent.push(now);
      this.failures.set(key, recent);
      if (recent.length >= max && !this.bannedUntil(key, now)) {
        this.bans.set(key, now + this.cfg.banS * 1000);
        this.failures.delete(key);
        banned.push(key);
      }
    };
    if (address) note(addressKey(address), this.cfg.maxFailuresPerAddress);
    if (username) note(userKey(username, address), this.cfg.maxFailuresPerUsername);
    // old entries go, so the map stays bounded by recent attackers
    if (this.failures.size > 100_000) for (const [k, v] of this.failures) if (now - v[v.length - 1] >= this.cfg.windowS * 1000) this.failures.delete(k);
    return banned;
  }

  /** Logins before a restart (from the audit trail): trusted at their address as if just seen, at the time they were. */
  remember(logins: { username: string; address: string; at: number }[], now: number) {
    // oldest first, so that the newest are the last to go should there be more than the bound
    for (const l of [...logins].sort((a, b) => a.at - b.at)) if (now - l.at < TRUST_MS) this.trusted.set(userKey(l.username, l.address), l.at);
    this.trimTrusted();
  }

  /** the oldest go first past the bound (entries are in the order they were last set) */
  private trimTrusted() {
    if (this.trusted.size > MAX_TRUSTED) for (const k of this.trusted.keys()) if (this.trusted.size > MAX_TRUSTED) this.trusted.delete(k);
  }

  succeed(username: string, address: string | undefined, now: number) {
    const key = userKey(username, address);
    this.failures.delete(key);
    // re-inserted, so the oldest are first to go when the map is full
    this.trusted.delete(key);
    this.trusted.set(key, now);
    this.trimTrusted();
  }

  /** Did this name log in from this address within the last week? */
  trusts(username: string, address: string | undefined, now: number): boolean {
    const last = this.trusted.get(userKey(username, address));
    return last !== undefined && now - last < TRUST_MS;
  }

  /**
   * May this name log in from this address now? Not while the name is banned there; not while
   * the address is, unless the name logged in from it within the last week.
   */
  admits(username: string | undefined, address: string | undefined, now: number): { ok: true } | { ok: false; until: number; reason: 'banned' | 'address_banned' } {
    const key = userKey(username ?? '', address);
    const own = username ? this.bannedUntil(key, now) : null;
    if (own) return { ok: false, until: own, reason: 'banned' };
    const addressBan = address ? this.bannedUntil(addressKey(address), now) : null;
    if (!addressBan) return { ok: true };
    const last = username ? this.trusted.get(key) : undefined;
    if (last !== undefined && now - last < TRUST_MS) return { ok: true };
    return { ok: false, until: addressBan, reason: 'address_banned' };
  }

  /** per banned key: refusals said once a minute */
  private readonly refusals = new Repeats();

  /**
   * A login refused by a ban in force. The ban itself is in the audit trail; the attempts it
   * turns away are said at most once a minute per key, with how many there were: a banned
   * address that keeps connecting (230 a second in a probe) must not grow the record and the log
   * a line an attempt, nor hold the alarm path behind their writes. Returns how many refusals
   * to say now (this one included), or 0 to stay quiet.
   */
  refusedByBan(reason: 'banned' | 'address_banned', username: string | undefined, address: string | undefined, now: number): number {
    return this.refusals.happened(reason === 'banned' ? userKey(username ?? '', address) : addressKey(address ?? ''), now);
  }
}

/** The key of an address's failures and ban. */
const addressKey = (address: string) => `address:${address}`;

/** The key of a username's failures and ban: per address the attempts come from. */
export function userKey(username: string, address: string | undefined): string {
  return `user:${username}@${address ?? ''}`;
}

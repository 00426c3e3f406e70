import { createHmac, randomBytes, scrypt as scryptCb, timingSafeEqual, type BinaryLike, type ScryptOptions } from 'node:crypto';
import { promisify } from 'node:util';
import PQueue from 'p-queue';

const scrypt = promisify(scryptCb) as (pw: BinaryLike, salt: BinaryLike, len: number, opts: ScryptOptions) => Promise<Buffer>;

/**
 * Device secrets. The registry holds either a scrypt hash (production) or a plain demo secret;
 * in memory every secret is kept only as a keyed hash, and every comparison is constant-time.
 */
const N = 16384, r = 8, p = 1, KEYLEN = 32;

/** `scrypt$N$r$p$<salt b64>$<hash b64>`: what `npm run secret` prints for the registry. */
export async function hashSecret(secret: string): Promise<string> {
  const salt = randomBytes(16);
  const hash = await scrypt(secret, salt, KEYLEN, { N, r, p });
  return `scrypt$${N}$${r}$${p}$${salt.toString('base64')}$${hash.toString('base64')}`;
}

/**
 * The cost a stored hash may ask of one login check, at most: `npm run secret` makes N 2^14, r 8,
 * p 1 (16 MB, ~50 ms). A hash past these would let whoever knows the device id make each wrong
 * login cost gigabytes or minutes (N 2^21 took 2.3 GB and 6 s; p 4096 held a lane for minutes).
 */
const COST = { minN: 2 ** 10, maxN: 2 ** 17, maxR: 16, maxP: 4, maxMemory: 256 * 2 ** 20, maxWork: 2 ** 20 };

function parseScrypt(stored: string): { n: number; r: number; p: number; salt: Buffer; hash: Buffer } | string {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return 'is not scrypt$N$r$p$salt$hash';
  const [n, r, p] = parts.slice(1, 4).map(Number);
  if (!Number.isInteger(n) || n < COST.minN || n > COST.maxN || (n & (n - 1)) !== 0) return `N must be a power of two from ${COST.minN} to ${COST.maxN}`;
  if (!Number.isInteger(r) || r < 1 || r > COST.maxR) return `r must be 1 to ${COST.maxR}`;
  if (!Number.isInteger(p) || p < 1 || p > COST.maxP) return `p must be 1 to ${COST.maxP}`;
  if (128 * n * r > COST.maxMemory || n * r * p > COST.maxWork) return 'asks too much memory or work of each login';
  const salt = Buffer.from(parts[4], 'base64');
  const hash = Buffer.from(parts[5], 'base64');
  if (salt.length < 8 || salt.length > 64) return 'the salt must be 8 to 64 bytes';
  if (hash.length < 16 || hash.length > 64) return 'the hash must be 16 to 64 bytes';
  return { n, r, p, salt, hash };
}

/** Why a stored hash cannot be used (for the registry's own check), or undefined when it can. */
export function scryptHashProblem(stored: string): string | undefined {
  const parsed = parseScrypt(stored);
  return typeof parsed === 'string' ? parsed : undefined;
}

export async function verifyScrypt(secret: string, stored: string): Promise<boolean> {
  const parsed = parseScrypt(stored);
  if (typeof parsed === 'string') return false;
  const { n, r, p, salt, hash } = parsed;
  const got = await scrypt(secret, salt, hash.length, { N: n, r, p, maxmem: 256 * n * r + 1024 * 1024 });
  return timingSafeEqual(got, hash);
}

/** More logins wait for their secret to be checked than the gateway holds: answered "server unavailable", tried again later. */
export class LoginsWaiting extends Error {}

/**
 * Checks device passwords. A verified scrypt secret is remembered as a keyed hash, so that a
 * fleet reconnecting after a network outage does not cost one scrypt per device each time. What
 * is remembered is tied to the credential it was checked against: when the registry rotates a
 * device's secret (or hash), the old secret stops working at once.
 *
 * The scrypt checks take turns in a lane (half the thread pool and one less than the cores wide:
 * services/thread-pool.ts): a fleet logging in
 * after a restart (each secret hashed once), or someone trying secrets under many names, must not
 * fill the pool, or every store write waits behind the hashing and acknowledged alarms with it
 * (40 logins held a DuckDB query 750 ms on a 4-thread pool). At most `maxWaiting` logins wait for
 * their turn; past that a login is refused as the server being busy, not as a wrong secret.
 * A `trusted` login (the device logged in from the same address this past week: the login
 * guard's trust) goes ahead of the others and is never refused for the queue: logins from many
 * addresses at once must not keep a plant's own devices out after a restart.
 */
export class SecretVerifier {
  private readonly key = randomBytes(32);
  /** deviceId → the credential (plain secret's keyed hash, or scrypt hash) and a secret it accepts */
  private readonly known = new Map<string, { credential: string; mac: Buffer }>();
  private readonly lane: PQueue;
  private readonly maxWaiting: number;

  /** `lanes`: scrypt checks at once (the composition root gives half the thread pool: services/thread-pool.ts) */
  constructor(o: { lanes?: number; maxWaiting?: number } = {}) {
    this.lane = new PQueue({ concurrency: o.lanes ?? 2 });
    this.maxWaiting = o.maxWaiting ?? 1000;
  }

  /** scrypt checks running now, and logins waiting for their turn (for /metrics) */
  hashing(): { running: number; waiting: number } {
    return { running: this.lane.pending, waiting: this.lane.size };
  }

  private mac(secret: string | Buffer): Buffer {
    return createHmac('sha256', this.key).update(secret).digest();
  }

  /** A plain secret from the registry: keep only its keyed hash. */
  remember(deviceId: string, secret: string) {
    const mac = this.mac(secret);
    this.known.set(deviceId, { credential: `plain$${mac.toString('base64')}`, mac });
  }

  /**
   * What identifies the device's current credential without revealing it: sessions opened with
   * another credential are closed when the registry changes it.
   */
  credentialOf(deviceId: string, secretHash: string | undefined): string | undefined {
    return secretHash ?? this.known.get(deviceId)?.credential;
  }

  /**
   * true or false; `undefined` when the asker left (`wanted` false) before its turn came, so
   * nothing was hashed. Rejects with `LoginsWaiting` when the lane's queue is full (never for
   * a `trusted` login: one this device made from this address before).
   */
  async verify(deviceId: string, password: Buffer | undefined, secretHash: string | undefined, wanted: () => boolean = () => true, trusted = false): Promise<boolean | undefined> {
    if (!password) return false;
    const given = this.mac(password);
    const known = this.known.get(deviceId);
    if (known && (secretHash === undefined ? known.credential.startsWith('plain$') : known.credential === secretHash)) return timingSafeEqual(known.mac, given);
    if (!secretHash) return false;
    if (!trusted && this.lane.sizeBy({ priority: 0 }) >= this.maxWaiting) throw new LoginsWaiting(`${this.maxWaiting} logins already wait for their secret to be checked`);
    const ok = await this.lane.add(async () => (wanted() ? verifyScrypt(password.toString('utf8'), secretHash) : undefined), { priority: trusted ? 1 : 0 });
    // remembered against the hash it was checked with: were it rotated meanwhile, the gateway
    // refuses this login and the next one is checked afresh
    if (ok) this.known.set(deviceId, { credential: secretHash, mac: given });
    return ok;
  }

  /** Keep only the devices that still exist with a plain secret or a hash. */
  retain(current: (deviceId: string) => boolean) {
    for (const id of [...this.known.keys()]) if (!current(id)) this.known.delete(id);
  }
}

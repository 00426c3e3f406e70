import { createHmac, randomBytes, scrypt as scryptCb, timingSafeEqual, type BinaryLike, type ScryptOptions } from 'node:crypto';
import { promisify } from 'node:util';

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

export async function verifyScrypt(secret: string, stored: string): Promise<boolean> {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [n, rr, pp] = parts.slice(1, 4).map(Number);
  const salt = Buffer.from(parts[4], 'base64');
  const want = Buffer.from(parts[5], 'base64');
  if (!n || !rr || !pp || want.length === 0) return false;
  const got = await scrypt(secret, salt, want.length, { N: n, r: rr, p: pp, maxmem: 256 * n * rr + 1024 * 1024 });
  return timingSafeEqual(got, want);
}

/**
 * Checks device passwords. A verified scrypt secret is remembered as a keyed hash, so that a
 * fleet reconnecting after a network outage does not cost one scrypt per device each time. What
 * is remembered is tied to the credential it was checked against: when the registry rotates a
 * device's secret (or hash), the old secret stops working at once.
 */
export class SecretVerifier {
  private readonly key = randomBytes(32);
  /** deviceId → the credential (plain secret's keyed hash, or scrypt hash) and a secret it accepts */
  private readonly known = new Map<string, { credential: string; mac: Buffer }>();

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

  async verify(deviceId: string, password: Buffer | undefined, secretHash: string | undefined): Promise<boolean> {
    if (!password) return false;
    const given = this.mac(password);
    const known = this.known.get(deviceId);
    if (known && (secretHash === undefined ? known.credential.startsWith('plain$') : known.credential === secretHash)) return timingSafeEqual(known.mac, given);
    if (!secretHash) return false;
    const ok = await verifyScrypt(password.toString('utf8'), secretHash);
    if (ok) this.known.set(deviceId, { credential: secretHash, mac: given });
    return ok;
  }

  /** Keep only the devices that still exist with a plain secret or a hash. */
  retain(current: (deviceId: string) => boolean) {
    for (const id of [...this.known.keys()]) if (!current(id)) this.known.delete(id);
  }
}

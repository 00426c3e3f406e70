import { createCipheriv } from 'node:crypto';

/** A key or IV from the registry: that many characters as they are, or twice as many hex digits. */
export function keyBytes(text: string, bytes: number): Buffer {
  return Buffer.byteLength(text) === bytes ? Buffer.from(text) : Buffer.from(text, 'hex');
}

/** SM4-CBC with PKCS#7 padding (GB/T 32907), as Node's OpenSSL provides it. */
export function sm4Cbc(plain: string, key: Buffer, iv: Buffer): Buffer {
  const c = createCipheriv('sm4-cbc', key, iv);
  return Buffer.concat([c.update(plain, 'utf8'), c.final()]);
}

/**
 * Single DES-CBC with PKCS#7 padding. OpenSSL 3 keeps `des-cbc` in its legacy provider, which
 * Node does not load; two-key triple DES with both keys equal (K, K, K) is single DES by
 * construction (encrypt, decrypt and encrypt again with one key), and `des-ede-cbc` is in the
 * default provider. No extra dependency, no process-wide legacy switch.
 */
export function desCbc(plain: string, key: Buffer, iv: Buffer): Buffer {
  const c = createCipheriv('des-ede-cbc', Buffer.concat([key, key]), iv);
  return Buffer.concat([c.update(plain, 'utf8'), c.final()]);
}

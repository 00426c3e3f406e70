import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * The key that signs acknowledge links: ACK_LINK_SECRET, or one made at the first start and kept
 * in DATA_DIR (readable by the service's user only), so links stay valid across restarts.
 */
export async function ackLinkSecret(settings: { ACK_LINK_SECRET?: string; DATA_DIR: string }): Promise<Buffer> {
  if (settings.ACK_LINK_SECRET) return Buffer.from(settings.ACK_LINK_SECRET, 'utf8');
  const file = join(settings.DATA_DIR, 'ack-link.key');
  const kept = await readFile(file).catch(() => null);
  if (kept && kept.length >= 32) return kept;
  const made = randomBytes(32);
  await writeFile(file, made, { mode: 0o600, flag: 'w' });
  return made;
}

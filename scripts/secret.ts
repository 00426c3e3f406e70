import { randomBytes } from 'node:crypto';
import { hashSecret } from '../gateway/credentials.ts';
import { tokenDigest } from '../services/api/callers.ts';

/**
 * `npm run secret [-- --token] [value]`: a new device secret (or API token) and the hash to put
 * in the registry. Without a value, a random one is made.
 */
const args = process.argv.slice(2);
const token = args.includes('--token');
const value = args.find((a) => !a.startsWith('--')) ?? randomBytes(18).toString('base64url');
if (token) {
  console.log(`token:     ${value}\ntokenHash: sha256$${tokenDigest(value)}`);
} else {
  console.log(`secret:     ${value}\nsecretHash: ${await hashSecret(value)}`);
}
console.log('Give the first line to its owner once; put only the hash in the registry.');

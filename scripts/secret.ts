import { randomBytes } from 'node:crypto';
import { hashSecret } from '../gateway/credentials.ts';
import { tokenDigest } from '../services/api/callers.ts';

/**
 * `npm run secret [-- --token] [value]`: a new device secret (or API token) and the hash to put
 * in the registry. Without a value, a random one is made.
 */
const args = process.argv.slice(2);
const unknown = args.filter((a) => a.startsWith('-') && a !== '--token');
if (unknown.length) {
  // --help (or a mistyped option) must not pass for a value, nor print a secret nobody asked for
  console.log(`npm run secret [-- --token] [value]
  a new device secret and its secretHash for the registry (scrypt), or with --token an API token
  and its tokenHash (sha256); without a value, a random one is made${unknown.some((a) => a !== '--help' && a !== '-h') ? `\n\nunknown option: ${unknown.join(' ')}` : ''}`);
  process.exit(unknown.every((a) => a === '--help' || a === '-h') ? 0 : 2);
}
const token = args.includes('--token');
const value = args.find((a) => !a.startsWith('--')) ?? randomBytes(18).toString('base64url');
if (token) {
  console.log(`token:     ${value}\ntokenHash: sha256$${tokenDigest(value)}`);
} else {
  console.log(`secret:     ${value}\nsecretHash: ${await hashSecret(value)}`);
}
console.log('Give the first line to its owner once; put only the hash in the registry.');

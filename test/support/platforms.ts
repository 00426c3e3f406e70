import CryptoJS from 'crypto-js';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sm4 } from 'sm-crypto';

/**
 * Local HTTP servers that play upstream platforms. They decrypt with pure-JS implementations
 * (crypto-js for DES, sm-crypto for SM4), independent of Node's OpenSSL that the product uses.
 *   up      answer success
 *   down    drop the connection without an answer (the platform is unreachable)
 *   refuse  answer with an error code
 */
export type PlatformMode = 'up' | 'down' | 'refuse';

export interface Received {
  path: string;
  headers: IncomingMessage['headers'];
  body: Record<string, unknown>;
  /** the decrypted payload, or the error decrypting it */
  plain: unknown;
}

async function startPlatform(decrypt: (body: Record<string, unknown>, req: IncomingMessage) => unknown, success: object, refusal: object) {
  const received: Received[] = [];
  const state = { mode: 'up' as PlatformMode, attempts: 0 };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      state.attempts++;
      if (state.mode === 'down') return void req.socket.destroy();
      res.setHeader('content-type', 'application/json');
      if (state.mode === 'refuse') return void res.end(JSON.stringify(refusal));
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
      let plain: unknown;
      try {
        plain = decrypt(body, req);
      } catch (e) {
        // a platform that cannot read the data says so, and it is not success
        return void res.end(JSON.stringify({ ...refusal, msg: `cannot decrypt: ${(e as Error).message}` }));
      }
      received.push({ path: req.url ?? '', headers: req.headers, body, plain });
      res.end(JSON.stringify(success));
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    received,
    state,
    set mode(m: PlatformMode) {
      state.mode = m;
    },
    close: () => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))),
  };
}

export type Platform = Awaited<ReturnType<typeof startPlatform>>;

/** The provincial dust interface: `{ qybm, wgbm, data }`, data = upper-hex(Base64(DES-CBC(JSON))). */
export function startDesPlatform(key: string, iv = key) {
  return startPlatform(
    (body) => {
      const base64 = Buffer.from(String(body.data), 'hex').toString('utf8');
      if (String(body.data) !== String(body.data).toUpperCase()) throw new Error('data is not upper-case hex');
      const text = CryptoJS.DES.decrypt(CryptoJS.lib.CipherParams.create({ ciphertext: CryptoJS.enc.Base64.parse(base64) }), CryptoJS.enc.Utf8.parse(key), {
        iv: CryptoJS.enc.Utf8.parse(iv),
        mode: CryptoJS.mode.CBC,
        padding: CryptoJS.pad.Pkcs7,
      }).toString(CryptoJS.enc.Utf8);
      return JSON.parse(text);
    },
    { code: 200, msg: 'success' },
    { code: 500, msg: 'error' },
  );
}

/** The national dust platform: `{ appid, data }`, data = Base64(SM4-CBC(JSON)), the app secret in a header. */
export function startSm4Platform(o: { keyHex: string; ivHex: string; appId: string; appSecret: string; header: string }) {
  return startPlatform(
    (body, req) => {
      if (req.headers[o.header.toLowerCase()] !== o.appSecret) throw new Error('wrong app secret');
      if (body.appid !== o.appId) throw new Error('unknown appid');
      const hex = Buffer.from(String(body.data), 'base64').toString('hex');
      return JSON.parse(sm4.decrypt(hex, o.keyHex, { mode: 'cbc', iv: o.ivHex }) as string);
    },
    { code: 0, msg: 'ok' },
    { code: 1001, msg: 'refused' },
  );
}

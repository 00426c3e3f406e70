import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';

/**
 * Local HTTP servers playing Alibaba Cloud, Tencent Cloud and a generic SMS/voice gateway. Each
 * request's signature is checked by an independent implementation (test/support/verify-signature.py,
 * Python's standard library, written from the providers' documentation), and answered in the
 * provider's own format: success, or the provider's flow-control refusal when told to.
 */
export interface ProviderRequest {
  provider: 'aliyun' | 'tencent' | 'gateway';
  /** SendSms, SingleCallByTts, SendTtsVoice; for the gateway: sms or voice */
  action: string;
  to: string;
  /** template variables (aliyun: by name; tencent: in order) or the gateway's text */
  params: unknown;
  text?: string;
  verified: string;
}

class Verifier {
  private readonly proc = spawn('python3', [fileURLToPath(new URL('./verify-signature.py', import.meta.url))], { stdio: ['pipe', 'pipe', 'inherit'] });
  private readonly lines = createInterface({ input: this.proc.stdout! });
  private readonly waiting: ((l: string) => void)[] = [];
  private queue = Promise.resolve();

  constructor() {
    this.lines.on('line', (l) => this.waiting.shift()?.(l));
  }

  check(req: object): Promise<string> {
    const p = this.queue.then(
      () =>
        new Promise<string>((resolve) => {
          this.waiting.push(resolve);
          this.proc.stdin!.write(JSON.stringify(req) + '\n');
        }),
    );
    this.queue = p.then(() => undefined);
    return p;
  }

  close() {
    this.proc.kill();
  }
}

const bodyOf = async (req: IncomingMessage) => {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
};

export const SECRETS = { aliyun: { keyId: 'LTAI-test-id', secret: 'aliyun-test-secret' }, tencent: { keyId: 'AKID-test-id', secret: 'tencent-test-secret' }, gateway: { secret: 'gateway-test-secret-0123456789' } };

export async function startPhoneProviders() {
  const verifier = new Verifier();
  const requests: ProviderRequest[] = [];
  /** numbers the providers refuse with their flow-control answer */
  const throttled = new Set<string>();
  const servers = {
    aliyun: createServer(async (req, res) => {
      const body = await bodyOf(req);
      const p = Object.fromEntries(new URLSearchParams(body));
      const verified = await verifier.check({ kind: 'aliyun', method: req.method, body, ...SECRETS.aliyun });
      const to = p.PhoneNumbers ?? p.CalledNumber;
      requests.push({ provider: 'aliyun', action: p.Action, to, params: JSON.parse(p.TemplateParam ?? p.TtsParam ?? '{}'), verified });
      const answer =
        verified !== 'ok'
          ? { Code: 'SignatureDoesNotMatch', Message: 'Specified signature is not matched with our calculation.', RequestId: 'r' }
          : throttled.has(to)
            ? { Code: 'isv.BUSINESS_LIMIT_CONTROL', Message: '触发分钟级流控Permits:1', RequestId: 'r' }
            : { Code: 'OK', Message: 'OK', BizId: '900619746936498440^0', RequestId: 'r' };
      res.writeHead(verified === 'ok' ? 200 : 400, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
    }),
    tencent: createServer(async (req, res) => {
      const body = await bodyOf(req);
      const action = String(req.headers['x-tc-action']);
      const service = action === 'SendSms' ? 'sms' : 'vms';
      const verified = await verifier.check({ kind: 'tencent', body, headers: req.headers, service, ...SECRETS.tencent });
      const p = JSON.parse(body);
      const to = p.PhoneNumberSet?.[0] ?? p.CalledNumber;
      requests.push({ provider: 'tencent', action, to, params: p.TemplateParamSet, verified });
      const response =
        verified !== 'ok'
          ? { Error: { Code: 'AuthFailure.SignatureFailure', Message: 'The provided credentials could not be validated.' }, RequestId: 'r' }
          : action === 'SendSms'
            ? { SendStatusSet: [{ SerialNo: '5000:1', PhoneNumber: to, Fee: 1, SessionContext: p.SessionContext, Code: throttled.has(to) ? 'LimitExceeded.PhoneNumberThirtySecondLimit' : 'Ok', Message: 'send success', IsoCode: 'CN' }], RequestId: 'r' }
            : { SendStatus: { CallId: 'c1', SessionContext: p.SessionContext }, RequestId: 'r' };
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ Response: response }));
    }),
    gateway: createServer(async (req, res) => {
      const body = await bodyOf(req);
      const verified = await verifier.check({ kind: 'gateway', body, headers: req.headers, ...SECRETS.gateway });
      const p = JSON.parse(body);
      requests.push({ provider: 'gateway', action: p.kind, to: p.to, params: p.params, text: p.text, verified });
      res.writeHead(verified === 'ok' ? 202 : 401, { 'content-type': 'application/json' }).end(JSON.stringify({ accepted: verified === 'ok' }));
    }),
  };
  const urls: Record<keyof typeof servers, string> = { aliyun: '', tencent: '', gateway: '' };
  for (const [name, s] of Object.entries(servers)) {
    s.listen(0, '127.0.0.1');
    await once(s, 'listening');
    urls[name as keyof typeof servers] = `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
  }
  return {
    urls,
    requests,
    throttled,
    async close() {
      verifier.close();
      await Promise.all(Object.values(servers).map((s) => new Promise((r) => s.close(r))));
    },
  };
}

import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';

/** A real SMTP server that keeps every message it is given. */
export interface CapturedMail {
  from: string;
  to: string[];
  subject: string;
  text: string;
  messageId: string;
}

/** A port nothing listens on (yet): a receiver that is down. */
export { freePort } from '../../scripts/free-port.ts';

export async function startSmtp(port = 0): Promise<{ port: number; mails: CapturedMail[]; close(): Promise<void> }> {
  const mails: CapturedMail[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        simpleParser(Buffer.concat(chunks)).then(
          (parsed) => {
            mails.push({
              from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
              to: session.envelope.rcptTo.map((r) => r.address),
              subject: parsed.subject ?? '',
              text: parsed.text ?? '',
              messageId: parsed.messageId ?? '',
            });
            cb();
          },
          (err: Error) => cb(err),
        );
      });
    },
  });
  server.listen(port, '127.0.0.1');
  await once(server.server, 'listening');
  const bound = (server.server.address() as AddressInfo).port;
  return { port: bound, mails, close: () => new Promise((r) => server.close(() => r())) };
}

/** A real HTTP server standing in for a webhook receiver or a robot. */
export interface CapturedRequest {
  url: string;
  headers: IncomingMessage['headers'];
  body: unknown;
  /** the body's size as sent, in bytes */
  bytes: number;
}

export type Answer = (req: CapturedRequest) => { status: number; body: unknown } | Promise<{ status: number; body: unknown }>;

/** `answer` can be swapped while running (a receiver that fails, then recovers). */
export async function startReceiver(answer: Answer = () => ({ status: 200, body: { ok: true } })) {
  const state = { answer };
  const requests: CapturedRequest[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const text = raw.toString('utf8');
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {
        /* keep the text */
      }
      const captured = { url: req.url ?? '', headers: req.headers, body, bytes: raw.length };
      requests.push(captured);
      void Promise.resolve(state.answer(captured)).then((a) => res.writeHead(a.status, { 'content-type': 'application/json' }).end(JSON.stringify(a.body)));
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  return { url: `http://127.0.0.1:${port}`, requests, answer: (a: Answer) => (state.answer = a), close: () => new Promise<void>((r) => server.close(() => r())) };
}

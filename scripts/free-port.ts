import { createServer, type AddressInfo } from 'node:net';

/** A loopback port nothing listens on now (for test servers, influxd, the bench's brokers). */
export async function freePort(): Promise<number> {
  const srv = createServer().listen(0, '127.0.0.1');
  await new Promise((r) => srv.once('listening', r));
  const { port } = srv.address() as AddressInfo;
  await new Promise((r) => srv.close(r));
  return port;
}

import { spawn } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { listensOn } from '../../scripts/listener.ts';
import { waitFor } from '../../scripts/wait.ts';

/** The check the suite's servers (influxd, nats-server, postgres) are started with. */
describe('a started server is the one listening', () => {
  it('tells the process that listens on a port from another that only reaches it', async () => {
    const mine = createServer().listen(0, '127.0.0.1');
    await new Promise((r) => mine.once('listening', r));
    const port = (mine.address() as AddressInfo).port;
    const other = spawn(process.execPath, ['-e', "require('net').createServer().listen(0, '127.0.0.1', function () { console.log(this.address().port) })"], { stdio: ['ignore', 'pipe', 'ignore'] });
    try {
      let said = '';
      other.stdout!.on('data', (d: Buffer) => (said += d.toString()));
      const theirs = Number(await waitFor(() => said.trim(), 10_000, 'the other process listening'));
      expect(await listensOn(process.pid, port)).toBe(true);
      expect(await listensOn(other.pid, port)).toBe(false);
      expect(await listensOn(other.pid, theirs)).toBe(true);
      expect(await listensOn(process.pid, theirs)).toBe(false);
    } finally {
      other.kill();
      mine.close();
    }
  });
});

import { describe, expect, it } from 'vitest';
import { lookupLane } from '../../services/name-lookups.ts';

/** A resolver that answers only when told: a dead DNS server holds each lookup for its whole timeout. */
function heldResolver() {
  const held: (() => void)[] = [];
  const asked: string[] = [];
  const lookup = (hostname: string, _o: object, cb: (err: null, address: string, family: number) => void) => {
    asked.push(hostname);
    if (hostname.includes(':') || /^\d/.test(hostname)) return cb(null, hostname, 4);
    held.push(() => cb(null, '192.0.2.1', 4));
  };
  return { lookup, held, asked };
}

describe('name lookups in turns', () => {
  it('runs at most as many lookups at once as the lane is wide, refuses at once past the waiting bound, and looks up no IP', async () => {
    const dns = heldResolver();
    const lane = lookupLane({ lanes: 2, maxWaiting: 3, lookup: dns.lookup as never });
    const answers: (string | Error)[] = [];
    const ask = (name: string) => lane.lookup(name, {}, (err, address) => answers.push(err ?? String(address)));
    for (let i = 0; i < 6; i++) ask(`h${i}.example`);
    await new Promise((r) => setImmediate(r));
    expect(dns.asked).toEqual(['h0.example', 'h1.example']);
    expect(lane.stats()).toMatchObject({ running: 2, waiting: 3, refused: 1 });
    expect(answers).toHaveLength(1);
    expect((answers[0] as NodeJS.ErrnoException).code).toBe('EAI_AGAIN');
    // an address is no name: it does not wait behind the held lookups
    ask('198.51.100.7');
    expect(answers.at(-1)).toBe('198.51.100.7');
    // as each answer comes, the next waiting name is looked up
    for (let n = 0; n < 5; n++) {
      dns.held.shift()!();
      await new Promise((r) => setImmediate(r));
    }
    expect(dns.asked.filter((h) => h.endsWith('.example'))).toEqual(['h0.example', 'h1.example', 'h2.example', 'h3.example', 'h4.example']);
    expect(answers.filter((a) => a === '192.0.2.1')).toHaveLength(5);
    expect(lane.stats()).toEqual({ running: 0, waiting: 0, done: 5, refused: 1 });
  });

  it('answers a lookup its resolver refuses outright (it throws) with that error, and frees its turn', async () => {
    const lane = lookupLane({ lanes: 1, maxWaiting: 1, lookup: (() => { throw Object.assign(new TypeError('bad hostname'), { code: 'ERR_INVALID_ARG_TYPE' }); }) as never });
    const got = await new Promise<NodeJS.ErrnoException | null>((r) => lane.lookup('x.example', {}, (err) => r(err)));
    expect(got?.code).toBe('ERR_INVALID_ARG_TYPE');
    await new Promise((r) => setImmediate(r));
    expect(lane.stats()).toMatchObject({ running: 0, waiting: 0 });
  });

  it('takes the options-less form (hostname, callback) as node does', async () => {
    const dns = heldResolver();
    const lane = lookupLane({ lanes: 1, maxWaiting: 1, lookup: dns.lookup as never });
    const got = new Promise((r) => lane.lookup('a.example', ((_e: unknown, address: string) => r(address)) as never));
    await new Promise((r) => setImmediate(r));
    dns.held.shift()!();
    expect(await got).toBe('192.0.2.1');
  });
});

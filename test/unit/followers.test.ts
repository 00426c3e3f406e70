import fc from 'fast-check';
import { QlobberTrue } from 'qlobber';
import { describe, expect, it } from 'vitest';
import { Followers } from '../../gateway/followers.ts';
import { filterMatches } from '../../gateway/topics.ts';

describe('an MQTT filter matched against a topic', () => {
  it.each([
    ['v1/E/d/telemetry', 'v1/E/d/telemetry', true],
    ['v1/E/d/+', 'v1/E/d/telemetry', true],
    ['v1/E/d/#', 'v1/E/d/telemetry', true],
    ['v1/E/d/telemetry/#', 'v1/E/d/telemetry', true],
    ['v1/E/d/+/#', 'v1/E/d/telemetry', true],
    ['#', 'v1/E/d/telemetry', true],
    ['v1/E/d', 'v1/E/d/telemetry', false],
    ['v1/E/d/command', 'v1/E/d/telemetry', false],
    ['v1/E/d/+/+', 'v1/E/d/telemetry', false],
    ['v1/E/d/telemetry/x', 'v1/E/d/telemetry', false],
    ['v1/E/d/', 'v1/E/d/telemetry', false],
    ['v1/E/d/#/x', 'v1/E/d/telemetry', false],
    ['+/E/d/telemetry', '$refused/E/d/telemetry', false],
    ['#', '$refused', false],
  ])('%s against %s: %s', (filter, topic, yes) => expect(filterMatches(filter, topic)).toBe(yes));

  it("agrees with the matcher aedes routes by (qlobber, as aedes-persistence sets it up)", () => {
    const level = fc.constantFrom('v1', 'E', 'd', 'telemetry', 'status', 'x');
    const topic = fc.array(level, { minLength: 1, maxLength: 5 }).map((l) => l.join('/'));
    const filter = fc
      .tuple(fc.array(fc.oneof(level, fc.constant('+')), { minLength: 0, maxLength: 5 }), fc.boolean())
      .filter(([l, some]) => l.length > 0 || some)
      .map(([l, some]) => [...l, ...(some ? ['#'] : [])].join('/'));
    fc.assert(
      fc.property(filter, topic, (f, t) => {
        const q = new QlobberTrue({ separator: '/', wildcard_one: '+', wildcard_some: '#' });
        q.add(f);
        expect(filterMatches(f, t)).toBe(q.test(t));
      }),
      { numRuns: 3000 },
    );
  });
});

describe("who follows a device's own messages", () => {
  it('is a device one of whose sessions subscribed to a filter that takes its telemetry or status, and stays one', () => {
    const f = new Followers();
    f.granted('E', 'd', 'v1/E/d/command');
    f.granted('E', 'd', 'v1/E/d/reject');
    expect(f.followed('d')).toBe(false);
    f.granted('E', 'd', 'v1/E/d/status');
    expect(f.followed('d')).toBe(true);
    f.granted('E', 'e', 'v1/E/e/#');
    expect(f.followed('e')).toBe(true);
    expect(f.followed('other')).toBe(false);
  });
});

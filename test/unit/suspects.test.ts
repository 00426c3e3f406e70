import { describe, expect, it } from 'vitest';
import { Suspects } from '../../services/pipeline/suspects.ts';

const msg = (deviceId: string, text: string) => ({ deviceId, payload: Buffer.from(text) });

describe('messages that may end the reading pipeline', () => {
  it('knows the messages of the batch being judged as suspects, by device and content, until cleared', () => {
    const s = new Suspects();
    s.suspect([msg('d1', 'a'), msg('d2', 'b')], 0);
    expect(s.verdict('d1', Buffer.from('a'), 1).verdict).toBe('suspect');
    // the same content from another device, or other content from the same device, is not
    expect(s.verdict('d2', Buffer.from('a'), 1).verdict).toBeUndefined();
    expect(s.verdict('d1', Buffer.from('c'), 1).verdict).toBeUndefined();
    expect(s.verdict('d9', Buffer.from('a'), 1).verdict).toBeUndefined();
    s.cleared('d1', Suspects.hashOf(Buffer.from('a')));
    expect(s.verdict('d1', Buffer.from('a'), 1).verdict).toBeUndefined();
    expect(s.size()).toBe(1);
  });

  it('holds back a message convicted (the thread ended with it alone in flight) for good', () => {
    const s = new Suspects();
    s.suspect([msg('d1', 'a')], 0);
    const { hash } = s.verdict('d1', Buffer.from('a'), 1);
    s.convicted('d1', hash!);
    expect(s.verdict('d1', Buffer.from('a'), 10 ** 12).verdict).toBe('held back');
    expect(s.size()).toBe(0);
  });

  it('forgets a suspect not sent again within its time', () => {
    const s = new Suspects(1000);
    s.suspect([msg('d1', 'a')], 0);
    expect(s.verdict('d1', Buffer.from('a'), 999).verdict).toBe('suspect');
    expect(s.verdict('d1', Buffer.from('a'), 1000).verdict).toBeUndefined();
    expect(s.size()).toBe(0);
  });

  it('holds back at most its bound, letting the oldest go first', () => {
    const s = new Suspects(1000, 2);
    for (const [d, t] of [['d1', 'a'], ['d2', 'b'], ['d3', 'c']]) s.convicted(d, Suspects.hashOf(Buffer.from(t)));
    expect(s.verdict('d1', Buffer.from('a'), 0).verdict).toBeUndefined();
    expect(s.verdict('d2', Buffer.from('b'), 0).verdict).toBe('held back');
    expect(s.verdict('d3', Buffer.from('c'), 0).verdict).toBe('held back');
  });
});

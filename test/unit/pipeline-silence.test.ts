import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { PipelineClient, type PipelineInit } from '../../services/pipeline/client.ts';
import { waitFor } from '../support/wait.ts';

const SILENT = fileURLToPath(new URL('../support/silent-pipeline.mjs', import.meta.url));

/**
 * A pipeline thread that runs but says nothing holds every reading and alarm, while the health
 * it said last still read "ok" (an outside probe held it 145 s with a condition; /api/health
 * said ok throughout).
 */
const quiet = () => {};
const options = (events: string[]) => ({
  settings: { dataDir: '/nonexistent', storeMemoryMb: 64 } as never,
  mode: 'thread' as const,
  entry: SILENT,
  silentAfterMs: 200,
  onSilence: (ms: number | null) => events.push(ms === null ? 'answers' : 'silent'),
  onOutcomes: async () => {},
  onForward: quiet,
  onEvaluated: quiet,
  onFault: (part: string) => events.push(`fault ${part}`),
  onBuffer: quiet,
  onExit: () => events.push('ended'),
  onRestarted: () => events.push('restarted'),
  log: { info: quiet, warn: quiet, error: quiet },
});
const alert = { id: 'a1', enterpriseId: 'E1', deviceId: 'd1', rule: 'r', severity: 'major', metric: 'm', pointId: null, message: '' } as never;

describe('a reading pipeline that stops answering', () => {
  // an outside probe saw the silence cleared a second after the thread crashed, 7 s before a new one ran
  it('is not said to answer again when it ends, only once a new thread speaks', async () => {
    const events: string[] = [];
    const client = new PipelineClient(options(events));
    await client.start(async (): Promise<PipelineInit> => ({ registry: {} as never, world: {} as never, baselines: [], open: [], now: 0 }));
    try {
      await waitFor(() => events.includes('silent'), 10_000, 'silent');
      await client.telemetry.annotate(alert, 'end', 0);
      await waitFor(() => events.includes('answers'), 10_000, 'answering again');
      expect(events.slice(0, 4)).toEqual(['silent', 'ended', 'restarted', 'answers']);
    } finally {
      await client.stop();
    }
  });

  it('is said to be silent (health not ok, the silence told), and told again once it answers', async () => {
    const silences: (number | null)[] = [];
    const faults: string[] = [];
    const quiet = () => {};
    const client = new PipelineClient({
      settings: { dataDir: '/nonexistent', storeMemoryMb: 64 } as never,
      mode: 'thread',
      entry: SILENT,
      silentAfterMs: 200,
      onSilence: (ms) => silences.push(ms),
      onOutcomes: async () => {},
      onForward: quiet,
      onEvaluated: quiet,
      onFault: (part) => faults.push(part),
      onBuffer: quiet,
      onExit: quiet,
      onRestarted: quiet,
      log: { info: quiet, warn: quiet, error: quiet },
    });
    const init = async (): Promise<PipelineInit> => ({ registry: {} as never, world: {} as never, baselines: [], open: [], now: 0 });
    await client.start(init);
    try {
      await waitFor(() => silences.length >= 1, 10_000);
      expect(silences[0]).toBeGreaterThanOrEqual(200);
      // it says nothing on its own: silent it stays, and says so
      expect(client.telemetry.health()).toMatchObject({ ok: false, error: expect.stringMatching(/has not answered for \d+ s/) });

      // asked something, it answers
      await client.telemetry.annotate({ id: 'a1', enterpriseId: 'E1', deviceId: 'd1', rule: 'r', severity: 'major', metric: 'm', pointId: null, message: '' } as never, 'raised', 0);
      await waitFor(() => silences.length >= 2, 10_000);
      expect(silences[1]).toBeNull();
      expect(faults).toEqual([]);
    } finally {
      await client.stop();
    }
  });

  // an outside probe: registrations queued work ahead of the readings, PUBACKs waited 93 s, and
  // the thread, answering all along, was said to be fine
  it('is not said to be fine while readings it was given wait unstored, though it answers', async () => {
    const events: string[] = [];
    const client = new PipelineClient(options(events));
    await client.start(async (): Promise<PipelineInit> => ({ registry: {} as never, world: {} as never, baselines: [], open: [], now: 0 }));
    try {
      // asked something, it answers, and says its health from then on
      await client.telemetry.annotate(alert, 'raised', 0);
      await waitFor(() => client.telemetry.health().ok, 10_000, 'it answers');
      client.take('d1', Buffer.from('{"seq":1,"values":{"gas_lel":1}}'), 0, { taken() {}, failed() {} });
      await waitFor(() => /not stored yet/.test(client.telemetry.health().error ?? ''), 10_000, 'the wait said');
      expect(client.telemetry.health()).toMatchObject({ ok: false, handedOver: 1, error: expect.stringMatching(/handed to the reading pipeline \d+ s ago are not stored yet/) });
    } finally {
      await client.stop();
    }
  });
});

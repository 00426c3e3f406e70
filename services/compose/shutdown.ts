import type { AlertBook } from '../alerts/alert-book.ts';
import type { Forwarder } from '../forward/forwarder.ts';
import type { Channels } from '../notify/channels/channel.ts';
import type { Dispatcher } from '../notify/dispatcher.ts';
import type { LiveStream } from '../notify/live-stream.ts';
import type { Outbox } from '../notify/outbox.ts';
import type { Stores } from '../open-stores.ts';
import type { PipelineClient } from '../pipeline/client.ts';

/**
 * The service's stop, in the order that loses nothing: first no new input (timers, the registry's
 * watch, live followers, MQTT, fire panels, the API), then everything accepted is written (the
 * pipeline, the alert book), then told (dispatcher, outbox, uplinks), the stop audited, and the
 * stores closed last.
 */
export async function shutdown(p: {
  quiet: { stop(): void }[];
  following: { close(): void };
  live: Pick<LiveStream, 'close'>;
  /** each stops taking input (resolves once it has) */
  inputs: (() => unknown)[];
  pipeline: Pick<PipelineClient, 'stop'>;
  book: Pick<AlertBook, 'settled'>;
  stores: Stores;
  dispatcher: Pick<Dispatcher, 'idle'>;
  outbox: Pick<Outbox, 'stop'>;
  forwarder: Pick<Forwarder, 'stop'>;
  channels: Pick<Channels, 'close'>;
  clock: () => number;
}) {
  for (const q of p.quiet) q.stop();
  p.following.close();
  p.live.close();
  for (const stop of p.inputs) await stop();
  // everything accepted is on disk either way; a store known to be down is not waited for
  await p.pipeline.stop();
  await p.book.settled();
  // notices that cannot be written now are not waited for without end
  p.stores.outbox.stop();
  await p.dispatcher.idle();
  await p.outbox.stop();
  await p.forwarder.stop();
  await p.stores.audit.append({ at: p.clock(), actor: 'system', action: 'service.stopped', subject: 'service', detail: null });
  p.channels.close();
  await p.stores.close();
}

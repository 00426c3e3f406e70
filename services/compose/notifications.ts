import type { Logger } from 'pino';
import type { Alert, Transition } from '../alerts/model.ts';
import { channelHealth, channelHealthKey } from '../alerts/system-alerts.ts';
import type { Outcome } from '../../domain/types.ts';
import type { Metrics } from '../metrics.ts';
import { AckLinks } from '../notify/ack-links.ts';
import { ackLinkSecret } from '../notify/ack-link-secret.ts';
import { Channels } from '../notify/channels/channel.ts';
import { PhoneChannel } from '../notify/channels/phone.ts';
import { WebhookChannel } from '../notify/channels/webhook.ts';
import { Dispatcher } from '../notify/dispatcher.ts';
import { LiveStream } from '../notify/live-stream.ts';
import { Outbox } from '../notify/outbox.ts';
import { ToldUnits } from '../notify/told.ts';
import type { RoutingPolicy } from '../alerts/routing.ts';
import type { Stores } from '../open-stores.ts';
import type { Registry } from '../registry/registry.ts';
import type { Settings } from '../settings.ts';
import type { AppOptions } from '../app-options.ts';

/**
 * Everything that reaches people: the live stream, the channels (e-mail only where an SMTP server
 * is set), acknowledge links, and the notification path: dispatcher → outbox (the notification
 * log, from which "units told" is read) → channels.
 */
export async function composeNotifications(d: {
  settings: Settings;
  options: AppOptions['outbox'];
  registry: () => Registry;
  policy: (enterpriseId: string) => RoutingPolicy;
  stores: Pick<Stores, 'ackLinks' | 'outbox' | 'silences'>;
  /** record lines that change no alert (notification outcomes) */
  record(lines: Transition[]): Promise<void>;
  openAlerts(): Alert[];
  /** to MQTT subscribers and on-site alarm devices */
  publishMqtt(topic: string, payload: string): Promise<void>;
  /** where live alert events go (a cluster's worker: to the API nodes, over NATS) */
  live?: Pick<LiveStream, 'send'>;
  /** the key signing acknowledge links (a cluster's nodes share one); default: ACK_LINK_SECRET or DATA_DIR's */
  ackSecret?: Buffer;
  metrics: Metrics;
  raiseSystem: (o: Outcome) => void;
  clock: () => number;
  log: Logger;
}) {
  const { settings, registry, policy, stores, clock } = d;
  const log = d.log.child({ part: 'notify' });
  const live = new LiveStream();
  const channels = new Channels([
    // nodemailer loads only when e-mail is on
    ...(settings.SMTP_URL ? [new (await import('../notify/channels/email.ts')).EmailChannel(settings.SMTP_URL, settings.MAIL_FROM)] : []),
    new WebhookChannel(clock),
    new PhoneChannel('sms', registry, clock),
    new PhoneChannel('voice', registry, clock),
  ]);
  if (!settings.SMTP_URL) d.log.warn('e-mail is off (SMTP_URL is not set): units are reached by their webhooks, SMS and calls only');
  const publicUrl = settings.PUBLIC_URL.replace(/\/$/, '');
  const ackLinks = new AckLinks({ store: stores.ackLinks, secret: d.ackSecret ?? (await ackLinkSecret(settings)), publicUrl, ttlMs: settings.ACK_LINK_HOURS * 3_600_000, clock });
  const told = new ToldUnits(stores.outbox);
  const outbox = new Outbox({
    told,
    store: stores.outbox,
    registry,
    record: d.record,
    channels,
    clock,
    publicUrl,
    ...(settings.ACK_LINK_HOURS > 0 ? { ackLinks } : {}),
    policy,
    counters: d.metrics,
    log,
    ...d.options,
    // a channel that keeps failing is itself an alert, for the operators
    onChannelHealth: (unit, channel, failing, error) => d.raiseSystem(channelHealth(unit, channel, failing, error, clock())),
    channelAlertOpen: (unit, channel) => {
      const key = channelHealthKey(unit.id, channel);
      return d.openAlerts().some((a) => a.key === key);
    },
  });
  const dispatcher = new Dispatcher({
    registry,
    policy,
    record: d.record,
    told,
    openAlerts: d.openAlerts,
    live: d.live ?? live,
    outbox,
    silences: stores.silences,
    channelsOf: (unit) => channels.idsOf(unit),
    publishMqtt: d.publishMqtt,
    clock,
    log,
  });
  return { live, channels, ackLinks, told, outbox, dispatcher, publicUrl };
}

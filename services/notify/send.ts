import { alertFromJson, transitionFromJson } from '../alerts/model.ts';
import type { Registry } from '../registry/registry.ts';
import type { UnitConfig } from '../registry/schema.ts';
import { parseChannelId, RetryLater, type Channels } from './channels/channel.ts';
import { ackable, type AckLinks } from './ack-links.ts';
import { phoneOf, renderDigest, renderMessage, renderPhone, renderSilence, type Message } from './message.ts';
import type { NoticeBody, OutboxItem } from './outbox-store.ts';
import { failureText } from '../failure-text.ts';

/**
 * The send stage: one message (a digest when several items go together) rendered for people and
 * as an event for machines, over the unit's channel. Throws when the channel does not take it.
 */
export interface SendContext {
  channels: Channels;
  registry: Registry;
  publicUrl: string;
  /** absent: notifications carry no acknowledge links */
  ackLinks?: Pick<AckLinks, 'issue'>;
}

/** The changes that ask someone to act: their notifications carry an acknowledge link. */
const CALLS_TO_ACT = new Set(['raised', 'reactivated', 'severity_changed', 'escalated', 'reminded', 'flapping']);

/**
 * Resolves once the channel has taken the message, with `linkStored`: settles once the
 * acknowledge link's row is written (written while the message goes), and rejects if it cannot be.
 */
export async function sendMessage(ctx: SendContext, unit: UnitConfig, channelId: string, items: OutboxItem[], notificationId: string): Promise<{ linkStored: Promise<void> }> {
  const channel = ctx.channels.of(channelId);
  if (!channel) throw new Error(`no ${parseChannelId(channelId).kind} channel configured`);
  const event = items.length === 1 ? eventOf(items[0]) : { digest: true, count: items.length, events: items.map(eventOf) };
  const alerts = alertItems(ctx, items);
  const toAck = [...new Set(alerts.filter((i) => CALLS_TO_ACT.has(i.transition.type) && ackable(i.alert)).map((i) => i.alert.id))];
  // a voice call cannot carry a link
  const issued =
    ctx.ackLinks && toAck.length && parseChannelId(channelId).kind !== 'voice'
      ? ctx.ackLinks.issue(notificationId, { unitId: unit.id, channel: channelId, recipient: channel.target(unit, channelId) }, toAck)
      : undefined;
  // the link's row is written while the message goes (a tap that comes first waits for it)
  issued?.stored.catch(() => {});
  const ackLink = issued?.link;
  const message = withLink(render(ctx, items), ackLink);
  const phone = alerts.length ? renderPhone(alerts, ackLink) : phoneOf(message);
  try {
    await channel.send(unit, channelId, { message, event, notificationId, phone, ...(ackLink ? { ackLink } : {}) });
    return { linkStored: issued?.stored ?? Promise.resolve() };
  } catch (e) {
    // a receiver's error page may echo what it was sent: the link is a key, and the error goes to
    // the log and the alert's record
    if (!ackLink || !(e instanceof Error)) throw e;
    const token = ackLink.slice(ackLink.lastIndexOf('/') + 1);
    // a new error: some errors' messages cannot be set (a fetch timeout's DOMException), and the
    // timeout must be what the record says, not a TypeError about a getter. Its causes are said
    // here, scrubbed too, and not kept (the outbox would say them again as they were)
    const message = failureText(e).replaceAll(ackLink, '[acknowledge link]').replaceAll(token, '[token]');
    if (e instanceof RetryLater) throw Object.assign(e, { message, cause: undefined });
    throw new Error(message);
  }
}

function alertItems({ registry }: SendContext, items: OutboxItem[]) {
  return items.flatMap((i) =>
    i.body.notice === 'alert' ? [{ alert: alertFromJson(i.body.alert), transition: transitionFromJson(i.body.transition), enterpriseName: registry.enterprises.get(i.body.alert.enterpriseId)?.name ?? i.body.alert.enterpriseId }] : [],
  );
}

function withLink(m: Message, link: string | undefined): Message {
  if (!link) return m;
  return { title: m.title, text: `${m.text}\n\n一键确认（无需登录，仅一次）/ Acknowledge (one tap, once): ${link}`, markdown: `${m.markdown}\n\n[一键确认 / Acknowledge](${link})` };
}

/** Where a channel reaches a unit, for the record (an address, a host), never a secret. */
export function targetOf(channels: Channels, unit: UnitConfig, channelId: string): string {
  return channels.of(channelId)?.target(unit, channelId) ?? channelId;
}

function render({ registry, publicUrl }: SendContext, items: OutboxItem[]): Message {
  const name = (id: string) => registry.enterprises.get(id)?.name ?? id;
  const deviceName = (id: string) => registry.devices.get(id)?.device.name;
  const bodies = items.map((i) => i.body);
  if (bodies.length === 1) {
    const b = bodies[0];
    if (b.notice === 'summary') return { title: b.title, text: b.text, markdown: b.markdown };
    if (b.notice === 'silence') return renderSilence({ ...b.silence, enterpriseName: name(b.silence.enterpriseId) }, b.phase);
    const alert = alertFromJson(b.alert);
    return renderMessage(alert, transitionFromJson(b.transition), { enterpriseName: name(alert.enterpriseId), deviceName: deviceName(alert.deviceId), link: `${publicUrl}/#/alerts/${alert.id}` });
  }
  const alerts = bodies.filter((b): b is Extract<NoticeBody, { notice: 'alert' }> => b.notice === 'alert');
  return renderDigest(
    alerts.map((b) => ({ alert: alertFromJson(b.alert), transition: transitionFromJson(b.transition), enterpriseName: name(b.alert.enterpriseId), deviceName: deviceName(b.alert.deviceId) })),
    `${publicUrl}/#/alerts`,
  );
}

/** What machines read of one item: an alert change as the alert with its transition, else the notice. */
const eventOf = (i: OutboxItem) => (i.body.notice === 'alert' ? { ...i.body.alert, transition: i.body.transition } : i.body);

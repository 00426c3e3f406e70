import { alertFromJson, transitionFromJson } from '../alerts/model.ts';
import type { Registry } from '../registry/registry.ts';
import type { UnitConfig } from '../registry/schema.ts';
import { parseChannelId, type Channels } from './channels/channel.ts';
import { renderDigest, renderMessage, renderSilence, type Message } from './message.ts';
import type { NoticeBody, OutboxItem } from './outbox-store.ts';

/**
 * The send stage: one message (a digest when several items go together) rendered for people and
 * as an event for machines, over the unit's channel. Throws when the channel does not take it.
 */
export interface SendContext {
  channels: Channels;
  registry: Registry;
  publicUrl: string;
}

export async function sendMessage(ctx: SendContext, unit: UnitConfig, channelId: string, items: OutboxItem[], notificationId: string): Promise<void> {
  const channel = ctx.channels.of(channelId);
  if (!channel) throw new Error(`no ${parseChannelId(channelId).kind} channel configured`);
  const event = items.length === 1 ? eventOf(items[0]) : { digest: true, count: items.length, events: items.map(eventOf) };
  await channel.send(unit, channelId, { message: render(ctx, items), event, notificationId });
}

/** Where a channel reaches a unit, for the record (an address, a host), never a secret. */
export function targetOf(channels: Channels, unit: UnitConfig, channelId: string): string {
  return channels.of(channelId)?.target(unit, channelId) ?? channelId;
}

function render({ registry, publicUrl }: SendContext, items: OutboxItem[]): Message {
  const name = (id: string) => registry.enterprises.get(id)?.name ?? id;
  const bodies = items.map((i) => i.body);
  if (bodies.length === 1) {
    const b = bodies[0];
    if (b.notice === 'summary') return { title: b.title, text: b.text, markdown: b.markdown };
    if (b.notice === 'silence') return renderSilence({ ...b.silence, enterpriseName: name(b.silence.enterpriseId) }, b.phase);
    const alert = alertFromJson(b.alert);
    return renderMessage(alert, transitionFromJson(b.transition), { enterpriseName: name(alert.enterpriseId), link: `${publicUrl}/#/alerts/${alert.id}` });
  }
  const alerts = bodies.filter((b): b is Extract<NoticeBody, { notice: 'alert' }> => b.notice === 'alert');
  return renderDigest(
    alerts.map((b) => ({ alert: alertFromJson(b.alert), transition: transitionFromJson(b.transition), enterpriseName: name(b.alert.enterpriseId) })),
    `${publicUrl}/#/alerts`,
  );
}

/** What machines read of one item: an alert change as the alert with its transition, else the notice. */
const eventOf = (i: OutboxItem) => (i.body.notice === 'alert' ? { ...i.body.alert, transition: i.body.transition } : i.body);

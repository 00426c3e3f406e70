import { deviceTopic, filterMatches } from './topics.ts';

/**
 * Who follows a device's own telemetry and status. A device may subscribe under its own topics
 * only (a site display on the device's account following its readings), so its messages can reach
 * no one else: for a device none of whose sessions asked, the broker's routing of each message (the
 * retained store, the offline sessions' and the live subscriptions' lookups, about a quarter of
 * what the main thread allocates per reading) finds nobody and is skipped.
 *
 * Once a device has followed, it is routed from then on: a persistent session keeps its
 * subscriptions while away, and the broker says nothing of a session it lets go. Bounded by the
 * registry's devices.
 */
export class Followers {
  private readonly following = new Set<string>();

  /** A subscription granted to one of the device's sessions. */
  granted(enterpriseId: string, deviceId: string, filter: string): void {
    if (this.following.has(deviceId)) return;
    if (filterMatches(filter, deviceTopic(enterpriseId, deviceId, 'telemetry')) || filterMatches(filter, deviceTopic(enterpriseId, deviceId, 'status'))) this.following.add(deviceId);
  }

  /** Could a subscriber be waiting for this device's messages? */
  followed(deviceId: string): boolean {
    return this.following.has(deviceId);
  }
}

import type { Entry } from './items.ts';

/** One platform format: delivers one queue entry, or throws (PlatformRefused when it answered no). */
export interface Sender {
  send(entry: Entry): Promise<void>;
  close(): Promise<void>;
  /**
   * Publish the audit trail's head (where the format has a place for it: the MQTT bridge), so the
   * platform keeps a copy outside this service and a trail cut short is found.
   */
  auditHead?(head: { n: number; hash: string; at: number }): Promise<void>;
}

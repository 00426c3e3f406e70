import type { Entry } from './items.ts';

/** One platform format: delivers one queue entry, or throws (PlatformRefused when it answered no). */
export interface Sender {
  send(entry: Entry): Promise<void>;
  close(): Promise<void>;
}

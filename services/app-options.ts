import type { Logger } from 'pino';

/** How a caller of `startApp` (npm start, the tests, the bench) may run the service. */
export interface AppOptions {
  clock?: () => number;
  logger?: Logger;
  /** how often time-driven rules are re-checked; 0 leaves it to the caller of `tick()` */
  tickMs?: number;
  /** reload the registry when its file changes (SIGHUP always reloads) */
  watchRegistry?: boolean;
  /** the outbox's first retry delay (doubling each time) and how often it looks for due work */
  outbox?: { baseDelayMs?: number; maxDelayMs?: number; pollMs?: number; failuresBeforeAlert?: number };
  /** upstream platforms: first retry delay (doubling) and the longest wait between tries */
  forward?: { baseDelayMs?: number; maxDelayMs?: number };
  /** run the scheduled jobs (escalation, silences, daily summary) on their own; tests drive them */
  schedule?: boolean;
  /**
   * where the reading pipeline runs: a worker thread (default), or this thread; `entry` is the
   * thread's code when it is not beside this file (tests run the bundle `npm start` runs, or a
   * `.ts` file through tsx);
   * `silentAfterMs`: how long a running one may say nothing before it is said to be silent (5 s)
   */
  pipeline?: { mode?: 'thread' | 'inline'; entry?: string; maxInFlight?: number; silentAfterMs?: number };
  /** the registry file's check thread's code, when it is not beside this file (tests run the bundle) */
  registryThread?: string;
  /**
   * `crowdedAt`: messages of all devices taken and unanswered past which each connection is read
   * one at a time (gateway/frame-guard.ts); `maxUnsentBytes`: bytes waiting for a connection past
   * which it is closed (gateway/output-bound.ts)
   */
  gateway?: { crowdedAt?: number; maxUnsentBytes?: number };
}

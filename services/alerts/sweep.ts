import type { AlertBook } from './alert-book.ts';
import { escalate } from './escalation.ts';
import type { Silence, Silences } from './silences.ts';
import type { RoutingPolicy } from './routing.ts';

/**
 * What the clock alone changes, swept every few seconds: alerts nobody handled climb the chain
 * (escalation, reminders, overdue), and silences start and end (each announced).
 */
export interface SweepDeps {
  book: AlertBook;
  silences: Silences;
  policy(enterpriseId: string): RoutingPolicy;
  clock(): number;
  /** whether any unit has been told of the alert (the notification log knows) */
  anyoneTold(alertId: string): boolean;
  announceSilence(s: Silence, phase: 'started' | 'ended'): void;
}

/** Silences that started or ended since the last look, announced. */
export async function silencesDue(deps: Pick<SweepDeps, 'silences' | 'clock' | 'announceSilence'>): Promise<void> {
  const { started, ended } = await deps.silences.due(deps.clock());
  for (const s of started) deps.announceSilence(s, 'started');
  for (const s of ended) deps.announceSilence(s, 'ended');
}

export async function sweep(deps: SweepDeps): Promise<void> {
  const now = deps.clock();
  await deps.book.sweep((a) => escalate(a, deps.policy(a.enterpriseId), now, deps.anyoneTold(a.id)));
  await silencesDue(deps);
}

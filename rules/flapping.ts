import type { FlappingConfig } from './schema.ts';

/**
 * Flapping: a condition that comes and goes more than `changes` times within `windowS` keeps its
 * alert open, marked flapping, instead of raising and clearing again and again. The alert clears
 * once the condition has stayed away for a whole window.
 */
export const DEFAULT_FLAPPING: FlappingConfig = { changes: 6, windowS: 600 };

/** Record one change (raise or clear) and tell whether the key now flaps. */
export function noteChange(history: number[] | undefined, at: number, cfg: FlappingConfig): { history: number[]; flapping: boolean } {
  const windowMs = cfg.windowS * 1000;
  const kept = (history ?? []).filter((t) => at - t < windowMs);
  kept.push(at);
  return { history: kept, flapping: kept.length >= cfg.changes };
}

/** A held clear is released when the condition has stayed away for the window. */
export const clearIsDue = (pendingSince: number, now: number, cfg: FlappingConfig) => now - pendingSince >= cfg.windowS * 1000;

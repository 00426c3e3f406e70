import { nameLookups, type Metrics } from '../metrics.ts';
import { laneNameLookups } from '../name-lookups.ts';
import { payFirstUseCosts } from '../first-use.ts';

/**
 * This process's outgoing HTTP (webhooks, robots, SMS, platforms, InfluxDB): host name lookups take
 * turns in their share of the thread pool the stores use (counted in /metrics), and the first
 * fetch's and first stack trace's costs are paid now, not by the first alarm's webhook. For the
 * single process and for a cluster's workers, which deliver the notifications there.
 */
export function composeOutbound(metrics: Pick<Metrics, 'registry'>): void {
  nameLookups(metrics.registry, laneNameLookups().stats);
  void payFirstUseCosts();
}

import type { Registry } from '../registry/registry.ts';
import type { Placement } from './alert-book.ts';
import { policyFor, type RoutingPolicy } from './routing.ts';
import { SYSTEM } from './system-alerts.ts';

/** The routing policy of an enterprise: the registry's, its industry's, then its own overrides. */
export function enterprisePolicy(registry: Registry, enterpriseId: string): RoutingPolicy {
  const ent = registry.enterprises.get(enterpriseId);
  return policyFor(registry.file.routing, ent?.industry, ent?.routing);
}

/** Where an enterprise's alerts belong: its region and industry, and how they are reviewed. */
export function placementOf(registry: Registry, enterpriseId: string): Placement {
  const ent = registry.enterprises.get(enterpriseId);
  const p = enterprisePolicy(registry, enterpriseId);
  // the service's own alarms are not the enterprises' to report on
  const review = enterpriseId === SYSTEM ? { from: null, withinMs: 0 } : { from: p.reviewFrom, withinMs: p.feedbackWithinH * 3_600_000 };
  return { region: ent?.region ?? '', industry: ent?.industry ?? (enterpriseId === SYSTEM ? 'system' : ''), review };
}
